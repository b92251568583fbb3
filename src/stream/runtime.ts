import path from 'node:path';
import type { Workspace } from '../models/workspace.js';
import { kafkaInput } from './inputs/kafka.js';
import { logInput } from './inputs/log.js';
import { natsInput } from './inputs/nats.js';
import type { StreamInput } from './inputs/types.js';
import { StreamJob } from './job.js';
import { Log, hotKeyPartitioner } from './log/index.js';

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

export async function inputFor(ws: Workspace, log: Log, job: string): Promise<StreamInput> {
  const input = ws.project.config.streams[job]!.input;
  if ('topic' in input) return logInput(log.topic(input.topic));
  if ('kafka' in input) return kafkaInput(input.kafka, job);
  return natsInput(input.nats);
}

export async function startStreams(ws: Workspace, log: Log, options: { start?: boolean } = {}): Promise<StreamRuntime> {
  const jobs: StreamJob[] = [];
  for (const [name, config] of Object.entries(ws.project.config.streams)) {
    const job = new StreamJob(ws, name, config, await inputFor(ws, log, name));
    await job.open();
    if (options.start ?? true) job.start();
    jobs.push(job);
  }
  return {
    log,
    jobs,
    async stop() {
      for (const job of jobs) await job.stop();
    },
  };
}
