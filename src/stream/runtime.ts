import path from 'node:path';
import { openInput } from '../connectors/index.js';
import { Log, hotKeyPartitioner } from '../log/index.js';
import type { Engine } from '../engine/index.js';
import type { Workspace } from '../models/workspace.js';
import { StreamJob } from './job.js';

/** The embedded log and every stream job of a project, as `tributary up` runs them. */
export interface StreamRuntime {
  log: Log;
  jobs: StreamJob[];
  stop(): Promise<void>;
}

export function openLog(ws: Workspace): Log {
  const log = new Log(path.join(ws.project.stateDir, 'log'));
  for (const [name, topic] of Object.entries(ws.project.config.topics)) {
    const t = log.topic(name, {
      partitions: topic.partitions,
      syncEveryAppend: topic.syncEveryAppend,
      retention: {
        maxBytes: topic.retentionMB ? topic.retentionMB * 1024 * 1024 : undefined,
        maxAgeMs: topic.retentionHours ? topic.retentionHours * 3_600_000 : undefined,
      },
    });
    if (topic.hotKeys?.length) t.usePartitioner(hotKeyPartitioner(topic.hotKeys));
  }
  return log;
}

/** Opens every stream job of the project, each on a connection of its own; starts them unless told not to. */
export async function startStreams(ws: Workspace, log: Log, options: { start?: boolean; only?: string[] } = {}): Promise<StreamRuntime> {
  const jobs: StreamJob[] = [];
  const engines: Engine[] = [];
  for (const [name, config] of Object.entries(ws.project.config.streams)) {
    if (options.only && !options.only.includes(name)) continue;
    const engine = await ws.engine.fork();
    engines.push(engine);
    const input = await openInput(config.input, { job: name, log, baseDir: ws.project.dir, stateDir: path.join(ws.project.stateDir, 'stream', name) });
    const job = new StreamJob(ws, engine, name, config, input);
    await job.open();
    if (options.start ?? true) job.start();
    jobs.push(job);
  }
  return {
    log,
    jobs,
    async stop() {
      for (const job of jobs) await job.stop();
      for (const engine of engines) engine.close();
    },
  };
}
