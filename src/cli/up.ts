import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Project } from '../core/project.js';
import { openWorkspace, runModels } from '../models/index.js';
import { createServer, type ServerOptions } from '../server/app.js';
import { DashboardHub, loadDashboards } from '../server/dashboards.js';
import { webPlugin } from '../server/web.js';
import { readSample, replay } from '../stream/producer.js';
import { openLog, startStreams } from '../stream/runtime.js';

export interface StackOptions extends ServerOptions {
  /** Run the project's batch models before serving (the demo loads the sample this way). */
  runBatch?: boolean;
  /** Replay this sample into the log as live events, the way the original producer did. */
  produce?: { sample: string; topic: string; rate?: number };
  log?: (message: string) => void;
}

/** The server running for a project, if any (written by startStack, removed when it stops). */
export function runningServer(project: Project): string | undefined {
  try {
    const { url, pid } = JSON.parse(readFileSync(path.join(project.stateDir, 'server.json'), 'utf8')) as { url: string; pid: number };
    process.kill(pid, 0);
    return url;
  } catch {
    return undefined;
  }
}

export interface Stack {
  url: string;
  hub: DashboardHub;
  close(): Promise<void>;
}

/**
 * One process owns the warehouse, the log and the stream jobs, and serves them: the collector,
 * status and metrics, the web UI with live dashboards. Stops cleanly on SIGINT/SIGTERM.
 */
export async function startStack(project: Project, options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const ws = await openWorkspace(project);
  if (options.runBatch) await runModels(ws, { quiet: true, log });
  const eventLog = openLog(ws);
  const streams = await startStreams(ws, eventLog);
  const hub = new DashboardHub(await ws.engine.fork(), await loadDashboards(project));
  const app = await createServer({ ws, streams }, options, [webPlugin(hub)]);
  const url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7070 });
  // Other CLI commands find the running server here and talk to it instead of the locked files.
  const serverFile = path.join(project.stateDir, 'server.json');
  writeFileSync(serverFile, JSON.stringify({ url, pid: process.pid }));
  const abort = new AbortController();
  let producing: Promise<number> | undefined;
  if (options.produce) {
    const topic = eventLog.topic(options.produce.topic);
    producing = replay({
      sample: readSample(options.produce.sample),
      rate: options.produce.rate,
      signal: abort.signal,
      send: async (events) => void topic.append(events.map((value) => ({ value }))),
    });
  }
  const close = async () => {
    rmSync(serverFile, { force: true });
    abort.abort();
    await producing;
    await app.close();
    await streams.stop();
    eventLog.close();
    ws.close();
  };
  const onSignal = () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { url, hub, close };
}
