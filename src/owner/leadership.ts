import { TributaryError } from '../core/errors.js';
import { fenceStatement, type DuckDBSchedulerStore, type Leadership, type LeaderInfo, type SchedulerLease } from '../catalog/index.js';
import type { Scheduler } from '../scheduler/index.js';

/** What `tributary up` shows of the scheduler's leadership (a shared catalog). */
export interface LeadershipStatus {
  /** This process: leader or standby. */
  role: 'leader' | 'standby';
  /** This process's name in the lease. */
  holder: string;
  /** The process that holds the lease now, as the catalog says. */
  leader?: { holder: string; epoch: number; url: string | null; since: string; expiresAt: string; live: boolean };
}

/**
 * The scheduler of one process among several sharing a catalog (issue 20): it runs only while
 * this process holds the leader lease. A standby polls the lease and, once the leader's has
 * expired (killed, cut off) or was given up (a clean stop), takes it, reads the store afresh and
 * starts the scheduler, whose recovery expires the dead leader's attempts when their task leases
 * run out and retries them per policy. A leader that cannot renew its lease, or whose write is
 * refused by the fence, stops scheduling and stands by again.
 */
export class SchedulerLeadership {
  private leadership: Leadership | undefined;
  /** When the last renewal that succeeded was sent (this process's clock): the lease holds at least ttl after it. */
  private renewedAt = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly lease: SchedulerLease,
    private readonly store: DuckDBSchedulerStore,
    private readonly scheduler: Scheduler,
    private readonly log: (message: string) => void,
    private readonly serverUrl?: () => string | undefined,
  ) {}

  get leading(): boolean {
    return this.leadership !== undefined;
  }

  /**
   * Starts following the lease: leads at once if nobody does. With `required` (a command run in the
   * foreground), a lease held by another process is refused with who holds it.
   */
  async start(options: { required?: boolean } = {}): Promise<void> {
    await this.serially(() => this.poll());
    if (options.required && !this.leading) {
      const leader = await this.lease.leader().catch(() => undefined);
      await this.lease.close();
      throw new TributaryError(`the scheduler is led by another process (${leader?.holder ?? 'unknown'}${leader?.url ? ` at ${leader.url}` : ''})`, {
        hint: leader?.url ? `send the command to that process’s server: --server ${leader.url} (or TRIBUTARY_SERVER)` : 'send the command to that process’s server (--server URL), or stop it first',
      });
    }
    this.arm();
  }

  /** Stops scheduling (running attempts finish first, as a clean stop of the scheduler does), then gives the lease up. */
  async stop(options: { abort?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.serially(async () => {
      await this.scheduler.stop(options);
      const held = this.leadership;
      this.leadership = undefined;
      this.store.follow();
      if (held) await this.lease.release(held).catch(() => undefined);
    });
    await this.lease.close();
  }

  async status(): Promise<LeadershipStatus> {
    const leader: LeaderInfo | undefined = await this.lease.leader().catch(() => undefined);
    return {
      role: this.leading ? 'leader' : 'standby',
      holder: this.lease.holder,
      ...(leader
        ? { leader: { holder: leader.holder, epoch: leader.epoch, url: leader.url, since: leader.acquiredAt.toISOString(), expiresAt: leader.expiresAt.toISOString(), live: leader.live } }
        : {}),
    };
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.serially(() => this.poll()).finally(() => this.arm()), Math.max(100, this.lease.ttlMs / 3));
    this.timer.unref();
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work).catch((error: unknown) => this.log(`[scheduler] error: leadership: ${(error as Error).message}`));
    this.chain = next;
    return next;
  }

  /** Renews the lease (leader) or tries to take it (standby). */
  private async poll(): Promise<void> {
    if (this.stopped) return;
    const sentAt = Date.now();
    const held = this.leadership;
    if (held) {
      let renewed: boolean | undefined;
      try {
        renewed = await this.lease.renew(held, this.serverUrl?.());
      } catch (error) {
        this.log(`[scheduler] warn: could not renew the leader lease: ${(error as Error).message}`);
      }
      if (renewed) this.renewedAt = sentAt;
      else if (renewed === false) await this.stepDown(`another process took the leader lease (epoch ${held.epoch} is over)`);
      else if (Date.now() - this.renewedAt >= this.lease.ttlMs) await this.stepDown('the leader lease could not be renewed before it expired');
      return;
    }
    let taken: Leadership | undefined;
    try {
      taken = await this.lease.tryAcquire(this.serverUrl?.());
    } catch (error) {
      this.log(`[scheduler] warn: could not reach the leader lease: ${(error as Error).message}`);
    }
    if (!taken) return;
    this.leadership = taken;
    this.renewedAt = sentAt;
    try {
      await this.store.lead({
        statement: fenceStatement(taken),
        // A write refused by the fence: another process leads; stop at once rather than at the next renewal.
        onLost: () => void this.serially(() => this.stepDown(`a write was refused: epoch ${taken.epoch} no longer leads`, taken)),
      });
      await this.scheduler.start();
      this.log(`[scheduler] info: this process leads the scheduler (${taken.holder}, epoch ${taken.epoch})`);
    } catch (error) {
      this.log(`[scheduler] error: could not take over the scheduler: ${(error as Error).message}`);
      await this.stepDown('taking over failed', taken);
    }
  }

  private async stepDown(reason: string, only?: Leadership): Promise<void> {
    const held = this.leadership;
    if (!held || (only && only.epoch !== held.epoch)) return;
    this.leadership = undefined;
    this.store.follow();
    this.log(`[scheduler] warn: this process stops leading the scheduler: ${reason}; standing by`);
    // Attempts still running here are abandoned: their writes would be refused, and the new leader
    // retries them once their task leases expire.
    await this.scheduler.stop({ abort: true });
  }
}
