/**
 * Streams: sustained events/s through the log, the clickstream rules and both sinks (lake and
 * serving tables) with exactly-once commits; the same from Kafka (librdkafka's mock cluster), NATS
 * JetStream and the HTTP collector (loaded from a process of its own), each beside its peer (a
 * pass-through consumer of the broker) and bare DuckDB doing the job's engine work on the same
 * NDJSON batches; where each input's last batch spent its time; p50/p99 event-to-commit latency at
 * 10,000 and 100,000 events/s through the HTTP collector; and a recovery run that kills the job
 * with SIGKILL at random moments during a 1-million-event replay, then checks every event id is
 * in the raw and processed tables exactly once.
 *
 * BENCH_STREAM_EVENTS=N changes the throughput replay size (default 2,000,000).
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { declaredColumns } from '../../src/core/schemas.js';
import { Log } from '../../src/log/index.js';
import { readSample, stamp } from '../../examples/ecommerce-clickstream/replayers/sample.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured } from '../lib/measure.js';
import { MB, type Suite, type SuiteContext } from '../lib/suite.js';
import { clickstreamOnBroker } from '../lib/broker-project.js';
import { startKafkaMockCluster } from '../lib/kafka-mock-cluster.js';
import { streamEngineFloor } from '../lib/stream-floor.js';
import { kafkaInput } from '../../src/connectors/inputs/kafka.js';
import { natsInput } from '../../src/connectors/inputs/nats.js';
import type { RecordSink, StreamInput } from '../../src/connectors/inputs/types.js';

interface DrainOutput {
  results: Record<string, { events: number; seconds: number }>;
  status: { latencyMs: { p50: number | null; p99: number | null }; deadLetters: number; lastBatch: LastBatch | null }[];
}

interface LastBatch {
  events: number;
  ms: number;
  /** When it committed (ISO). */
  at: string;
  durationMs: { read: number; stage: number; load: number; sinks: Record<string, number>; commit: number };
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
  /** The input's own ceiling: the input reading into a sink that only counts (events/s). */
  passThrough?: number;
  /** CPU seconds of the job's process (the whole `tributary up` for the collector). */
  jobCpuSeconds?: number;
  /** CPU seconds of the broker's process during the drain. */
  brokerCpuSeconds?: number;
  /** The machine's 1-minute load average when the figure was taken: the 2 cores are shared. */
  load: number;
}

/** The 1-minute load average now. */
function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

const JOB = 'clickstream_live';

/**
 * How the Kafka topic is filled. librdkafka's mock broker returns one record batch a partition a
 * fetch, found by walking the partition's list of batches (`rd_kafka_mock_msgset_find`, "FIXME:
 * Maintain an index"), where a broker returns up to the fetch's bytes through its offset index:
 * with small batches the mock's walk, not the input, sets the pace. The headline fills it as a
 * producer tuned for throughput does (batch.size about 200 KB with a linger: 500 events a batch);
 * the second row keeps kafkajs's keyed spread of 5,000-event sends over every partition.
 */
const KAFKA_PRODUCERS: { label: string; eventsPerBatch?: number; describe: string }[] = [
  { label: 'Kafka (mock cluster)', eventsPerBatch: 500, describe: 'record batches of 500 events a partition' },
  { label: 'Kafka (mock cluster), small producer batches', describe: 'kafkajs keyed sends of 5,000 over every partition' },
];

/** The suite's parts, in the order they run; BENCH_STREAM_PARTS names a subset. */
const PARTS = ['log', 'kafka', 'nats', 'http', 'floor', 'latency', 'recovery'] as const;
type Part = (typeof PARTS)[number];

