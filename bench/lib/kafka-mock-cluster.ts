import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * librdkafka's mock cluster with one topic of `partitions` partitions, from bench/lib/kafka-mock-cluster.c
 * (compiled here once, into `binDir`). kcat's mock, which the tests use, auto-creates topics with
 * a few partitions and keeps about 5 MiB a partition: a replay of millions of events needs the
 * topic spread over more partitions than that. Needs gcc and librdkafka's headers
 * (`apt-get install gcc librdkafka-dev`); fails saying so when they are missing.
 */
export async function startKafkaMockCluster(root: string, binDir: string, topic: string, partitions: number): Promise<{ bootstrap: string; pid: number; stop: () => void }> {
  const source = join(root, 'bench', 'lib', 'kafka-mock-cluster.c');
  const binary = join(binDir, 'kafka-mock-cluster');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(binDir, { recursive: true });
    try {
      execFileSync('gcc', ['-O2', '-o', binary, source, '-lrdkafka'], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`cannot build the Kafka mock cluster (apt-get install gcc librdkafka-dev): ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`);
    }
  }
  // It serves until its stdin closes: a bench that dies takes the cluster with it.
  const child: ChildProcess = spawn(binary, [topic, String(partitions)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let said = '';
  child.stderr!.on('data', (chunk: Buffer) => void (said += chunk.toString()));
  const bootstrap = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`the Kafka mock cluster exited with ${code}: ${said.trim()}`)));
    child.once('error', reject);
  });
  return { bootstrap, pid: child.pid!, stop: () => child.stdin!.end() };
}
