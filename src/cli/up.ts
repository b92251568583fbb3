import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { renderRows } from '../commands/index.js';
import type { Project } from '../config/project.js';
import { TributaryError } from '../core/errors.js';
import { BatchWorkTaker } from '../owner/batch-work.js';
import { schedulerPlatform, sharedLeaseMs } from '../owner/scheduler.js';
import { Log } from '../log/index.js';
import { openWorkspace } from '../state/workspace.js';
import type { BatchDurations, GroupOffsets, JobStatus } from '../stream/job.js';
import { openLog, startStreams } from '../stream/runtime.js';
import { request } from './remote.js';

/** Runs the project's stream jobs until their inputs are empty, then stops. */
export async function drain(project: Project, flags: { maxBatch?: number; json?: boolean }): Promise<void> {
  for (const stream of Object.values(project.config.streams)) if (flags.maxBatch) stream.maxBatch = flags.maxBatch;
  const ws = await openWorkspace(project);
  const log = openLog(ws);
  try {
    const runtime = await startStreams(ws, log, { start: false });
    // A drain that ran nothing would exit 0 with no table written: a replay that silently did nothing.
    if (!runtime.jobs.length) {
      await runtime.stop();
      throw new TributaryError(`project ${project.config.name} has no stream job to drain`, { hint: 'declare one under streams in the project file' });
    }
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

/** How often a worker says where its jobs stand. */
const WORKER_REPORT_MS = 10_000;

/**
 * `tributary worker`: joins the project through its shared catalog and runs its stream jobs
 * beside the project's other workers (and `up`), splitting each input's partitions with them,
 * until stopped (SIGTERM, Ctrl+C). Each job's offsets commit with its rows, compared-and-set, so
 * a worker may be killed or added at any moment.
 */
export async function work(project: Project, flags: { stream?: string[]; maxBatch?: number }): Promise<void> {
  if (!project.catalogUrl) {
    throw new TributaryError('a worker joins a project through its shared catalog, and this project has none', {
      hint: 'set TRIBUTARY_CATALOG to a PostgreSQL URL (and TRIBUTARY_LAKE to a lake every worker reaches, e.g. s3://bucket/prefix); one process alone runs its jobs with `tributary up`',
    });
  }
  const unknown = (flags.stream ?? []).filter((name) => !project.config.streams[name]);
  if (unknown.length) {
    throw new TributaryError(`no stream job named ${unknown.join(', ')}`, { hint: `the project's stream jobs: ${Object.keys(project.config.streams).join(', ') || 'none'}` });
  }
  for (const stream of Object.values(project.config.streams)) if (flags.maxBatch) stream.maxBatch = flags.maxBatch;
  const ws = await openWorkspace(project, { onSyncError: (error) => console.error(`catalog: ${error.message}`) });
  // Left unopened: a worker reads brokers only, and the log belongs to the `up` that collects into it.
  const log = new Log(path.join(project.stateDir, 'log'));
  const runtime = await startStreams(ws, log, { only: flags.stream, withoutLocalInputs: true }).catch(async (error: unknown) => {
    log.close();
    await ws.close();
    throw error;
  });
  const member = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const taker = await BatchWorkTaker.start(ws, member, schedulerPlatform(ws, (m) => console.error(m)), { leaseMs: sharedLeaseMs(), log: (m) => console.error(m) }).catch(async (error: unknown) => {
    await runtime.stop();
    log.close();
    await ws.close();
    throw error;
  });
  const streams = runtime.jobs.length ? `runs ${runtime.jobs.map((j) => j.name).join(', ')} and ` : '';
  console.error(`worker ${process.pid} ${streams}takes the scheduler's model runs of ${project.config.name} on the catalog at ${ws.shared!.shown}. Ctrl+C stops it.`);
  await new Promise<void>((resolve, reject) => {
    const report = setInterval(() => {
      for (const job of runtime.jobs) {
        const s = job.snapshot();
        if (s.state === 'failed') return void finish(new TributaryError(`stream job ${s.job} failed: ${s.error}`, { hint: 'fix what it says and start the worker again: it resumes from the committed offsets' }));
        console.error(`${s.job}: ${s.events.toLocaleString('en-US')} events, ${s.eventsPerSecond.toLocaleString('en-US')}/s, lag ${s.lag.toLocaleString('en-US')}, ${s.conflicts} batches left to another worker`);
      }
    }, WORKER_REPORT_MS);
    const finish = (error?: Error) => {
      clearInterval(report);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      taker
        .stop()
        .then(() => runtime.stop())
        .then(() => {
          for (const s of runtime.jobs.map((j) => j.snapshot())) {
            console.error(`${s.job}: ${s.events} events committed by this worker, ${s.conflicts} batches left to another worker`);
          }
        })
        .then(() => log.close())
        .then(() => ws.close())
        .then(() => (error ? reject(error) : resolve()), reject);
    };
    const stop = () => finish();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
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
  const stages: [string, number][] = [['read', durations.read], ['stage', durations.stage], ['load', durations.load], ...sinks, ['commit', durations.commit]];
  return stages.map(([name, ms]) => `${name} ${ms}`).join(', ');
}