/** CPU seconds (user + system) a running process has used (a broker beside the job), or one of its threads (a process's main thread has its id). */
function processCpuSeconds(pid: number, thread?: number): number {
  const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const streamSuite: Suite = {
  name: 'stream',
  description: 'stream throughput (log, Kafka, NATS, HTTP collector) with peers, latency at 10k and 100k events/s, SIGKILL recovery',
  async run(context) {
    const { root, dataDir, resultsDir, log } = context;
    const example = join(root, 'examples', 'ecommerce-clickstream');
    const sample = readSample(join(root, 'examples', 'ecommerce-clickstream', 'data', '2019-Nov-sample.csv'));
    const work = join(dataDir, 'work', 'stream');
    mkdirSync(work, { recursive: true });
    const events = Number(process.env.BENCH_STREAM_EVENTS ?? 2_000_000);
    const asked = (process.env.BENCH_STREAM_PARTS ?? PARTS.join(',')).split(',').map((p) => p.trim());
    const unknown = asked.filter((p) => !(PARTS as readonly string[]).includes(p));
    if (unknown.length) throw new Error(`BENCH_STREAM_PARTS: unknown part(s) ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}`);
    const runs = (part: Part) => asked.includes(part);
    const cli = join(root, 'bin', 'tributary.js');
    log('  building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: root });
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

    /** `tributary drain` in a process of its own; `broker` is the process serving its input, whose CPU is counted beside the job's. */
    const drain = async (label: string, project: string, dir: string, broker?: number): Promise<ThroughputRow> => {
      const logFile = join(work, `${label}.log`);
      const brokerBefore = broker ? processCpuSeconds(broker) : 0;
      const m = await spawnMeasured(process.execPath, [cli, 'drain', '--project', project, '--data-dir', dir, '--json'], { cwd: root, logFile, timeoutSeconds: 1800 });
      const brokerCpu = broker ? processCpuSeconds(broker) - brokerBefore : undefined;
      if (m.exitCode !== 0) throw new Error(`${label}: drain failed (${m.exitCode ?? m.signal}); see ${logFile}`);
      const output = JSON.parse(readFileSync(logFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as DrainOutput;
      const result = output.results[JOB]!;
      const exactlyOnce = await checkOnce(project, dir, result.events);
      const row: ThroughputRow = {
        input: label,
        events: result.events,
        seconds: result.seconds,
        eventsPerSecond: result.events / result.seconds,
        wallSeconds: m.wallSeconds,
        peakMB: m.peakRssBytes / MB,
        exactlyOnce,
        lastBatch: output.status[0]?.lastBatch ?? null,
        jobCpuSeconds: m.cpuSeconds,
        brokerCpuSeconds: brokerCpu,
        load: loadAverage(),
      };
      log(`  ${label}: ${row.events.toLocaleString('en-US')} events in ${row.seconds.toFixed(1)} s = ${Math.round(row.eventsPerSecond).toLocaleString('en-US')} events/s, peak ${row.peakMB.toFixed(0)} MB, CPU ${m.cpuSeconds.toFixed(1)} s${brokerCpu !== undefined ? ` (its broker ${brokerCpu.toFixed(1)} s)` : ''}, exactly once: ${exactlyOnce}`);
      return row;
    };

    // 1. The embedded log.
    let appendRate: number | undefined;
    if (runs('log')) {
      const logDir = join(work, 'log');
      rmSync(logDir, { recursive: true, force: true });
      log(`stream: appending ${events.toLocaleString('en-US')} stamped sample events to the embedded log`);
      appendRate = feed(logDir, events);
      log(`  appended at ${Math.round(appendRate).toLocaleString('en-US')} events/s (stamping included)`);
      rows.push(await drain('embedded log', example, logDir));
    }

    // 2. Kafka through librdkafka's mock cluster, as many events as the embedded log. The mock keeps
    // about 5 MiB a partition and drops the oldest beyond: the topic gets partitions for 4 MiB each.
    // It is filled twice: as a producer tuned for throughput fills it (the headline), and with
    // kafkajs's keyed spread of small batches, which measures the mock more than the input.
    let kafkajsRate: number | undefined;
    if (runs('kafka')) {
      const kafkaEvents = events;
      const eventBytes = sample.slice(0, 1000).reduce((sum, line) => sum + stamp(line).length, 0) / Math.min(1000, sample.length);
      const kafkaPartitions = Math.max(16, Math.ceil((kafkaEvents * eventBytes) / (4 * 1024 * 1024)));
      for (const shape of KAFKA_PRODUCERS) {
        const mock = await startKafkaMockCluster(root, join(dataDir, 'bin'), 'clicks', kafkaPartitions).catch((error: Error) => {
          log(`  Kafka skipped: ${error.message}`);
          return undefined;
        });
        if (!mock) break;
        try {
          const kafka = new Kafka({ brokers: [mock.bootstrap], logLevel: logLevel.NOTHING });
          const producer = kafka.producer();
          await producer.connect();
          const producing = performance.now();
          for (let i = 0; i < kafkaEvents; i += 5000) {
            const messages = Array.from({ length: Math.min(5000, kafkaEvents - i) }, (_, k) => ({
              key: String(i + k),
              value: stamp(sample[(i + k) % sample.length]!),
              ...(shape.eventsPerBatch ? { partition: Math.floor((i + k) / shape.eventsPerBatch) % kafkaPartitions } : {}),
            }));
            await producer.send({ topic: 'clicks', messages });
          }
          await producer.disconnect();
          const admin = kafka.admin();
          await admin.connect();
          const kept = (await admin.fetchTopicOffsets('clicks')).reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
          await admin.disconnect();
          if (kept !== kafkaEvents) throw new Error(`the mock cluster kept ${kept} of ${kafkaEvents} events over ${kafkaPartitions} partitions: give the topic more partitions`);
          log(`  produced ${kafkaEvents.toLocaleString('en-US')} events to ${kafkaPartitions} partitions (${shape.describe}) in ${((performance.now() - producing) / 1000).toFixed(1)} s`);
          const project = clickstreamOnBroker(example, join(work, 'kafka-project'), `input: { kind: 'kafka', brokers: ['${mock.bootstrap}'], topic: 'clicks' }`);
          const dir = join(work, 'kafka-data');
          rmSync(dir, { recursive: true, force: true });
          const row = await drain(shape.label, project, dir, mock.pid);
          if (shape === KAFKA_PRODUCERS[0]) {
            row.passThrough = await inputPassThrough(kafkaInput.create(kafkaInput.config.parse({ kind: 'kafka', brokers: [mock.bootstrap], topic: 'clicks' }), passThroughContext), kafkaEvents);
            kafkajsRate = await kafkaPassThrough(mock.bootstrap, 'clicks', kafkaEvents);
            log(`  Kafka pass-through (the input's own fetch into a counting sink): ${Math.round(row.passThrough).toLocaleString('en-US')} events/s; kafkajs's consumer: ${Math.round(kafkajsRate).toLocaleString('en-US')} events/s`);
          }
          rows.push(row);
        } finally {
          mock.stop();
        }
      }
    }

    // 3. NATS JetStream, as many events as the embedded log.
    let natsLibraryRate: number | undefined;
    if (runs('nats')) {
      const natsEvents = events;
      try {
        const nc = await connect({ servers: '127.0.0.1:4222' });
        const jsm = await jetstreamManager(nc);
        await jsm.streams.delete('BENCH_CLICKS').catch(() => undefined);
        await jsm.streams.add({ name: 'BENCH_CLICKS', subjects: ['bench.clicks'] });
        const js = jetstream(nc);
        const publishing = performance.now();
        for (let i = 0; i < natsEvents; i += 1000) {
          await Promise.all(Array.from({ length: 1000 }, (_, k) => js.publish('bench.clicks', stamp(sample[(i + k) % sample.length]!))));
        }
        log(`  published ${natsEvents.toLocaleString('en-US')} events to JetStream in ${((performance.now() - publishing) / 1000).toFixed(1)} s (each acknowledged)`);
        const project = clickstreamOnBroker(example, join(work, 'nats-project'), `input: { kind: 'nats', servers: '127.0.0.1:4222', stream: 'BENCH_CLICKS' }`);
        const dir = join(work, 'nats-data');
        rmSync(dir, { recursive: true, force: true });
        const server = Number(execFileSync('pgrep', ['-o', '-x', 'nats-server'], { encoding: 'utf8' }).trim()) || undefined;
        const row = await drain('NATS JetStream', project, dir, server);
        row.passThrough = await inputPassThrough(natsInput.create(natsInput.config.parse({ kind: 'nats', servers: '127.0.0.1:4222', stream: 'BENCH_CLICKS' }), passThroughContext), natsEvents);
        natsLibraryRate = await natsOrderedConsumerRate(js, 'BENCH_CLICKS', natsEvents);
        log(`  NATS pass-through (the input's own pull into a counting sink): ${Math.round(row.passThrough).toLocaleString('en-US')} events/s; @nats-io/jetstream's ordered consumer: ${Math.round(natsLibraryRate).toLocaleString('en-US')} events/s`);
        rows.push(row);
        await jsm.streams.delete('BENCH_CLICKS');
        await nc.close();
      } catch (error) {
        log(`  NATS skipped: ${(error as Error).message}`);
      }
    }

    // 4. The HTTP collector, loaded from a process of its own; the job drains what it acknowledged.
    let collector: Awaited<ReturnType<typeof collectorThroughput>> | undefined;
    if (runs('http')) {
      collector = await collectorThroughput(context, cli, example, work, events);
      log(`  HTTP collector: ${Math.round(collector.ackRate).toLocaleString('en-US')} events/s acknowledged (ack p50 ${collector.ackP50} ms, p99 ${collector.ackP99} ms; the load's own CPU ${collector.loadCpuSeconds.toFixed(1)} s), drained at ${Math.round(collector.row.eventsPerSecond).toLocaleString('en-US')} events/s (a backlog of ${collector.backlog.events.toLocaleString('en-US')} at the last answer, committed ${collector.backlog.seconds.toFixed(1)} s later; the server's main thread ${collector.mainThreadBusy === undefined ? 'not measured: fewer than two of its half-second samples fell within the load' : `${Math.round(collector.mainThreadBusy.busy * 100)} % busy during the load, ${Math.round(collector.mainThreadBusy.onCore * 100)} % on a core`}), exactly once: ${collector.row.exactlyOnce}`);
      rows.push(collector.row);
    }

    // 5. The engine's floor: bare DuckDB doing the job's engine work on the same NDJSON batches.
    const stream = (await loadProject(example)).config.streams[JOB]!;
    let floor: number | undefined;
    let floorLoad = 0;
    if (runs('floor')) {
      const declared = Object.fromEntries(declaredColumns(stream.columns).map((c) => [c.name, c.type]));
      floor = await streamEngineFloor(join(work, 'floor'), sample, events, stream.maxBatch, declared);
      floorLoad = loadAverage();
      log(`  bare DuckDB on the same NDJSON batches (engine floor): ${Math.round(floor).toLocaleString('en-US')} events/s`);
    }

    // 6. Latency at 10,000 and 100,000 events/s, through the HTTP collector of a running `tributary up`.
    const latencies: Latency[] = [];
    if (runs('latency')) {
      for (const [rate, seconds] of [
        [10_000, 30],
        [100_000, 10],
      ] as const) {
        const latency = await measureLatency(context, cli, example, work, rate, seconds);
        log(`  latency at ${latency.rate.toLocaleString('en-US')} events/s: p50 ${latency.p50} ms, p99 ${latency.p99} ms over ${latency.events.toLocaleString('en-US')} events (sustained ${latency.observedRate.toLocaleString('en-US')} events/s)`);
        latencies.push(latency);
      }
    }

    // 7. Recovery: SIGKILL at random moments during a 1-million-event replay.
    const recovery = runs('recovery') ? await recoveryRun(context, cli, example, work, 1_000_000) : undefined;

    const machine = machineInfo();
    const { commit } = machine;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const name = asked.length === PARTS.length ? 'stream' : `stream-${asked.join('-')}`;
    writeFileSync(
      join(resultsDir, `${name}.json`),
      JSON.stringify({ machine, commit, load, parts: asked, appendRate, throughput: rows, floor, collector: collector && { ackP50: collector.ackP50, ackP99: collector.ackP99, ackRate: collector.ackRate, loadCpuSeconds: collector.loadCpuSeconds, backlog: collector.backlog, mainThreadBusy: collector.mainThreadBusy }, kafkajsRate, natsLibraryRate, latencies, recovery }, null, 2),
    );
    const categories = [...rows.map((r) => r.input), ...(floor ? ['bare DuckDB'] : []), ...latencies.map((l) => `p99 at ${l.rate / 1000}k/s`)];
    writeFileSync(
      join(resultsDir, `${name}.svg`),
      barChartSvg({
        title: 'Stream job: clickstream rules into the lake and serving tables, exactly once',
        subtitle: `${machine.nproc} cores · events/s by input (bare DuckDB: the engine's floor; dashed: the 300,000 bar)${latencies.length ? ' · event-to-commit p99' : ''}`,
        categories,
        series: [
          { name: 'throughput', unit: 'events/s', values: [...rows.map((r) => Math.round(r.eventsPerSecond)), ...(floor ? [Math.round(floor)] : []), ...latencies.map(() => null)], line: { value: 300_000, label: '300,000' } },
          ...(latencies.length ? [{ name: 'latency', unit: 'ms', values: [...rows.map(() => null), ...(floor ? [null] : []), ...latencies.map((l) => l.p99)] }] : []),
        ],
      }),
    );
    const figure = (n: number | undefined) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
    const perEvent = (seconds: number | undefined, n: number) => (seconds === undefined ? '–' : (seconds / n * 1e6).toFixed(1));
    const md = [
      '# Stream benchmark: clickstream events → rules → lake + serving tables, exactly once',
      '',
      `Commit ${commit}. Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Run at ${new Date().toISOString()}, load average at the end ${load} (other work shares the 2 cores: figures scale with it).${asked.length < PARTS.length ? ` Parts run: ${asked.join(', ')} (\`BENCH_STREAM_PARTS\`).` : ''}`,
      'Each broker input is drained by `tributary drain` in its own process (the job with its real sinks: the lake table `events_raw`, partitioned by date and hour, and the serving tables `live_operations`, `live_kpis`, `live_operations_per_minute` (event-time windows), `live_by_department_brand`, `live_by_product`, plus the dead-letter table; every sink commits its rows and offsets in one transaction). Events/s is events over the drain time, start-up excluded; wall and peak memory cover the whole process. The HTTP collector row is a running `tributary up` loaded by a separate process (NDJSON batches of 500, 8 requests in flight): events over the time from the first request to the commit of the last event. The pass-through column is the input\'s own ceiling: the input itself (Kafka: its fetch, read in place; NATS: its pull off a core subscription) reading into a sink that only counts. CPU per event is the job process\'s CPU (user + system, its start-up included) over the events, and beside it the broker\'s own (the mock cluster\'s process, the NATS server) during the drain: on two cores, the job and its broker share the same 2 CPU-seconds a second.',
      '',
      '| input | events | seconds | events/s | pass-through events/s | job CPU µs/event | broker CPU µs/event | wall s | peak MB | every id exactly once | load |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
      ...rows.map((r) => `| ${r.input} | ${r.events.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${figure(r.eventsPerSecond)} | ${figure(r.passThrough)} | ${perEvent(r.jobCpuSeconds, r.events)} | ${perEvent(r.brokerCpuSeconds, r.events)} | ${r.wallSeconds.toFixed(1)} | ${Number.isNaN(r.peakMB) ? '–' : r.peakMB.toFixed(0)} | ${r.exactlyOnce ? 'yes' : 'NO'} | ${r.load.toFixed(1)} |`),
      ...(floor ? [`| bare DuckDB, same NDJSON batches (engine floor) | ${events.toLocaleString('en-US')} | | ${figure(floor)} | | | | | | | ${floorLoad.toFixed(1)} |`] : []),
      '',
      ...(floor ? [`The engine floor is bare DuckDB doing the job's engine work on the same micro-batches (${stream.maxBatch.toLocaleString('en-US')} events) as NDJSON files: read with the declared types, raw rows to Parquet partitioned by date and hour, processed rows inserted, four aggregates merged; no offsets, rules or dead letters (bench/lib/stream-floor.ts).`, ''] : []),
      ...(collector ? [`HTTP collector: ${figure(collector.ackRate)} events/s acknowledged (appended to the embedded log before the answer); acknowledgement latency of a 500-event request p50 ${collector.ackP50} ms, p99 ${collector.ackP99} ms; the load process used ${collector.loadCpuSeconds.toFixed(1)} s of CPU sending (bench/lib/http-load.ts: node:http, kept-alive connections, bodies encoded before the clock). Its job CPU column is the whole \`tributary up\` process: collector and job. When the last request was answered the job had committed ${figure(events - collector.backlog.events)} of the ${figure(events)} events; the other ${figure(collector.backlog.events)} (its backlog: while the load runs, the collector and the job share the two cores) were committed ${collector.backlog.seconds.toFixed(1)} s later, so the drained rate is the events over the acknowledged time plus that tail.${collector.mainThreadBusy === undefined ? '' : ` While the load ran, the server's main thread was busy ${Math.round(collector.mainThreadBusy.busy * 100)} % of the time by its event loop's count (\`tributary_event_loop_active_seconds_total\` in /metrics, scraped twice a second), and ran on a core ${Math.round(collector.mainThreadBusy.onCore * 100)} % of the time (its CPU time in /proc): for the rest of its busy time it was ready to run and waited for a core, which the engine's threads, the load process and the kernel held. The collector's requests and the job's reading and staging of its batches run on that thread, the engine's work on threads of its own.`}`, ''] : []),
      ...(kafkajsRate ? [`Kafka: kafkajs's own consumer (a consumer group, an object per record) counts ${figure(kafkajsRate)} events/s on the same topic; the input sends kafkajs's Fetch requests itself and reads each response in place.`, ''] : []),
      ...(rows.some((r) => r.input === KAFKA_PRODUCERS[1]!.label)
        ? [
            `Kafka's topic is filled as a producer tuned for throughput fills it: record batches of ${KAFKA_PRODUCERS[0]!.eventsPerBatch} events a partition (about 190 KB, as batch.size 200 KB with a linger makes them). librdkafka's mock broker returns one record batch a partition a fetch and finds it by walking the partition's list of batches (\`rd_kafka_mock_msgset_find\` in rdkafka_mock.c: "FIXME: Maintain an index"), where a broker fills the fetch up to its bytes through its offset index. The row "small producer batches" fills the same topic with kafkajs's keyed sends of 5,000 events over every partition (about 35 events a batch): there the mock's walk sets the pace (see its broker CPU), not the input.`,
            '',
          ]
        : []),
      ...(natsLibraryRate ? [`NATS: \`@nats-io/jetstream\`'s ordered consumer, fetching 50,000 at a time and reading each message's sequence and time from its object, counts ${figure(natsLibraryRate)} events/s on the same stream; the input pulls with the JetStream API over a core subscription and reads sequence and time from the reply subject, with no message object.`, ''] : []),
      ...(appendRate ? [`Appending to the embedded log (stamping each event with a UUID and the time, in one process): ${figure(appendRate)} events/s.`] : []),
      ...phaseLines(rows),
      ...goalLines(rows, floor, latencies),
      ...(latencies.length
        ? [
            '',
            '## Event-to-commit latency',
            '',
            `\`tributary produce sample --rate R\` sent events over HTTP to a running \`tributary up\` (trigger ${stream.triggerMs} ms). Event-to-commit latency is the commit time minus the time the collector appended the event, over the last ${latencies[0]!.window.toLocaleString('en-US')} events.`,
            '',
            'Warehouse checkpoints: how often the embedded warehouse wrote its write-ahead log into its file during the run, and the longest; a commit that comes while one runs waits for it (`tributary_warehouse_checkpoint_*` in /metrics).',
            '',
            '| asked rate (events/s) | events | sustained rate reported by the job | p50 ms | p99 ms | warehouse checkpoints | their ms in all | longest ms | load |',
            '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
            ...latencies.map(
              (l) =>
                `| ${l.rate.toLocaleString('en-US')} | ${l.events.toLocaleString('en-US')} | ${l.observedRate.toLocaleString('en-US')} | ${Math.round(l.p50)} | ${Math.round(l.p99)} | ${l.checkpoints.count} | ${Math.round(l.checkpoints.seconds * 1000).toLocaleString('en-US')} | ${Math.round(l.checkpoints.longestSeconds * 1000)} | ${l.load.toFixed(1)} |`,
            ),
          ]
        : []),
      ...(recovery
        ? [
            '',
            '## Recovery',
            '',
            `${recovery.events.toLocaleString('en-US')} events replayed; the job was killed with SIGKILL ${recovery.kills} times at random moments (seeded), restarted each time, and finally ran to the end. Then: events_raw has ${recovery.raw.rows.toLocaleString('en-US')} rows for ${recovery.raw.ids.toLocaleString('en-US')} distinct ids; live_operations has ${recovery.processed.rows.toLocaleString('en-US')} rows for ${recovery.processed.ids.toLocaleString('en-US')} ids; live_kpis counts ${recovery.kpis.toLocaleString('en-US')} operations. Lost: ${recovery.events - recovery.processed.ids}; duplicated: ${recovery.processed.rows - recovery.processed.ids + recovery.raw.rows - recovery.raw.ids} (load ${recovery.load.toFixed(1)}).`,
          ]
        : []),
      '',
      `![stream chart](./${name}.svg)`,
      '',
    ].join('\n');
    writeFileSync(join(resultsDir, `${name}.md`), md);
    log(`stream: wrote ${join(resultsDir, `${name}.md`)}`);
  },
};

/** What a pass-through input is made with: no job, log or workers. */
const passThroughContext = { job: 'pass-through', log: undefined as never, baseDir: '.', stateDir: '.' };

/** Events/s an input itself reads into a sink that only counts, in reads of the job's batch size from its first offsets. */
async function inputPassThrough(opening: Promise<StreamInput>, count: number): Promise<number> {
  const input = await opening;
  let seen = 0;
  const positions = new Map<number, number>();
  const counting: RecordSink = {
    get count() {
      return seen;
    },
    add: (partition, offset) => {
      seen++;
      positions.set(partition, Math.max(positions.get(partition) ?? 0, offset + 1));
    },
    reject: (partition, offset) => {
      seen++;
      positions.set(partition, Math.max(positions.get(partition) ?? 0, offset + 1));
    },
  };
  try {
    for (const { partition, start } of await input.partitions()) positions.set(partition, start);
    const started = performance.now();
    while (seen < count) {
      const before = seen;
      await input.read(positions, Math.min(500_000, count - seen) + before, counting);
      if (seen === before) break;
    }
    return seen / ((performance.now() - started) / 1000);
  } finally {
    await input.close();
  }
}

/** Events/s a kafkajs consumer receives and counts, from its first batch to the last event. */
async function kafkaPassThrough(bootstrap: string, topic: string, count: number): Promise<number> {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-pass-through-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let first = 0;
  let bytes = 0;
  const seconds = await new Promise<number>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        first ||= performance.now();
        for (const m of batch.messages) bytes += m.value?.length ?? 0;
        seen += batch.messages.length;
        if (seen >= count) resolve((performance.now() - first) / 1000);
      },
    });
  });
  await consumer.disconnect();
  return bytes > 0 ? count / seconds : 0;
}

