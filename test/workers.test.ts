import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, CLI, tempDir, REPO } from './helpers.js';
import { requireService, tcpOpen } from './services.js';
import { startKafkaMock } from './support/kafka-mock.js';
import { startCommand, type LiveCommand } from './support/live-command.js';
import { createCatalogDatabase, postgresCatalogCanRun, type CatalogDatabase } from './support/postgres.js';
import { brokerProject, events } from './stream-helpers.js';

/**
 * Workers (issue 20): `tributary worker` processes join the clickstream job through the catalog in
 * PostgreSQL and split its input's partitions (a Kafka consumer group; NATS subjects shared by
 * their group in the catalog). One is killed with SIGKILL mid-run and another joins; every event
 * must then be in every sink exactly once, id by id.
 */

const PARTITIONS = 3;
const catalogUp = await postgresCatalogCanRun();
let kafkaMock: Awaited<ReturnType<typeof startKafkaMock>> | undefined;
const kafkaUp = catalogUp && (await requireService('Kafka (librdkafka mock cluster via kcat)', async () => void (kafkaMock = await startKafkaMock())));
const natsUp = catalogUp && (await requireService('NATS JetStream', () => tcpOpen('127.0.0.1', 4222)));
afterAll(() => kafkaMock?.process.kill());

interface Broker {
  /** The stream's `input` in the project's config. */
  input: string;
  /** Sends events round-robin over the partitions. */
  publish(values: string[]): Promise<void>;
  /** Per partition, the offset after its last record. */
  ends(): Promise<Map<number, number>>;
  close(): Promise<void>;
}

/** The serving sink's table, the lake sink's, the dead letters: each committed by every worker. */
const SINKS = ['__dead_letters', 'lake', 'serving'];

function startWorker(dir: string, catalog: CatalogDatabase, lake: string): LiveCommand {
  return startCommand(process.execPath, [CLI, 'worker', '--project', dir, '--data-dir', tempDir(), '--max-batch', '250'], {
    cwd: REPO,
    env: { TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake },
  });
}

/** What each sink has committed per partition, as the catalog holds it. */
async function committed(catalog: CatalogDatabase): Promise<Map<string, Map<number, number>>> {
  const rows = await catalog.query<{ sink: string; partition: number; next_offset: string }>('SELECT sink, partition, next_offset FROM tributary.stream_offsets');
  const bySink = new Map<string, Map<number, number>>();
  for (const r of rows) {
    if (!bySink.has(r.sink)) bySink.set(r.sink, new Map());
    bySink.get(r.sink)!.set(r.partition, Number(r.next_offset));
  }
  return bySink;
}

async function servingRows(catalog: CatalogDatabase): Promise<number> {
  const rows = await catalog.query<{ n: string }>('SELECT count(*) AS n FROM main.live_operations').catch(() => [{ n: '0' }]);
  return Number(rows[0]!.n);
}

function idsOf(values: string[]): string[] {
  return values.flatMap((v) => {
    try {
      return [(JSON.parse(v) as { id: string }).id];
    } catch {
      return [];
    }
  });
}

