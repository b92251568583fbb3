import type pg from 'pg';
import { createConcurrently, pgClient } from './pg-ddl.js';

/**
 * Batch work that the scheduler's leader hands to the other processes of a shared catalog
 * (`tributary worker`, a standby `up`): one row per piece of work in the catalog, taken with
 * `SELECT … FOR UPDATE SKIP LOCKED` by whichever process is free, kept alive by its heartbeat and
 * finished by the process that took it, each step a conditional UPDATE that checks the state and
 * the taker it expects. No queue service: the catalog is the queue, as it is the scheduler's
 * task leases. The leader keeps the task's own lease the whole time, so a taker that dies is a
 * failed attempt of the task, retried per its policy like any other.
 */
const TABLE = 'tributary.work_items';
const DDL = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, request JSONB NOT NULL, state TEXT NOT NULL,
  offered_by TEXT NOT NULL, offered_at TIMESTAMPTZ NOT NULL, taker TEXT, taken_at TIMESTAMPTZ, heartbeat_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ, result JSONB, error TEXT, log TEXT NOT NULL DEFAULT '')`;

/** What a piece of work is now: `offered` → `taken` → `done` | `failed`; or `withdrawn` (the leader ran it), `cancelled`. */
export type WorkState = 'offered' | 'taken' | 'done' | 'failed' | 'withdrawn' | 'cancelled';

export interface WorkStatus {
  state: WorkState;
  taker: string | null;
  /** Milliseconds since the taker's last heartbeat (PostgreSQL's clock), when taken. */
  silentMs: number | null;
  result: unknown;
  error: string | null;
  log: string;
}

export interface TakenWork {
  id: string;
  kind: string;
  label: string;
  request: unknown;
}

/** Finished work is kept this long for `tributary` commands and people to look at, then deleted. */
const KEEP_FINISHED = '7 days';

export class WorkQueue {
  private constructor(
    private readonly client: pg.Client,
    /** This process, as it names itself in leases and groups. */
    readonly member: string,
  ) {}

  static async open(url: string, member: string): Promise<WorkQueue> {
    const client = await pgClient({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await createConcurrently(client, DDL);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return new WorkQueue(client, member);
  }

  /** Offers work to any free process; returns its id. */
  async offer(id: string, kind: string, label: string, request: unknown): Promise<void> {
    await this.client.query(`DELETE FROM ${TABLE} WHERE finished_at < now() - interval '${KEEP_FINISHED}'`);
    await this.client.query(`INSERT INTO ${TABLE} (id, kind, label, request, state, offered_by, offered_at) VALUES ($1, $2, $3, $4, 'offered', $5, now())`, [
      id,
      kind,
      label,
      JSON.stringify(request),
      this.member,
    ]);
  }

  /** Takes the oldest offered work of these kinds, if any, for this process. */
  async take(kinds: readonly string[]): Promise<TakenWork | undefined> {
    const { rows } = await this.client.query<TakenWork>(
      `UPDATE ${TABLE} SET state = 'taken', taker = $1, taken_at = now(), heartbeat_at = now()
       WHERE id = (SELECT id FROM ${TABLE} WHERE state = 'offered' AND kind = ANY($2) ORDER BY offered_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id, kind, label, request`,
      [this.member, kinds],
    );
    return rows[0];
  }

  /** The leader takes back work nobody took (it runs it itself); false once a process has taken it. */
  async withdraw(id: string): Promise<boolean> {
    const { rowCount } = await this.client.query(`UPDATE ${TABLE} SET state = 'withdrawn', finished_at = now() WHERE id = $1 AND state = 'offered'`, [id]);
    return rowCount === 1;
  }

  /** The work is no longer wanted (its task was aborted, or its taker went silent): a taker still at it stops at its next heartbeat. */
  async cancel(id: string, reason: string): Promise<void> {
    await this.client.query(`UPDATE ${TABLE} SET state = 'cancelled', error = $2, finished_at = now() WHERE id = $1 AND state IN ('offered', 'taken')`, [id, reason]);
  }

  async status(id: string): Promise<WorkStatus | undefined> {
    const { rows } = await this.client.query<WorkStatus>(
      `SELECT state, taker, CASE WHEN state = 'taken' THEN (extract(epoch FROM now() - heartbeat_at) * 1000)::float8 END AS "silentMs", result, error, log FROM ${TABLE} WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** The taker's heartbeat, with its new log lines; false when the work is no longer its own (cancelled). */
  async heartbeat(id: string, lines: string): Promise<boolean> {
    const { rowCount } = await this.client.query(
      `UPDATE ${TABLE} SET heartbeat_at = now(), log = log || $3 WHERE id = $1 AND taker = $2 AND state = 'taken'`,
      [id, this.member, lines],
    );
    return rowCount === 1;
  }

  /** The taker's last word: done with a result, or failed with an error; false when the work was no longer its own. */
  async finish(id: string, outcome: { result: unknown } | { error: string }, lines: string): Promise<boolean> {
    const done = 'result' in outcome;
    const { rowCount } = await this.client.query(
      `UPDATE ${TABLE} SET state = $3, result = $4, error = $5, log = log || $6, finished_at = now(), heartbeat_at = now() WHERE id = $1 AND taker = $2 AND state = 'taken'`,
      [id, this.member, done ? 'done' : 'failed', done ? JSON.stringify(outcome.result) : null, done ? null : outcome.error, lines],
    );
    return rowCount === 1;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
