/**
 * Streams: sustained events/s through the log, the clickstream rules and both sinks (lake and
 * serving tables) with exactly-once commits; the same from Kafka (librdkafka's mock cluster) and
 * NATS JetStream; p50/p99 event-to-commit latency at 10,000 events/s through the HTTP collector;
 * and a recovery run that kills the job with SIGKILL at random moments during a 1-million-event
 * replay, then checks every event id is in the raw and processed tables exactly once.
 *
 * BENCH_STREAM_EVENTS=N changes the throughput replay size (default 2,000,000).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { startKafkaMock } from '../../test/support/kafka-mock.js';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { Log } from '../../src/log/index.js';
import { readSample, stamp } from '../../examples/ecommerce-clickstream/replayers/sample.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { spawnMeasured } from '../lib/measure.js';
import { MB, type Suite, type SuiteContext } from '../lib/suite.js';
import { clickstreamOnBroker } from '../lib/broker-project.js';

interface DrainOutput {
  results: Record<string, { events: number; seconds: number }>;
  status: { latencyMs: { p50: number | null; p99: number | null }; deadLetters: number; lastBatch: LastBatch | null }[];
}

interface LastBatch {
  events: number;
  ms: number;
  durationMs: { read: number; stage: number; load: number; sinks: Record<string, number> };
}

interface ThroughputRow {
  input: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  wallSeconds: number;
  peakMB: number;
  exactlyOnce: boolean;
  lastBatch: LastBatch | null;
}

const JOB = 'clickstream_live';

export const streamSuite: Suite = {
  name: 'stream',
  description: 'stream throughput (log, Kafka, NATS), latency at 10k events/s, SIGKILL recovery',
  async run(context) {
    const { root, dataDir, resultsDir, log } = context;
    const example = join(root, 'examples', 'ecommerce-clickstream');
    const sample = readSample(join(root, 'examples', 'ecommerce-clickstream', 'data', '2019-Nov-sample.csv'));
    const work = join(dataDir, 'work', 'stream');
    mkdirSync(work, { recursive: true });
    const events = Number(process.env.BENCH_STREAM_EVENTS ?? 2_000_000);
    const cli = join(root, 'bin', 'tributary.js');
    const rows: ThroughputRow[] = [];

    /** Fills the project's embedded log topic with live-stamped sample events; returns events/s appended. */
    const feed = (dir: string, count: number): number => {
      const eventLog = new Log(join(dir, 'state', 'log'));
      const topic = eventLog.topic('clickstream', { partitions: 4 });
      const started = performance.now();
      for (let i = 0; i < count; i += 20_000) {
        topic.append(Array.from({ length: Math.min(20_000, count - i) }, (_, k) => ({ value: stamp(sample[(i + k) % sample.length]!) })));
      }
      eventLog.close();
      return count / ((performance.now() - started) / 1000);
    };

    const drain = async (label: string, project: string, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<ThroughputRow> => {
      const logFile = join(work, `${label}.log`);
      const m = await spawnMeasured(process.execPath, [cli, 'drain', '--project', project, '--data-dir', dir, '--json'], { cwd: root, env, logFile, timeoutSeconds: 1800 });
      if (m.exitCode !== 0) throw new Error(`${label}: drain failed (${m.exitCode ?? m.signal}); see ${logFile}`);
      const output = JSON.parse(readFileSync(logFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as DrainOutput;
      const result = output.results[JOB]!;
      const exactlyOnce = await checkOnce(project, dir, result.events);
      const row = {
        input: label,
        events: result.events,
        seconds: result.seconds,
        eventsPerSecond: result.events / result.seconds,
        wallSeconds: m.wallSeconds,
        peakMB: m.peakRssBytes / MB,
        exactlyOnce,
        lastBatch: output.status[0]?.lastBatch ?? null,
      };
      log(`  ${label}: ${row.events.toLocaleString('en-US')} events in ${row.seconds.toFixed(1)} s = ${Math.round(row.eventsPerSecond).toLocaleString('en-US')} events/s, peak ${row.peakMB.toFixed(0)} MB, exactly once: ${exactlyOnce}`);
      return row;
    };

    // 1. The embedded log.
    const logDir = join(work, 'log');
    rmSync(logDir, { recursive: true, force: true });
    log(`stream: appending ${events.toLocaleString('en-US')} stamped sample events to the embedded log`);
    const appendRate = feed(logDir, events);
    log(`  appended at ${Math.round(appendRate).toLocaleString('en-US')} events/s (stamping included)`);
    rows.push(await drain('embedded log', example, logDir));

    // 2. Kafka through librdkafka's mock cluster (it keeps about 5 MiB a partition: a smaller replay).
    const kafkaEvents = 40_000;
    const mock = await startKafkaMock().catch((error: Error) => {
      log(`  Kafka skipped: ${error.message}`);
      return undefined;
    });
    if (mock) {
      try {
        const kafka = new Kafka({ brokers: [mock.bootstrap], logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        for (let i = 0; i < kafkaEvents; i += 2000) {
          await producer.send({ topic: 'clicks', messages: Array.from({ length: 2000 }, (_, k) => ({ key: String(i + k), value: stamp(sample[(i + k) % sample.length]!) })) });
        }
        await producer.disconnect();
        const project = clickstreamOnBroker(example, join(work, 'kafka-project'), `input: { kind: 'kafka', brokers: ['${mock.bootstrap}'], topic: 'clicks' }`);
        const dir = join(work, 'kafka-data');
        rmSync(dir, { recursive: true, force: true });
        rows.push(await drain('Kafka (mock cluster)', project, dir));
      } finally {
        mock.process.kill();
      }
    }

    // 3. NATS JetStream.
    const natsEvents = 200_000;
    try {
      const nc = await connect({ servers: '127.0.0.1:4222' });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete('BENCH_CLICKS').catch(() => undefined);
      await jsm.streams.add({ name: 'BENCH_CLICKS', subjects: ['bench.clicks'] });
      const js = jetstream(nc);
      for (let i = 0; i < natsEvents; i += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, k) => js.publish('bench.clicks', stamp(sample[(i + k) % sample.length]!))));
      }
      const project = clickstreamOnBroker(example, join(work, 'nats-project'), `input: { kind: 'nats', servers: '127.0.0.1:4222', stream: 'BENCH_CLICKS' }`);
      const dir = join(work, 'nats-data');
      rmSync(dir, { recursive: true, force: true });
      rows.push(await drain('NATS JetStream', project, dir));
      await jsm.streams.delete('BENCH_CLICKS');
      await nc.close();
    } catch (error) {
      log(`  NATS skipped: ${(error as Error).message}`);
    }

    // 4. Latency at 10,000 events/s, through the HTTP collector of a running `tributary up`.
    const latency = await measureLatency(context, cli, example, work, 10_000, 30);
    log(`  latency at ${latency.rate.toLocaleString('en-US')} events/s: p50 ${latency.p50} ms, p99 ${latency.p99} ms over ${latency.events.toLocaleString('en-US')} events`);

    // 5. Recovery: SIGKILL at random moments during a 1-million-event replay.
    const recovery = await recoveryRun(context, cli, example, work, 1_000_000);

    const machine = machineInfo();
    writeFileSync(join(resultsDir, 'stream.json'), JSON.stringify({ machine, appendRate, throughput: rows, latency, recovery }, null, 2));
    writeFileSync(
      join(resultsDir, 'stream.svg'),
      barChartSvg({
        title: 'Stream job: clickstream rules into the lake and serving tables, exactly once',
        subtitle: `${machine.nproc} cores · events/s by input; latency at ${latency.rate.toLocaleString('en-US')} events/s`,
        categories: [...rows.map((r) => r.input), 'p50 latency', 'p99 latency'],
        series: [
          { name: 'throughput', unit: 'events/s', values: [...rows.map((r) => Math.round(r.eventsPerSecond)), null, null] },
          { name: 'latency', unit: 'ms', values: [...rows.map(() => null), latency.p50, latency.p99] },
        ],
      }),
    );
    const md = [
      '# Stream benchmark: clickstream events → rules → lake + serving tables, exactly once',
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Run at ${new Date().toISOString()}.`,
      'Each input is drained by `tributary drain` in its own process (the job with its real sinks: the lake table `events_raw`, partitioned by date and hour, and the serving tables `live_operations`, `live_kpis`, `live_operations_per_minute` (event-time windows), `live_by_department_brand`, `live_by_product`, plus the dead-letter table; every sink commits its rows and offsets in one transaction). Events/s is events over the drain time, start-up excluded; wall and peak memory cover the whole process.',
      '',
      '| input | events | seconds | events/s | wall s | peak MB | every id exactly once |',
      '|---|---:|---:|---:|---:|---:|---|',
      ...rows.map((r) => `| ${r.input} | ${r.events.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} | ${r.wallSeconds.toFixed(1)} | ${r.peakMB.toFixed(0)} | ${r.exactlyOnce ? 'yes' : 'NO'} |`),
      '',
      `Appending to the embedded log (stamping each event with a UUID and the time, in one process): ${Math.round(appendRate).toLocaleString('en-US')} events/s.`,
      ...phaseLines(rows[0]),
      '',
      `## Latency at ${latency.rate.toLocaleString('en-US')} events/s`,
      '',
      `\`tributary produce sample --rate ${latency.rate}\` sent ${latency.events.toLocaleString('en-US')} events over HTTP to a running \`tributary up\` (trigger ${latency.triggerMs} ms). Event-to-commit latency (commit time minus the time the collector appended the event), over the last ${latency.window.toLocaleString('en-US')} events: **p50 ${latency.p50} ms, p99 ${latency.p99} ms**. Sustained rate reported by the job: ${latency.observedRate.toLocaleString('en-US')} events/s.`,
      '',
      '## Recovery',
      '',
      `${recovery.events.toLocaleString('en-US')} events replayed; the job was killed with SIGKILL ${recovery.kills} times at random moments (seeded), restarted each time, and finally ran to the end. Then: events_raw has ${recovery.raw.rows.toLocaleString('en-US')} rows for ${recovery.raw.ids.toLocaleString('en-US')} distinct ids; live_operations has ${recovery.processed.rows.toLocaleString('en-US')} rows for ${recovery.processed.ids.toLocaleString('en-US')} ids; live_kpis counts ${recovery.kpis.toLocaleString('en-US')} operations. Lost: ${recovery.events - recovery.processed.ids}; duplicated: ${recovery.processed.rows - recovery.processed.ids + recovery.raw.rows - recovery.raw.ids}.`,
      '',
      '![stream chart](./stream.svg)',
      '',
    ].join('\n');
    writeFileSync(join(resultsDir, 'stream.md'), md);
    log(`stream: wrote ${join(resultsDir, 'stream.md')}`);
  },
};

