import type { Project } from '../config/project.js';
import { loadReplayer } from '../config/modules.js';
import { runModels } from '../models/index.js';
import { assertSafeBinding, createServer, type ServerOptions } from '../server/app.js';
import { clientCredentials } from '../server/auth.js';
import { commandsPlugin } from '../server/commands.js';
import { DashboardHub, loadDashboards } from '../server/dashboards.js';
import { firstWriters } from './first-writers.js';
import { jobsPlugin } from '../server/jobs.js';
import { lookupPlugin } from '../server/lookup.js';
import { webPlugin } from '../server/web.js';
import { openWorkspace, type Workspace } from '../state/workspace.js';
import { replay } from '../stream/replay.js';
import { openLog, startStreams } from '../stream/runtime.js';
import { openScheduler } from './scheduler.js';
import { NotLeading } from '../catalog/index.js';
import { TributaryError } from '../core/errors.js';
import { writeServerRecord } from './server-record.js';

export interface StackOptions extends ServerOptions {
  /** Run the project's batch models before serving (the demo loads its data this way). */
  runBatch?: boolean;
  /** Send this replayer's events into the log, the way the original producer did. */
  replay?: { name: string; rate?: number };
  log?: (message: string) => void;
  /** The target was named (--target, TRIBUTARY_TARGET) rather than taken as the project's default. */
  targetNamed?: boolean;
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
    let url: string | undefined;
    const ps = await openScheduler(ws, { log, serverUrl: () => url });
    // Jobs scheduled on table changes hear of every commit (a stream batch, a batch run); a
    // standby's scheduler is not running and creates nothing (the leader hears of the commit too).
    // Listening before the scheduler starts, so that no commit falls between the catch-up of its
    // start (on the commits it did not hear of) and the first commit it hears of.
    ws.metastore.onCommit((committed) => {
      if (committed.tables.length) void ps.scheduler.tablesChanged(committed.tables, committed.snapshot).catch((error: unknown) => {
        if (!(error instanceof NotLeading)) log(`[scheduler] error: ${(error as Error).message}`);
      });
    });
    // With a shared catalog, this process leads the scheduler or stands by until it may.
    await ps.start();
    closers.push(() => ps.stop());
    const hub = new DashboardHub(await ws.engine.fork(), await loadDashboards(project), undefined, firstWriters(ws));
    const app = await createServer({ ws, streams }, options, [
      webPlugin(hub),
      jobsPlugin(ps),
      commandsPlugin({ status: () => streams.jobs.map((j) => j.snapshot()), scheduler: ps }),
      lookupPlugin(),
    ]);
    closers.push(() => app.close());
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 7070;
    url = await app.listen({ host, port }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') throw new TributaryError(`port ${port} on ${host} is in use by another program`, { hint: 'stop that program, or choose another port with --port' });
      if (error.code === 'EACCES') throw new TributaryError(`port ${port} on ${host} needs privileges this process lacks`, { hint: 'choose --port 1024 or above' });
      if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') throw new TributaryError(`cannot listen on ${host}: no such address on this machine`, { hint: 'give --host an address of this machine (127.0.0.1 by default, 0.0.0.0 for every one)' });
      throw error;
    });
    // Other commands find the running server here and work through it.
    const target = project.target.name;
    closers.push(writeServerRecord(project.stateDir, { url, pid: process.pid, target, dir: project.dir, ...(options.targetNamed ? {} : { defaultTarget: target }) }));
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

