import type pg from 'pg';
import { TributaryError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import type { Engine } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';
import { createConcurrently, pgClient } from './pg-ddl.js';
import { WorkQueue } from './work-queue.js';

/**
 * The catalog in PostgreSQL, shared by every process of a project: each process's DuckDB attaches
 * the database (DuckDB's postgres extension) as `state`, so the metastore's tables (schema
 * `tributary`) and the warehouse's tables (schema `main`) are read and written there with the same
 * SQL as in the embedded state, each commit one PostgreSQL transaction. What a process derives
 * (the views of lake tables over their files, the views of models) stays in its own in-memory
 * database, made again from the catalog when another process commits.
 *
 * Commits of every process are serialised by a transaction-scoped advisory lock, taken as the
 * commit's first statement: ids are then read under it (never kept in a process), and a commit
 * that replaces rows sees every commit before it. Every commit notifies the others
 * (LISTEN/NOTIFY), which bring their views up to date.
 */
export const SHARED_DATABASE = 'state';
/** The database of this process's own views. */
const OWN_DATABASE = 'memory';
const COMMIT_LOCK = 0x7472_6962; // 'trib'
const OPEN_LOCK = 0x7472_6963;
const CHANNEL = 'tributary_commits';

export class SharedCatalog {
  constructor(
    /** A libpq URL, password included: never shown (see `shown`). */
    private readonly url: string,
  ) {}

  /** The URL without its password, for messages. */
  get shown(): string {
    return redact(this.url);
  }

  /**
   * Attaches the database to `engine`'s instance and makes it every connection's default, with
   * this process's views found after the shared tables.
   */
  async attach(engine: Engine): Promise<void> {
    await engine.load('postgres');
    // PostgreSQL's text cannot hold a NUL, which JSON may spell (\u0000) in any value: refused, one
    // such event would fail every commit of its stream. It is written as ␀ (U+2400), as the
    // catalog's dead letters and quarantine show it.
    await engine.run(`SET GLOBAL pg_null_byte_replacement = '\u2400'`);
    try {
      // READ COMMITTED: a commit that waited for the lock reads what the commit before it wrote.
      await engine.run(`ATTACH ${quoteLiteral(this.url)} AS ${SHARED_DATABASE} (TYPE postgres, ISOLATION_LEVEL 'READ COMMITTED')`);
    } catch (error) {
      throw new TributaryError(`could not attach the shared catalog at ${this.shown}: ${redact((error as Error).message.split('\n')[0]!)}`, {
        hint: 'check that PostgreSQL is reachable there and the database exists (createdb NAME); the URL comes from TRIBUTARY_CATALOG or the config’s catalog.urlEnv',
      });
    }
    // Processes opening a fresh catalog at once race to make the schema: PostgreSQL's IF NOT EXISTS
    // is not atomic, and the loser's error means it exists now.
    await engine.run(`CREATE SCHEMA IF NOT EXISTS ${SHARED_DATABASE}.main`).catch(async (error: unknown) => {
      if (!/pg_namespace_nspname_index|already exists/.test((error as Error).message)) throw error;
      await engine.run(`CREATE SCHEMA IF NOT EXISTS ${SHARED_DATABASE}.main`);
    });
    await engine.setSession([`USE ${SHARED_DATABASE}`, `SET search_path = '${SHARED_DATABASE}.main,${OWN_DATABASE}.main'`], `${OWN_DATABASE}.main`);
  }

  /** Joins a group of the project's processes as `member` (this process): a stream job's consumer group, or the processes that take batch work. */
  joinGroup(group: string, member: string, onShare?: (share: Share) => void): Promise<GroupMembership> {
    return GroupMembership.join(this.url, group, member, onShare);
  }

  /** The batch work the scheduler's leader hands to the other processes, as `member` (this process) sees it. */
  async openWorkQueue(member: string): Promise<WorkQueue> {
    try {
      return await WorkQueue.open(this.url, member);
    } catch (error) {
      throw new TributaryError(`could not open the batch work queue in the shared catalog at ${this.shown}: ${redact((error as Error).message)}`, {
        hint: 'check that PostgreSQL is reachable there (TRIBUTARY_CATALOG)',
      });
    }
  }

  /** The first statement of every commit: waits for any other process's commit to end. */
  get commitLock(): string {
    return `SELECT * FROM postgres_query('${SHARED_DATABASE}', 'SELECT pg_advisory_xact_lock(${COMMIT_LOCK}) IS NULL AS locked')`;
  }

  /** Tells the other processes of a commit, when (and only if) it commits. */
  notify(snapshot: number): string {
    return `SELECT * FROM postgres_query('${SHARED_DATABASE}', 'SELECT pg_notify(''${CHANNEL}'', ''${Math.floor(snapshot)}'') IS NULL AS sent')`;
  }

  /**
   * Runs `body` while holding the catalog's open lock, so that two processes opening a new
   * catalog at once do not both create (or migrate) its tables.
   */
  async whileOpening<T>(body: () => Promise<T>): Promise<T> {
    const client = await pgClient({ connectionString: this.url });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [OPEN_LOCK]);
      return await body();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [OPEN_LOCK]).catch(() => undefined);
      await client.end();
    }
  }

  /**
   * Hears of every commit (this process's too) until the returned function is called; a lost
   * connection is re-established, and `onCommit` is called then too, since commits may have been
   * missed meanwhile.
   */
  listen(onCommit: () => void, onError: (error: Error) => void): () => Promise<void> {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async () => {
      const next = await pgClient({ connectionString: this.url });
      next.on('notification', () => onCommit());
      next.on('error', (error) => {
        if (stopped) return;
        onError(new Error(redact(error.message)));
        void next.end().catch(() => undefined);
        retry = setTimeout(() => void connect(), 1000);
      });
      client = next;
      try {
        await next.connect();
        // Stopped while connecting (a short command ends first): this connection must not keep the process alive.
        if (stopped) return void (await next.end().catch(() => undefined));
        await next.query(`LISTEN ${CHANNEL}`);
        onCommit();
      } catch (error) {
        if (stopped) return;
        onError(new Error(redact((error as Error).message)));
        retry = setTimeout(() => void connect(), 1000);
      }
    };
    void connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    };
  }
}

