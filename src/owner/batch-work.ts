import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { TributaryError } from '../core/errors.js';
import type { GroupMembership, WorkQueue } from '../catalog/index.js';
import type { Platform, PlatformCall, RunInterval } from '../scheduler/index.js';
import type { Workspace } from '../state/workspace.js';

/**
 * A scheduler's model runs spread over the processes of a shared catalog (issue 20). The leader
 * offers each task's model run in the catalog's work queue; a free `tributary worker` or standby
 * `up` takes it, runs it on its own engine against the same catalog and lake, and heartbeats until
 * it is done. The leader keeps the task's lease meanwhile, follows the taker's log, and runs the
 * work itself when no other process takes it soon. So a backfill's intervals, and a run's
 * independent model tasks, run on as many processes as are free, and every guarantee of a task
 * holds: a taker that dies stops heartbeating, its attempt fails and is retried per the task's
 * policy; a model it committed is not run again (its run record commits with its rows).
 */

/** The group of the processes that take batch work. */
export const BATCH_GROUP = 'tributary:batch';
const MODELS = 'models';

/** How long offered work waits for a taker before the leader runs it itself. */
const CLAIM_MS = 1_500;
/** How often the leader looks at work it handed out, and a free taker for work. */
const POLL_MS = 250;

type ModelsCall = Parameters<Platform['runModels']>[0];

/** A model run as the queue carries it: the call without its signal and log. */
interface ModelsRequest {
  select: readonly string[];
  exclude: readonly string[];
  fullRefresh: boolean;
  interval: { start: string; end: string; ds: string; timezone: string };
  origin?: PlatformCall['origin'];
}

/**
 * The leader's platform, its model runs offered to the other processes while any is there to
 * take them.
 */
export function sharingModelRuns(platform: Platform, queue: WorkQueue, takers: GroupMembership, leaseMs: number): Platform {
  return {
    ...platform,
    async runModels(call) {
      if (!(await takers.others()).length) return platform.runModels(call);
      const id = randomUUID();
      const request: ModelsRequest = {
        select: call.select,
        exclude: call.exclude,
        fullRefresh: call.fullRefresh,
        interval: { ...call.interval, start: call.interval.start.toISOString(), end: call.interval.end.toISOString() },
        ...(call.origin ? { origin: call.origin } : {}),
      };
      const label = call.origin ? `${call.origin.job}.${call.origin.task} for ${call.interval.ds}` : `models for ${call.interval.ds}`;
      await queue.offer(id, MODELS, label, request);
      return follow(queue, id, call, leaseMs, () => platform.runModels(call));
    },
  };
}

/**
 * Waits for offered work to end, passing its taker's log on; runs it here if nobody takes it in
 * time. A taker silent for a lease's time is gone (killed, cut off), as a task's is.
 */
async function follow(queue: WorkQueue, id: string, call: ModelsCall, leaseMs: number, runHere: () => Promise<unknown>): Promise<unknown> {
  const offeredAt = Date.now();
  let shown = 0;
  let taker: string | null = null;
  for (;;) {
    if (call.signal.aborted) {
      await queue.cancel(id, 'the task was aborted (timed out, or its scheduler stopped)');
      throw call.signal.reason;
    }
    const status = await queue.status(id);
    if (!status) throw new TributaryError(`the batch work ${id} vanished from the catalog's queue`, { hint: 'it is retried per the task’s policy' });
    if (status.taker && status.taker !== taker) {
      taker = status.taker;
      call.log(`run by ${taker}`);
    }
    for (const line of status.log.slice(shown).split('\n')) if (line) call.log(`[${taker}] ${line}`);
    shown = status.log.length;
    switch (status.state) {
      case 'offered':
        if (Date.now() - offeredAt > CLAIM_MS && (await queue.withdraw(id))) {
          call.log('no other process took it in time: run here');
          return runHere();
        }
        break;
      case 'taken':
        if ((status.silentMs ?? 0) > leaseMs) {
          const reason = `${taker} stopped heartbeating ${Math.round(status.silentMs! / 1000)} s ago (killed, or cut off from the catalog)`;
          await queue.cancel(id, reason);
          throw new TributaryError(`the model run handed to ${reason}`, { hint: 'the attempt is retried per the task’s policy; models it committed are not run again' });
        }
        break;
      case 'done':
        return status.result;
      case 'failed':
        throw new TributaryError(`${status.error ?? 'failed'} (run by ${taker})`);
      case 'cancelled':
      case 'withdrawn':
        throw new TributaryError(`the batch work was ${status.state}: ${status.error ?? 'by another process'}`);
    }
    await delay(POLL_MS, undefined, { signal: call.signal }).catch(() => undefined);
  }
}

/**
 * This process takes model runs the leader offers, one at a time, while `paused` says it may (a
 * process that leads runs its own work instead).
 */
export class BatchWorkTaker {
  private stopped = false;
  private current: AbortController | undefined;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly queue: WorkQueue,
    private readonly membership: GroupMembership,
    private readonly platform: Platform,
    /** A third of the lease, as the scheduler heartbeats a task's. */
    private readonly heartbeatMs: number,
    private readonly log: (message: string) => void,
  ) {}

  static async start(
    ws: Workspace,
    member: string,
    platform: Platform,
    options: { leaseMs: number; paused?: () => boolean; log: (message: string) => void },
  ): Promise<BatchWorkTaker> {
    const queue = await ws.shared!.openWorkQueue(member);
    const membership = await ws.shared!.joinGroup(BATCH_GROUP, member).catch(async (error: unknown) => {
      await queue.close();
      throw error;
    });
    const taker = new BatchWorkTaker(queue, membership, platform, options.leaseMs / 3, options.log);
    taker.loop = taker.run(options.paused ?? (() => false));
    return taker;
  }

  /** Stops taking; work under way is aborted and given back as failed, so the leader retries it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort(new TributaryError('the process that ran it stopped'));
    await this.loop;
    await this.membership.leave();
    await this.queue.close();
  }

  private async run(paused: () => boolean): Promise<void> {
    while (!this.stopped) {
      const work = paused() ? undefined : await this.queue.take([MODELS]).catch((error: unknown) => {
        this.log(`[batch] warn: could not look for work: ${(error as Error).message}`);
        return undefined;
      });
      if (work) await this.execute(work.id, work.label, work.request as ModelsRequest);
      else await delay(POLL_MS);
    }
  }

  private async execute(id: string, label: string, request: ModelsRequest): Promise<void> {
    const controller = new AbortController();
    this.current = controller;
    let lines = '';
    const take = () => {
      const taken = lines;
      lines = '';
      return taken;
    };
    this.log(`[batch] info: runs ${label}`);
    const beat = setInterval(() => {
      void this.queue.heartbeat(id, take()).then(
        (ours) => ours || controller.abort(new TributaryError('the leader cancelled it')),
        () => undefined,
      );
    }, this.heartbeatMs);
    let outcome: { result: unknown } | { error: string };
    try {
      const interval: RunInterval = { ...request.interval, start: new Date(request.interval.start), end: new Date(request.interval.end) };
      const result = await this.platform.runModels({
        ...request,
        interval,
        signal: controller.signal,
        log: (line) => void (lines += `${line}\n`),
      });
      outcome = { result };
    } catch (error) {
      outcome = { error: (error as Error).message };
    } finally {
      clearInterval(beat);
      this.current = undefined;
    }
    const ours = await this.queue.finish(id, outcome, take()).catch(() => false);
    this.log(`[batch] info: ${label}: ${'error' in outcome ? `failed: ${outcome.error}` : 'done'}${ours ? '' : ' (no longer wanted by the leader)'}`);
  }
}
