import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { openProject, tempDir } from './helpers.js';
import { freePort, requireService, tcpOpen } from './services.js';
import { startKafkaMock } from './support/kafka-mock.js';
import { brokerProject, events, runWorker } from './stream-helpers.js';
import { natsInput } from '../src/connectors/inputs/nats.js';
import type { RecordSink, StreamInput } from '../src/connectors/inputs/types.js';

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

/** A new JetStream stream holding `values` under `PREFIX_xxxxxx.events`, removed by `remove`. */
/** A NATS server of this test's own (JetStream, on a free port) started with `auth` (its user and password, or token), once it listens. */
async function natsServer(auth: readonly string[]) {
  const port = await freePort();
  const server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', tempDir(), ...auth], { stdio: 'ignore' });
  for (const deadline = Date.now() + 10_000; ; ) {
    if (await tcpOpen('127.0.0.1', port).then(() => true, () => false)) break;
    if (Date.now() > deadline) {
      server.kill();
      throw new Error(`nats-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, server };
}

async function natsStream(prefix: string, values: readonly string[], options: { servers: string; user?: string; pass?: string; token?: string } = { servers: '127.0.0.1:4222' }) {
  const stream = `${prefix}_${randomBytes(3).toString('hex')}`;
  const nc = await connect(options);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.events`] });
  const js = jetstream(nc);
  for (let i = 0; i < values.length; i += 2000) await Promise.all(values.slice(i, i + 2000).map((v) => js.publish(`${stream}.events`, v)));
  const remove = async () => {
    await jsm.streams.delete(stream);
    await nc.close();
  };
  return { stream, jsm, remove };
}

/** What the NATS input reads from `from` into a sink that keeps each offset and value. */
async function readInto(input: StreamInput, from: number, max: number, timestamps: number[] = []): Promise<{ offset: number; value: string }[]> {
  const read: { offset: number; value: string }[] = [];
  const batch: RecordSink = {
    get count() {
      return read.length;
    },
    add: (_partition, offset, timestamp, source, start = 0, end = source.length) => {
      read.push({ offset, value: Buffer.from(source.subarray(start, end)).toString() });
      timestamps.push(timestamp);
    },
    reject: () => expect.unreachable('a JSON message is never rejected'),
  };
  await input.read(new Map([[0, from]]), max, batch);
  return read;
}

const openNats = (stream: string, servers = '127.0.0.1:4222') => natsInput.create(natsInput.config.parse({ kind: 'nats', servers, stream }), { job: 'test', log: undefined as never, baseDir: '.', stateDir: '.' });

describe.runIf(natsUp)('NATS JetStream source', () => {
  it('reads a JetStream stream by sequence with offsets held in the sinks: exactly once through SIGKILLs', async () => {
    const { stream, remove } = await natsStream('CLICKS', events(3000));
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
      await remove();
    }
  });

  it('reads from the position it is given, and makes its consumer again when the server deleted it; closing leaves no consumer behind', async () => {
    const values = events(1000);
    const publishing = Date.now();
    const { stream, jsm, remove } = await natsStream('READ', values);
    const published = Date.now();
    const input = await openNats(stream);
    const expected = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ offset: from + i, value: values[from + i - 1] }));
    try {
      const timestamps: number[] = [];
      expect(await readInto(input, 1, 400, timestamps)).toEqual(expected(1, 400));
      // Each message's time is when the server stored it, in ms (the server runs on this machine's clock).
      expect(timestamps.filter((t) => t < publishing - 5 || t > published + 5)).toEqual([]);
      for await (const consumer of await jsm.consumers.list(stream)) await jsm.consumers.delete(stream, consumer.name);
      expect(await readInto(input, 401, 1000)).toEqual(expected(401, 1000));
      expect(await readInto(input, 250, 100)).toEqual(expected(250, 349));
      expect(await readInto(input, 1001, 100)).toEqual([]);
      await input.close();
      const left: string[] = [];
      for await (const consumer of await jsm.consumers.list(stream)) left.push(consumer.name);
      expect(left).toEqual([]);
    } finally {
      await remove();
    }
  });

  it('reads from a server that asks for a user and password, given in the URL, and keeps them out of what it shows', async () => {
    const { port, server } = await natsServer(['--user', 'reader', '--pass', 'se:cret']);
    try {
      const values = events(3000);
      const { stream, remove } = await natsStream('SECURED', values, { servers: `127.0.0.1:${port}`, user: 'reader', pass: 'se:cret' });
      const input = await openNats(stream, `nats://reader:se%3Acret@127.0.0.1:${port}`);
      try {
        const read = await readInto(input, 1, values.length);
        expect(read.map((r) => r.offset)).toEqual(values.map((_, i) => i + 1));
        expect(read.map((r) => r.value)).toEqual(values);
        expect(input.describe()).toBe(`nats nats://127.0.0.1:${port} stream ${stream}`);
      } finally {
        await input.close();
        await remove();
      }
      // A wrong password is refused, naming the server but not the password.
      const refused = await openNats(stream, `nats://reader:wrong@127.0.0.1:${port}`).then(() => 'opened', (error: Error) => error.message);
      expect(refused).toMatch(/Authorization Violation/i);
      expect(refused).not.toMatch(/wrong/);
    } finally {
      server.kill();
    }
  });

  it('reads from a server that asks for a token, given in the URL as NATS writes it (nats://TOKEN@host), and keeps it out of what it shows', async () => {
    const token = 's3cret-token';
    const { port, server } = await natsServer(['--auth', token]);
    try {
      const values = events(2000);
      const { stream, remove } = await natsStream('TOKENED', values, { servers: `127.0.0.1:${port}`, token });
      // It was taken for a user with no password, which the server refused.
      const input = await openNats(stream, `nats://${token}@127.0.0.1:${port}`);
      try {
        const read = await readInto(input, 1, values.length);
        expect(read.map((r) => r.value)).toEqual(values);
        expect(input.describe()).toBe(`nats nats://127.0.0.1:${port} stream ${stream}`);
      } finally {
        await input.close();
        await remove();
      }
    } finally {
      server.kill();
    }
  });

  it('reads a backlog of many pull requests in one read, every sequence once and in order', async () => {
    const values = Array.from({ length: 130_000 }, (_, i) => `{"n":${i + 1}}`);
    const { stream, remove } = await natsStream('BACKLOG', values);
    const input = await openNats(stream);
    try {
      const read = await readInto(input, 1, values.length);
      expect(read.length).toBe(values.length);
      expect(read.every((r, i) => r.offset === i + 1 && r.value === values[i])).toBe(true);
    } finally {
      await input.close();
      await remove();
    }
  });
});
