import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { openProject, tempDir } from './helpers.js';
import { requireService, tcpOpen } from './services.js';
import { startKafkaMock } from './support/kafka-mock.js';
import { brokerProject, events, runWorker } from './stream-helpers.js';

let kafkaMock: Awaited<ReturnType<typeof startKafkaMock>> | undefined;
const kafkaUp = await requireService('Kafka (librdkafka mock cluster via kcat)', async () => {
  kafkaMock = await startKafkaMock();
});
const natsUp = await requireService('NATS JetStream', () => tcpOpen('127.0.0.1', 4222));
afterAll(() => kafkaMock?.process.kill());

async function assertOnce(dir: string, dataDir: string, events: number): Promise<void> {
  const ws = await openProject(dir, { dataDir });
  try {
    const raw = await ws.engine.queryJson('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events_raw');
    const ops = await ws.engine.queryJson('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM live_operations');
    const kpis = await ws.engine.queryJson('SELECT operations FROM live_kpis');
    expect(raw).toEqual([{ n: String(events), ids: String(events) }]);
    expect(ops).toEqual([{ n: String(events), ids: String(events) }]);
    expect(kpis).toEqual([{ operations: String(events) }]);
  } finally {
    ws.close();
  }
}

describe.runIf(kafkaUp)('Kafka source', () => {
  it('reads a Kafka topic with offsets held in the sinks: exactly once through SIGKILLs', async () => {
    const topic = `clicks_${randomBytes(3).toString('hex')}`;
    const kafka = new Kafka({ brokers: [kafkaMock!.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const values = events(4000);
    for (let i = 0; i < values.length; i += 500) {
      await producer.send({ topic, messages: values.slice(i, i + 500).map((value, k) => ({ key: String(i + k), value })) });
    }
    await producer.disconnect();
    const dir = brokerProject(`input: { kind: 'kafka', brokers: ['${kafkaMock!.bootstrap}'], topic: '${topic}' }`);
    const dataDir = tempDir();
    for (const failpoint of ['after-sink:lake@2', 'after-sink:serving@2']) {
      const crashed = runWorker(dir, dataDir, { failpoint, maxBatch: 600 });
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    }
    const done = runWorker(dir, dataDir, { maxBatch: 600 });
    expect(done.code, done.stderr).toBe(0);
    await assertOnce(dir, dataDir, 4000);
  });
});

describe.runIf(natsUp)('NATS JetStream source', () => {
  it('reads a JetStream stream by sequence with offsets held in the sinks: exactly once through SIGKILLs', async () => {
    const stream = `CLICKS_${randomBytes(3).toString('hex')}`;
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.events`] });
    const js = jetstream(nc);
    const values = events(3000);
    for (let i = 0; i < values.length; i += 250) await Promise.all(values.slice(i, i + 250).map((v) => js.publish(`${stream}.events`, v)));
    const dir = brokerProject(`input: { kind: 'nats', servers: '127.0.0.1:4222', stream: '${stream}' }`);
    const dataDir = tempDir();
    try {
      for (const failpoint of ['after-sink:lake@2', 'before-sink:serving@3']) {
        const crashed = runWorker(dir, dataDir, { failpoint, maxBatch: 500 });
        expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      }
      const done = runWorker(dir, dataDir, { maxBatch: 500 });
      expect(done.code, done.stderr).toBe(0);
      await assertOnce(dir, dataDir, 3000);
    } finally {
      await jsm.streams.delete(stream);
      await nc.close();
    }
  });
});
