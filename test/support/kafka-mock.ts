import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A Kafka cluster without a JVM: librdkafka's mock cluster, started inside `kcat`, speaks the
 * Kafka protocol on loopback (used by the Kafka tests and the stream benchmark). Ready once kcat
 * says where the mock listens (its bootstrap address replaces the placeholder broker).
 */
export function startKafkaMock(): Promise<{ bootstrap: string; process: ChildProcess }> {
  const child = spawn('kcat', ['-C', '-b', '127.0.0.1:1', '-X', 'test.mock.num.brokers=1', '-t', 'warmup', '-o', 'beginning', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let said = '';
    const fail = (why: string) => {
      clearTimeout(guard);
      child.kill();
      reject(new Error(`kcat did not start a mock cluster (apt-get install kcat): ${why}`));
    };
    // A deadline against a kcat that hangs without saying anything, not a wait.
    const guard = setTimeout(() => fail(`nothing said in 30 s:\n${said}`), 30_000);
    // Read to the end, always: a pipe left full would stall kcat.
    child.stderr!.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      const match = /replaced with (\S+)/.exec(said);
      if (match) {
        clearTimeout(guard);
        resolve({ bootstrap: match[1]!, process: child });
      }
    });
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`it exited with ${code}:\n${said}`));
  });
}