/** Events/s @nats-io/jetstream's ordered consumer fetches and counts, reading each message's sequence and time as the input once did. */
async function natsOrderedConsumerRate(js: JetStreamClient, stream: string, count: number): Promise<number> {
  const consumer = await js.consumers.get(stream, { opt_start_seq: 1, deliver_policy: 'by_start_sequence' as never });
  const started = performance.now();
  let seen = 0;
  let bytes = 0;
  while (seen < count) {
    const want = Math.min(count - seen, 50_000);
    let got = 0;
    for await (const m of await consumer.fetch({ max_messages: want, expires: 5_000 })) {
      bytes += m.data.length + (m.seq > 0 && m.info.timestampNanos > 0 ? 0 : 1);
      if (++got >= want) break;
    }
    seen += got;
    if (got < want) break;
  }
  return bytes > 0 ? seen / ((performance.now() - started) / 1000) : 0;
}

/**
 * The HTTP collector of a running `tributary up`, loaded by bench/lib/http-load.ts in a process of
 * its own (NDJSON batches of 500, 8 requests in flight); the job's rate is the events over the
 * time from the first request to the commit of the last event.
 */
async function collectorThroughput(context: SuiteContext, cli: string, example: string, work: string, events: number) {
  const dir = join(work, 'collector');
  const up = await startUp(context, cli, example, dir, 7192, join(work, 'up-collector.log'));
  const { url } = up;
  try {
    type Status = { jobs: { events: number; lag: number; lastBatch: LastBatch | null }[] };
    const status = async () => ((await (await fetch(`${url}/v1/status`)).json()) as Status).jobs[0]!;
    const loadLog = join(work, 'http-load.log');
    const cpuBefore = processCpuSeconds(up.pid);
    // The server's main thread during the load, from its own counters, scraped every half second
    // (one scrape at a time, so the samples stay in order however slow an answer is).
    const mainThread: MainThreadSample[] = [];
    const scrape = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      mainThread.push({ at: Date.now(), active: metricValue(text, 'event_loop_active_seconds_total'), idle: metricValue(text, 'event_loop_idle_seconds_total'), cpu: processCpuSeconds(up.pid, up.pid) });
    };
    let loading = true;
    const sampling = (async () => {
      while (loading) {
        await scrape().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    const load = await spawnMeasured(process.execPath, ['--import', 'tsx', join(context.root, 'bench', 'lib', 'http-load.ts'), `${url}/v1/topics/clickstream`, String(events), '500', '8', join(example, 'data', '2019-Nov-sample.csv')], {
      cwd: context.root,
      logFile: loadLog,
      timeoutSeconds: 1800,
    });
    loading = false;
    await sampling;
    if (load.exitCode !== 0) throw new Error(`the HTTP load failed (${load.exitCode ?? load.signal}); see ${loadLog}`);
    const sent = JSON.parse(readFileSync(loadLog, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as { startedAt: number; seconds: number; p50: number; p99: number; cpuSeconds: number };
    // What the job had committed when the last request was answered: the rest is the backlog it
    // drains after the load, which the drained rate's time includes.
    const committedAtAck = (await status()).events;
    const ackEnd = sent.startedAt + sent.seconds * 1000;
    let job = await status();
    // A deadline, not a wait: the job commits what was acknowledged, or the run fails.
    for (const deadline = Date.now() + 600_000; job.events < events || job.lag > 0; job = await status()) {
      if (Date.now() > deadline) throw new Error(`the collector's job committed ${job.events} of ${events} events in 10 minutes`);
      // Each status asks the engine for counts: polled gently, and the end is the last commit's own time.
      await new Promise((r) => setTimeout(r, 250));
    }
    // From the load's first request (its bodies are made before it) to the commit of the last event.
    const seconds = (Date.parse(job.lastBatch!.at) - sent.startedAt) / 1000;
    const upCpu = processCpuSeconds(up.pid) - cpuBefore;
    await up.stop();
    const row: ThroughputRow = {
      input: 'HTTP collector',
      events: job.events,
      seconds,
      eventsPerSecond: job.events / seconds,
      wallSeconds: seconds,
      peakMB: Number.NaN,
      exactlyOnce: await checkOnce(example, dir, events),
      lastBatch: job.lastBatch,
      jobCpuSeconds: upCpu,
      load: loadAverage(),
    };
    const backlog = { events: events - committedAtAck, seconds: (Date.parse(job.lastBatch!.at) - ackEnd) / 1000 };
    const mainThreadBusy = busyShare(mainThread.filter((sample) => sample.at >= sent.startedAt && sample.at <= ackEnd));
    return { row, ackRate: events / sent.seconds, ackP50: sent.p50, ackP99: sent.p99, loadCpuSeconds: sent.cpuSeconds, backlog, mainThreadBusy };
  } finally {
    await up.stop();
  }
}

/** A metric of `tributary up`'s /metrics text that has no labels, or NaN when it is absent. */
function metricValue(metrics: string, name: string): number {
  return Number(new RegExp(`\\ntributary_${name} ([\\d.e+-]+)\\n`).exec(metrics)?.[1] ?? NaN);
}

interface MainThreadSample {
  at: number;
  /** The event loop's seconds not waiting for I/O or timers: running, or ready to run and waiting for a core. */
  active: number;
  idle: number;
  /** The thread's CPU seconds: running on a core. */
  cpu: number;
}

/**
 * Between the first and last sample, the share of the time the main thread was busy by its event
 * loop's count, and the share it ran on a core; undefined with fewer than two samples.
 */
function busyShare(samples: MainThreadSample[]): { busy: number; onCore: number } | undefined {
  const measured = samples.filter((sample) => Number.isFinite(sample.active) && Number.isFinite(sample.idle));
  const [first, last] = [measured[0], measured.at(-1)];
  if (!first || !last || first === last) return undefined;
  const seconds = last.active + last.idle - (first.active + first.idle);
  return { busy: (last.active - first.active) / seconds, onCore: (last.cpu - first.cpu) / seconds };
}

/**
 * `tributary up` on a fresh data folder, answering at `port`; `stop` ends it (again is harmless).
 * Whoever answers must be this process: a server left over from an interrupted run would be
 * measured in its place.
 */
async function startUp(context: SuiteContext, cli: string, example: string, dir: string, port: number, logFile: string) {
  rmSync(dir, { recursive: true, force: true });
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, [cli, 'up', '--project', example, '--data-dir', dir, '--port', String(port)], { cwd: context.root, stdio: ['ignore', log, log] });
  const exited = waitForExit(child);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    if (child.exitCode !== null) throw new Error(`tributary up exited with ${child.exitCode}; see ${logFile}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)) return { url, stop, pid: child.pid! };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`tributary up did not answer at ${url} within 60 s; see ${logFile}`);
    }
  }
}

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
  // The steps before wrote gigabytes: their writeback, flushed by each commit's fsync, is not this step's latency.
  execFileSync('sync');
  const up = await startUp(context, cli, example, join(work, 'latency'), 7191, join(work, `up-${rate}.log`));
  try {
    return await latencyOf(up.url, cli, example, context.root, rate, seconds);
  } finally {
    await up.stop();
  }
}

async function latencyOf(url: string, cli: string, example: string, root: string, rate: number, seconds: number) {
  const count = rate * seconds;
  const producer = spawn(process.execPath, [cli, 'produce', 'sample', '--project', example, '--to', url, '--rate', String(rate), '--count', String(count)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  // Read the rate while the load runs, then the latency once the last events have committed.
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  type Status = { jobs: { eventsPerSecond: number; lag: number; latencyMs: { p50: number; p99: number }; events: number; state: string; error: string | null }[] };
  const during = (await (await fetch(`${url}/v1/status`)).json()) as Status;
  const produced = await waitForExit(producer);
  // A producer that failed leaves a latency of whatever events came before: that measures nothing.
  if (produced !== 0) throw new Error(`tributary produce exited with ${produced}; its error is above`);
  let status = during;
  // A deadline, not a wait: a job that cannot keep up shows it in its latency.
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    status = (await (await fetch(`${url}/v1/status`)).json()) as Status;
    if (status.jobs[0]!.state === 'failed') throw new Error(`the stream job failed: ${status.jobs[0]!.error}`);
    if (status.jobs[0]!.lag === 0 && status.jobs[0]!.events >= count) break;
  }
  const job = status.jobs[0]!;
  if (job.events < count) throw new Error(`the stream job committed ${job.events} of ${count} events within 2 minutes of the last one sent`);
  // The warehouse's checkpoints, which the job's commits wait for: where a p99 above the p50 goes.
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const checkpoints = {
    count: metricValue(metrics, 'warehouse_checkpoints_total'),
    seconds: metricValue(metrics, 'warehouse_checkpoint_seconds_total'),
    longestSeconds: metricValue(metrics, 'warehouse_checkpoint_longest_seconds'),
  };
  return { rate, events: job.events, p50: job.latencyMs.p50, p99: job.latencyMs.p99, window: Math.min(job.events, 200_000), observedRate: Math.round(during.jobs[0]!.eventsPerSecond), checkpoints, load: loadAverage() };
}

type Latency = Awaited<ReturnType<typeof measureLatency>>;

/** Each figure against the product's bars, with what bounds it: the engine's floor, the client's own rate, the largest stage. */
function goalLines(rows: ThroughputRow[], floor: number | undefined, latencies: Latency[]): string[] {
  const GOAL = 300_000;
  const percent = (a: number, b: number) => `${Math.round((a / b) * 100)} %`;
  const largest = (batch: LastBatch) => {
    const { read, load, sinks, commit } = batch.durationMs;
    const stages: [string, number][] = [['read', read], ['load', load], ...Object.entries(sinks).map(([k, v]): [string, number] => [`sink ${k.replace(/^__/, '')}`, v]), ['commit', commit]];
    return stages.sort((a, b) => b[1] - a[1])[0]!;
  };
  const bars: [number, number][] = [
    [10_000, 300],
    [100_000, 1000],
  ];
  return [
    '',
    `Against the bar of ${GOAL.toLocaleString('en-US')} events/s from every input:`,
    '',
    ...rows.map((r) => {
      const stage = r.lastBatch ? largest(r.lastBatch) : undefined;
      const cpu = r.jobCpuSeconds !== undefined ? ((r.jobCpuSeconds + (r.brokerCpuSeconds ?? 0)) / r.events) * 1e6 : undefined;
      const budget = `${((2 / GOAL) * 1e6).toFixed(1)} µs two cores allow an event at the bar`;
      return `- ${r.input}: ${percent(r.eventsPerSecond, GOAL)} of the bar (${r.eventsPerSecond >= GOAL ? 'met' : 'short'})${floor ? `, ${percent(r.eventsPerSecond, floor)} of bare DuckDB's rate` : ''}${r.passThrough ? `, ${percent(r.eventsPerSecond, r.passThrough)} of its pass-through` : ''}${stage ? `; its last batch's largest stage: ${stage[0]}, ${stage[1]} ms` : ''}${cpu !== undefined ? `; CPU ${cpu.toFixed(1)} µs an event${r.brokerCpuSeconds !== undefined ? ' with its broker' : ''} against the ${budget}` : ''}.`;
    }),
    ...latencies.flatMap((l) => {
      const bar = bars.find(([rate]) => rate === l.rate)?.[1];
      return bar ? [`- event-to-commit p99 at ${l.rate.toLocaleString('en-US')} events/s asked: ${Math.round(l.p99)} ms against ${bar} ms (${l.p99 < bar ? 'met' : 'short'}).`] : [];
    }),
  ];
}

/** Where each input's last batch spent its time, as `tributary status` shows it. */
function phaseLines(rows: ThroughputRow[]): string[] {
  const measured = rows.filter((r) => r.lastBatch);
  if (!measured.length) return [];
  const sinks = [...new Set(measured.flatMap((r) => Object.keys(r.lastBatch!.durationMs.sinks)))];
  return [
    '',
    "Where each input's last batch spent its time, in ms (while there is a backlog a batch is read during the previous batch's load and commit; a sink's column is its models run over the batch and its rows staged, and the commit is one transaction for all of them):",
    '',
    `| input | events in the batch | load to commit | read | stage | load (type and judge) | ${sinks.map((k) => `sink ${k.replace(/^__/, '')}`).join(' | ')} | commit |`,
    `|---|${'---:|'.repeat(6 + sinks.length)}`,
    ...measured.map((r) => {
      const { events, ms, durationMs: d } = r.lastBatch!;
      return `| ${r.input} | ${events.toLocaleString('en-US')} | ${ms} | ${d.read} | ${d.stage} | ${d.load} | ${sinks.map((k) => d.sinks[k] ?? '–').join(' | ')} | ${d.commit} |`;
    }),
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
    // The job starts in about a second and drains the million in a few more: kills fall in between.
    const delay = 800 + random() * 1600;
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
    const result = { events, kills, raw: { rows: Number(raw.n), ids: Number(raw.ids) }, processed: { rows: Number(processed.n), ids: Number(processed.ids) }, kpis, load: loadAverage() };
    context.log(`  recovery: ${kills} kills; raw ${result.raw.rows}/${result.raw.ids}, processed ${result.processed.rows}/${result.processed.ids}, kpis ${kpis}`);
    return result;
  } finally {
    ws.close();
  }
}