/** How long a worker that stopped heartbeating still counts as a member of its group. */
const MEMBER_TTL_MS = 10_000;
const HEARTBEAT_MS = 2_000;

/**
 * This process's membership in a group of the project's processes, kept in the catalog: every
 * member heartbeats a row. The live members (seen within the TTL) of a stream job's consumer group
 * split the input's partitions by rank; the scheduler's leader hands batch work out only while
 * another process takes it. Only who reads what depends on it, never what is committed: offsets are compared-and-set
 * at commit, so a worker that still reads a partition it lost cannot commit it again.
 */
/** The partitions one member of a group reads, among how many members. */
export interface Share {
  partitions: number[];
  of: number;
  members: number;
}

export class GroupMembership {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private members: { at: number; names: string[] } | undefined;
  private lastShare = '';

  private constructor(
    private readonly client: pg.Client,
    readonly group: string,
    readonly member: string,
    private readonly onShare?: (share: Share) => void,
  ) {}

  /** `onShare` hears each change of what this member reads (a member joined, left, or expired). */
  static async join(url: string, group: string, member: string, onShare?: (share: Share) => void): Promise<GroupMembership> {
    const client = await pgClient({ connectionString: url });
    await client.connect();
    await createConcurrently(
      client,
      `CREATE TABLE IF NOT EXISTS tributary.stream_members (grp TEXT NOT NULL, member TEXT NOT NULL, seen_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (grp, member))`,
    );
    const membership = new GroupMembership(client, group, member, onShare);
    await membership.heartbeat();
    membership.timer = setInterval(() => {
      membership.beating = membership.heartbeat().catch(() => undefined);
    }, HEARTBEAT_MS);
    membership.timer.unref();
    return membership;
  }

  private async heartbeat(): Promise<void> {
    await this.client.query(
      `INSERT INTO tributary.stream_members VALUES ($1, $2, now()) ON CONFLICT (grp, member) DO UPDATE SET seen_at = now()`,
      [this.group, this.member],
    );
  }

  /**
   * The partitions this member reads: every live member's rank takes the partitions equal to it
   * modulo their number. The members are asked at most once a heartbeat (an idle input asks often).
   */
  async share(partitions: readonly number[]): Promise<number[]> {
    const members = await this.live();
    const rank = members.indexOf(this.member);
    // Not seen yet (a heartbeat lost): read everything rather than nothing; commits stay exact.
    const mine = rank < 0 ? [...partitions] : [...partitions].sort((a, b) => a - b).filter((_, i) => i % members.length === rank);
    const share = { partitions: mine, of: partitions.length, members: Math.max(members.length, 1) };
    const key = JSON.stringify(share);
    if (partitions.length && key !== this.lastShare) {
      this.lastShare = key;
      this.onShare?.(share);
    }
    return mine;
  }

  /** The other live members of the group. */
  async others(): Promise<string[]> {
    return (await this.live()).filter((name) => name !== this.member);
  }

  /** The live members (seen within the TTL), in a fixed order; asked at most once a heartbeat. */
  private async live(): Promise<string[]> {
    if (!this.members || Date.now() - this.members.at > HEARTBEAT_MS) {
      const { rows } = await this.client.query<{ member: string }>(
        `SELECT member FROM tributary.stream_members WHERE grp = $1 AND seen_at > now() - make_interval(secs => $2) ORDER BY member`,
        [this.group, MEMBER_TTL_MS / 1000],
      );
      this.members = { at: Date.now(), names: rows.map((r) => r.member) };
    }
    return this.members.names;
  }

  /** Leaves at once, so the others take its partitions without waiting for the TTL. */
  async leave(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.client.query(`DELETE FROM tributary.stream_members WHERE grp = $1 AND member = $2`, [this.group, this.member]).catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

