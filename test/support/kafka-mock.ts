import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A Kafka cluster without a JVM: librdkafka's mock cluster, started inside `kcat`, speaks the
 * Kafka protocol on loopback (used by the Kafka tests and the stream benchmark).
 */
export async function startKafkaMock(): Promise<{ bootstrap: string; process: ChildProcess }> {
  const logFile = path.join(mkdtempSync(path.join(tmpdir(), 'kafka-mock-')), 'mock.log');
  const child = spawn('sh', ['-c', `exec kcat -C -b 127.0.0.1:1 -X test.mock.num.brokers=1 -t warmup -o beginning -q >/dev/null 2>${logFile}`]);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const match = existsSync(logFile) ? /replaced with (\S+)/.exec(readFileSync(logFile, 'utf8')) : null;
    if (match) return { bootstrap: match[1]!, process: child };
  }
  child.kill();
  throw new Error('kcat did not start a mock cluster (apt-get install kcat)');
}
