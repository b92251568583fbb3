import { rmSync, writeFileSync } from 'node:fs';
import { renderRows } from '../commands/index.js';
import { TributaryError } from '../core/errors.js';
import { loadReplayer } from '../core/modules.js';
import type { Project } from '../core/project.js';
import { openScheduler, openWorkspace, runModels, type Workspace } from '../models/index.js';
import { assertSafeBinding, createServer, type ServerOptions } from '../server/app.js';
import { clientCredentials } from '../server/auth.js';
import { commandsPlugin } from '../server/commands.js';
import { DashboardHub, firstWriters, loadDashboards } from '../server/dashboards.js';
import { lookupPlugin } from '../server/lookup.js';
import { jobsPlugin } from '../server/jobs.js';
import { webPlugin } from '../server/web.js';
import type { BatchDurations, GroupOffsets, JobStatus } from '../stream/job.js';
import { replay } from '../stream/replay.js';
import { openLog, startStreams } from '../stream/runtime.js';
import { request, serverFile } from './remote.js';

export interface StackOptions extends ServerOptions {
  /** Run the project's batch models before serving (the demo loads its data this way). */
  runBatch?: boolean;
  /** Send this replayer's events into the log, the way the original producer did. */
  replay?: { name: string; rate?: number };
  log?: (message: string) => void;
}

export interface Stack {
  url: string;
  project: string;
  hub: DashboardHub;
  ws: Workspace;
  close(): Promise<void>;
}

/**
 * One process owns the warehouse, the log, the stream jobs and the scheduler, and serves them:
 * the collector, status and metrics, the web UI with live dashboards, and the command endpoint
 * through which every other `tributary` command works on the same state while it runs.
 */