async function checkOnce(project: string, dataDir: string, events: number): Promise<boolean> {
  const ws = await openWorkspace(await loadProject(project, { dataDir }));
  try {
    const [raw] = await ws.engine.query<{ n: bigint; ids: bigint }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events_raw');
    const [ops] = await ws.engine.query<{ n: bigint; ids: bigint }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM live_operations');
    return [raw!.n, raw!.ids, ops!.n, ops!.ids].every((v) => Number(v) === events);
  } finally {
    ws.close();
  }
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

async function measureLatency(context: SuiteContext, cli: string, example: string, work: string, rate: number, seconds: number) {
  const dir = join(work, 'latency');
  rmSync(dir, { recursive: true, force: true });
  const port = 7191;
  const up = spawn(process.execPath, [cli, 'up', '--project', example, '--data-dir', dir, '--port', String(port)], { cwd: context.root, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const count = rate * seconds;
  const producer = spawn(process.execPath, [cli, 'produce', 'sample', '--project', example, '--to', url, '--rate', String(rate), '--count', String(count)], { cwd: context.root, stdio: ['ignore', 'ignore', 'inherit'] });
  // Read the rate while the load runs, then the latency once the last events have committed.
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  type Status = { jobs: { eventsPerSecond: number; lag: number; latencyMs: { p50: number; p99: number }; events: number }[] };
  const during = (await (await fetch(`${url}/v1/status`)).json()) as Status;
  const produced = await waitForExit(producer);
  // A producer that failed leaves a latency of whatever events came before: that measures nothing.
  if (produced !== 0) throw new Error(`tributary produce exited with ${produced}; its error is above`);
  let status = during;
  for (let i = 0; i < 50; i++) {
    status = (await (await fetch(`${url}/v1/status`)).json()) as Status;
    if (status.jobs[0]!.lag === 0 && status.jobs[0]!.events >= count) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  up.kill('SIGTERM');
  await waitForExit(up);
  const job = status.jobs[0]!;
  return { rate, events: job.events, p50: job.latencyMs.p50, p99: job.latencyMs.p99, window: Math.min(job.events, 200_000), observedRate: Math.round(during.jobs[0]!.eventsPerSecond), triggerMs: 250 };
}

/** Where the embedded-log drain's last batch spent its time, as `tributary status` shows it. */
function phaseLines(row: ThroughputRow | undefined): string[] {
  const batch = row?.lastBatch;
  if (!batch) return [];
  const { read, stage, load, sinks } = batch.durationMs;
  return [
    '',
    `Where the ${row.input}'s last batch (${batch.events.toLocaleString('en-US')} events, ${batch.ms} ms from load to commit) spent its time, in ms:`,
    '',
    `| read (during the previous commit) | stage | load (type and judge) | ${Object.keys(sinks).map((k) => `sink ${k.replace(/^__/, '')}`).join(' | ')} |`,
    `|${'---:|'.repeat(3 + Object.keys(sinks).length)}`,
    `| ${read} | ${stage} | ${load} | ${Object.values(sinks).join(' | ')} |`,
  ];
}

async function recoveryRun(context: SuiteContext, cli: string, example: string, work: string, events: number) {
  const dir = join(work, 'recovery');
  rmSync(dir, { recursive: true, force: true });
  const sample = readSample(join(context.root, 'examples', 'ecommerce-clickstream', 'data', '2019-Nov-sample.csv'));
  const eventLog = new Log(join(dir, 'state', 'log'));
  const topic = eventLog.topic('clickstream', { partitions: 4 });
  for (let i = 0; i < events; i += 20_000) topic.append(Array.from({ length: 20_000 }, (_, k) => ({ value: stamp(sample[(i + k) % sample.length]!) })));
  eventLog.close();
  let seed = 20261121;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let kills = 0;
  // Up to 40 runs killed at random moments; then one left to finish whatever the killed runs did not commit.
  for (let run = 0; ; run++) {
    const child = spawn(process.execPath, [cli, 'drain', '--project', example, '--data-dir', dir, '--max-batch', '50000'], { cwd: context.root, stdio: 'ignore' });
    const delay = 1200 + random() * 2300;
    const timer = run < 40 ? setTimeout(() => child.kill('SIGKILL'), delay) : undefined;
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    if (code === 0) break;
    if (run >= 40) throw new Error(`recovery: the final drain, not killed, failed (exit ${code})`);
    kills++;
    context.log(`  recovery: killed run ${run + 1} after ${(delay / 1000).toFixed(1)} s`);
  }
  const ws = await openWorkspace(await loadProject(example, { dataDir: dir }));
  try {
    const one = async (sql: string) => (await ws.engine.query<{ n: bigint; ids: bigint }>(sql))[0]!;
    const raw = await one('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events_raw');
    const processed = await one('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM live_operations');
    const kpis = Number((await ws.engine.query<{ n: bigint }>('SELECT operations AS n FROM live_kpis'))[0]!.n);
    const result = { events, kills, raw: { rows: Number(raw.n), ids: Number(raw.ids) }, processed: { rows: Number(processed.n), ids: Number(processed.ids) }, kpis };
    context.log(`  recovery: ${kills} kills; raw ${result.raw.rows}/${result.raw.ids}, processed ${result.processed.rows}/${result.processed.ids}, kpis ${kpis}`);
    return result;
  } finally {
    ws.close();
  }
}