async function threeWorkersOneKilledOneAdded(broker: Broker): Promise<void> {
  const catalog = await createCatalogDatabase();
  const lake = tempDir();
  const dir = brokerProject(broker.input);
  const workers: LiveCommand[] = [];
  try {
    const first = events(6000);
    const second = events(3000);
    const bad = ['not json at all', '{"id": "cut short'];
    await broker.publish([...first.slice(0, 3000), bad[0]!, ...first.slice(3000), bad[1]!]);
    for (let i = 0; i < 3; i++) workers.push(startWorker(dir, catalog, lake));

    // Mid-run: some of the events are committed, not all.
    await expect.poll(() => servingRows(catalog), { interval: 100, timeout: 180_000 }).toBeGreaterThanOrEqual(1500);
    expect(await servingRows(catalog)).toBeLessThan(first.length);
    process.kill(-workers[0]!.child.pid!, 'SIGKILL');
    workers.push(startWorker(dir, catalog, lake));
    await broker.publish(second);

    const ends = await broker.ends();
    const caughtUp = async () => {
      const offsets = await committed(catalog);
      return SINKS.every((sink) => [...ends].every(([partition, end]) => offsets.get(sink)?.get(partition) === end));
    };
    // The killed worker's partitions wait for its session (Kafka) or membership (catalog) to expire.
    await expect
      .poll(caughtUp, { interval: 250, timeout: 240_000, message: `not caught up: ${workers.map((w) => w.output().slice(-2000)).join('\n---\n')}` })
      .toBe(true);
    const summaries: string[] = [];
    for (const worker of workers.slice(1)) {
      expect(await worker.stop(), worker.output()).toBe(0);
      summaries.push(/clickstream_live: (\d+) events committed by this worker/.exec(worker.output())?.[1] ?? 'none');
    }
    // The work was shared: the surviving first workers and the one added each committed events.
    expect(summaries.filter((n) => Number(n) > 0).length, `${summaries.join(', ')}\n${workers.map((w) => w.output()).join('\n---\n')}`).toBeGreaterThanOrEqual(2);

    const produced = idsOf([...first, ...second]).sort();
    const env = { TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake };
    const lakeIds = cli(['sql', 'SELECT id FROM events_raw ORDER BY id', '--format', 'json', '--project', dir, '--data-dir', tempDir()], REPO, env);
    expect(lakeIds.code, lakeIds.stderr).toBe(0);
    expect((JSON.parse(lakeIds.stdout) as { id: string }[]).map((r) => r.id)).toEqual(produced);
    const served = await catalog.query<{ id: string }>('SELECT id FROM main.live_operations ORDER BY id');
    expect(served.map((r) => r.id)).toEqual(produced);
    expect(await catalog.query('SELECT operations::TEXT AS operations FROM main.live_kpis')).toEqual([{ operations: String(produced.length) }]);
    const letters = await catalog.query<{ raw: string }>('SELECT raw FROM tributary.dead_letters ORDER BY raw');
    expect(letters.map((r) => r.raw)).toEqual([...bad].sort());
  } finally {
    for (const worker of workers) await worker.stop().catch(() => undefined);
    await broker.close();
    await catalog.drop();
  }
}

describe.runIf(natsUp)('workers on a NATS JetStream stream', () => {
  it('three workers split its partition subjects; one killed with SIGKILL, one added: every event exactly once in every sink', { timeout: 480_000 }, async () => {
    const stream = `CLICKS_${randomBytes(3).toString('hex')}`;
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.*`] });
    const js = jetstream(nc);
    let sent = 0;
    await threeWorkersOneKilledOneAdded({
      input: `input: { kind: 'nats', servers: '127.0.0.1:4222', stream: '${stream}', subject: '${stream}.{partition}', partitions: ${PARTITIONS} }`,
      async publish(values) {
        for (let i = 0; i < values.length; i += 250) await Promise.all(values.slice(i, i + 250).map((v, k) => js.publish(`${stream}.${(sent + i + k) % PARTITIONS}`, v)));
        sent += values.length;
      },
      async ends() {
        const ends = new Map<number, number>();
        for (let p = 0; p < PARTITIONS; p++) ends.set(p, (await jsm.streams.getMessage(stream, { last_by_subj: `${stream}.${p}` }))!.seq + 1);
        return ends;
      },
      async close() {
        await jsm.streams.delete(stream);
        await nc.close();
      },
    });
  });
});

describe.runIf(kafkaUp)('workers on a Kafka topic', () => {
  it('three workers in one consumer group; one killed with SIGKILL, one added: every event exactly once in every sink', { timeout: 480_000 }, async () => {
    const topic = `clicks_${randomBytes(3).toString('hex')}`;
    const kafka = new Kafka({ brokers: [kafkaMock!.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    await producer.connect();
    await threeWorkersOneKilledOneAdded({
      input: `input: { kind: 'kafka', brokers: ['${kafkaMock!.bootstrap}'], topic: '${topic}' }`,
      async publish(values) {
        for (let i = 0; i < values.length; i += 500) {
          // The mock cluster makes the topic on first use, with partitions enough for three workers.
          await producer.send({ topic, messages: values.slice(i, i + 500).map((value) => ({ value })) });
        }
      },
      async ends() {
        const offsets = await admin.fetchTopicOffsets(topic);
        expect(offsets.filter((o) => Number(o.high) > 0).length).toBeGreaterThanOrEqual(PARTITIONS);
        return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
      },
      async close() {
        await producer.disconnect();
        await admin.disconnect();
      },
    });
  });
});
