import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { GroupMembership } from '../catalog/index.js';
import { inputIsLocal, openInput } from '../connectors/index.js';
import { TributaryError } from '../core/errors.js';
import { Log } from '../log/index.js';
import type { Engine } from '../engine/index.js';
import type { Workspace } from '../state/workspace.js';
import { HotKeyDetector } from './hot-keys.js';
import { StreamJob, groupOf } from './job.js';

/** The embedded log and every stream job of a project, as `tributary up` runs them. */
export interface StreamRuntime {
  log: Log;
  jobs: StreamJob[];
  /** Resolves once the hot keys asked to be learned so far (at start, after a table's commit) are. */
  hotKeysSettled(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Opens the project's log with its topics. Hot keys listed in the config take effect here;
 * learned ones (`hotKeys: { from }`) keep what was last recorded until startStreams learns again.
 */
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
    if (!topic.hotKeys || Array.isArray(topic.hotKeys)) t.setHotKeys(topic.hotKeys ?? []);
  }
  return log;
}

/** Two jobs in one group would each commit the group's offsets over the other's. */
function assertDistinctGroups(ws: Workspace): void {
  const seen = new Map<string, string>();
  for (const [name, config] of Object.entries(ws.project.config.streams)) {
    const group = groupOf(name, config);
    const other = seen.get(group);
    if (other) {
      throw new TributaryError(`stream jobs ${other} and ${name} both read as consumer group '${group}'`, {
        hint: 'give each job a group of its own (`group`, default: the job name): each group receives every record of its input',
      });
    }
    seen.set(group, name);
  }
}

/**
 * Opens every stream job of the project, each on a connection of its own; starts them unless told
 * not to. Hot keys learned from the catalog are learned first, and again whenever their table
 * changes.
 */
export async function startStreams(
  ws: Workspace,
  log: Log,
  options: {
    start?: boolean;
    only?: string[];
    say?: (message: string) => void;
    /** A worker: it leaves the jobs whose input is a process's own (its collector's log, its spool folder) to `tributary up`. */
    withoutLocalInputs?: boolean;
  } = {},
): Promise<StreamRuntime> {
  assertDistinctGroups(ws);
  const say = options.say ?? ((message: string) => process.stderr.write(`${message}\n`));
  const jobs: StreamJob[] = [];
  const engines: Engine[] = [];
  const memberships: GroupMembership[] = [];
  let detector: HotKeyDetector | undefined;
  let stopWatching = () => {};
  // Also what a failed start undoes: nothing it opened may outlive it.
  const closeAll = async () => {
    stopWatching();
    await detector?.settled();
    for (const job of jobs) await job.stop();
    for (const membership of memberships) await membership.leave();
    for (const engine of engines) engine.close();
  };
  try {
    // Hot keys steer the collector's appends to the log; a worker appends nothing.
    if (HotKeyDetector.needed(ws) && !options.withoutLocalInputs) {
      const engine = await ws.engine.fork();
      engines.push(engine);
      detector = new HotKeyDetector(ws, log, engine, say);
      await detector.detect();
      stopWatching = detector.watch();
    }
    for (const [name, declared] of Object.entries(ws.project.config.streams)) {
      if (options.only && !options.only.includes(name)) continue;
      const local = ws.shared !== undefined && inputIsLocal(ws.project.components.inputs, declared.input);
      if (local && options.withoutLocalInputs) {
        say(`${name}: its ${declared.input.kind} input belongs to the process that reads it (a collector’s log, a spool folder): left to \`tributary up\``);
        continue;
      }
      // Each process's own input on a shared catalog is a group of its own: its offsets are that input's.
      const config = local ? { ...declared, group: `${groupOf(name, declared)}@${hostname()}:${ws.project.stateDir}` } : declared;
      const engine = await ws.engine.fork();
      engines.push(engine);
      const group = groupOf(name, config);
      // Workers on a shared catalog split the job's partitions; each is a member of its group there.
      const membership =
        ws.shared &&
        !local &&
        (await ws.shared.joinGroup(group, `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, (share) =>
          say(`${name}: reads ${share.partitions.length ? `partition${share.partitions.length > 1 ? 's' : ''} ${share.partitions.join(', ')}` : 'no partition'} of ${share.of} (${share.members} worker${share.members > 1 ? 's' : ''} in group ${group})`),
        ));
      if (membership) memberships.push(membership);
      const input = await openInput(ws.project.components.inputs, config.input, {
        job: name,
        group,
        log,
        baseDir: ws.project.dir,
        stateDir: path.join(ws.project.stateDir, 'stream', name),
        workers: membership || undefined,
      });
      const job = new StreamJob(ws, engine, name, config, input);
      // Closed with the others if it fails to open: its input's connection would keep the process alive.
      jobs.push(job);
      await job.open();
      if (options.start ?? true) job.start();
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  return {
    log,
    jobs,
    hotKeysSettled: () => detector?.settled() ?? Promise.resolve(),
    stop: closeAll,
  };
}