export async function startStack(project: Project, options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  // Refused before anything starts: nothing may run that nobody can reach or stop, or that
  // declares client tokens it cannot tell from the admin.
  assertSafeBinding(options.host ?? '127.0.0.1', options.token);
  clientCredentials(project.config, options.token, options.env ?? process.env);
  const ws = await openWorkspace(project);
  const closers: (() => Promise<void> | void)[] = [() => ws.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
    closers.length = 0;
  };
  try {
    if (options.runBatch) await runModels(ws, { quiet: true, log, trigger: 'server' });
    const eventLog = openLog(ws);
    closers.push(() => eventLog.close());
    const streams = await startStreams(ws, eventLog);
    closers.push(() => streams.stop());
    const ps = await openScheduler(ws, { log });
    await ps.scheduler.start();
    closers.push(() => ps.scheduler.stop());
    // Jobs scheduled on table changes hear of every commit (a stream batch, a batch run).
    ws.metastore.onCommit((committed) => {
      if (committed.tables.length) void ps.scheduler.tablesChanged(committed.tables);
    });
    const hub = new DashboardHub(await ws.engine.fork(), await loadDashboards(project), undefined, firstWriters(ws));
    const app = await createServer({ ws, streams }, options, [
      webPlugin(hub),
      jobsPlugin(ps),
      commandsPlugin({ status: () => streams.jobs.map((j) => j.snapshot()), scheduler: ps }),
      lookupPlugin(),
    ]);
    closers.push(() => app.close());
    const url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7070 });
    // Other commands find the running server here and work through it.
    const file = serverFile(project);
    writeFileSync(file, JSON.stringify({ url, pid: process.pid }));
    closers.push(() => rmSync(file, { force: true }));
    if (options.replay) {
      const replayer = await loadReplayer(project, options.replay.name);
      const topic = eventLog.topic(project.config.replayers[options.replay.name]!.topic);
      const { next } = await replayer.open({ projectDir: project.dir, log });
      const abort = new AbortController();
      const producing = replay({ next, bursts: replayer.bursts, rate: options.replay.rate, signal: abort.signal, send: async (events) => void topic.append(events.map((value) => ({ value }))) });
      closers.push(async () => {
        abort.abort();
        await producing;
      });
    }
    const stop = () => {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return { url, project: project.config.name, hub, ws, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Runs the project's stream jobs until their inputs are empty, then stops. */
export async function drain(project: Project, flags: { maxBatch?: number; json?: boolean }): Promise<void> {
  for (const stream of Object.values(project.config.streams)) if (flags.maxBatch) stream.maxBatch = flags.maxBatch;
  const ws = await openWorkspace(project);
  const log = openLog(ws);
  try {
    const runtime = await startStreams(ws, log, { start: false });
    // Stopped on failure too: an input's open connection (Kafka, NATS) would keep the process alive.
    try {
      const results: Record<string, { events: number; seconds: number }> = {};
      for (const job of runtime.jobs) {
        const started = Date.now();
        const events = await job.drain();
        results[job.name] = { events, seconds: (Date.now() - started) / 1000 };
        if (!flags.json) console.error(`✔ ${job.name}: ${events.toLocaleString('en-US')} events in ${results[job.name]!.seconds.toFixed(1)} s`);
      }
      if (flags.json) console.log(JSON.stringify({ results, status: runtime.jobs.map((j) => j.snapshot()) }));
    } finally {
      await runtime.stop();
    }
  } finally {
    log.close();
    await ws.close();
  }
}

export interface ServerStatus {
  jobs: JobStatus[];
  groups?: GroupOffsets[];
  deadLetters: Record<string, number>;
}

export async function fetchStatus(url: string): Promise<ServerStatus> {
  const response = await request(`${url.replace(/\/$/, '')}/v1/status`);
  if (!response.ok) throw new TributaryError(`status request failed with ${response.status}`, { hint: 'is TRIBUTARY_TOKEN set to the server’s token?' });
  return (await response.json()) as ServerStatus;
}

export async function showStatus(url: string): Promise<void> {
  console.log(renderStatus(await fetchStatus(url)));
}

/** `tributary status` as text: a row per stream job, its consumer groups' partitions, the dead letters by origin. */
export function renderStatus(status: ServerStatus): string {
  const out = [
    renderRows(
      status.jobs.map((j) => ({
        job: j.job,
        state: j.state,
        lag: j.lag,
        'events/s': j.eventsPerSecond,
        events: j.events,
        'last batch': j.lastBatch ? `${j.lastBatch.events} in ${j.lastBatch.ms} ms at ${j.lastBatch.at.slice(11, 19)}` : '',
        // Each number named: the sinks are the job's own (lake, serving, dead_letters…), as many as it has.
        'last batch ms': j.lastBatch ? batchStages(j.lastBatch.durationMs) : '',
        'p50/p99 ms': j.latencyMs.p50 === null ? '' : `${j.latencyMs.p50}/${j.latencyMs.p99}`,
        'dead letters': j.deadLetters,
        late: j.late,
        error: j.error ?? '',
      })),
      'table',
    ),
  ];
  const partitions = (status.groups ?? []).flatMap((g) =>
    g.partitions.map((p) => ({ group: g.group, job: g.job, input: g.input, partition: p.partition, committed: p.committed ?? '', end: p.end, lag: p.lag, error: g.error ?? '' })),
  );
  if (partitions.length) out.push(`\nconsumer groups:\n${renderRows(partitions, 'table')}`);
  const refused = Object.entries(status.deadLetters ?? {});
  if (refused.length) out.push(`dead letters: ${refused.map(([origin, n]) => `${origin} ${n.toLocaleString('en-US')}`).join(', ')} (\`tributary dead-letters\` lists them, as does the UI's catalog page)`);
  return out.join('\n');
}

/** Where a batch's time went, each stage by name: "read 2, stage 5, load 9, lake 14, serving 3". */
export function batchStages(durations: BatchDurations): string {
  // The job's own sinks by their names; the ones every job has (`__dead_letters`) in words.
  const sinks = Object.entries(durations.sinks).map(([name, ms]): [string, number] => [name.startsWith('__') ? name.slice(2).replaceAll('_', ' ') : name, ms]);
  const stages: [string, number][] = [['read', durations.read], ['stage', durations.stage], ['load', durations.load], ...sinks];
  return stages.map(([name, ms]) => `${name} ${ms}`).join(', ');
}
