import pg from 'pg';
import { TributaryError } from '../core/errors.js';
import type { Engine } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';

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
    try {
      // READ COMMITTED: a commit that waited for the lock reads what the commit before it wrote.
      await engine.run(`ATTACH ${quoteLiteral(this.url)} AS ${SHARED_DATABASE} (TYPE postgres, ISOLATION_LEVEL 'READ COMMITTED')`);
    } catch (error) {
      throw new TributaryError(`could not attach the shared catalog at ${this.shown}: ${redact((error as Error).message.split('\n')[0]!)}`, {
        hint: 'check that PostgreSQL is reachable there and the database exists (createdb NAME); the URL comes from TRIBUTARY_CATALOG or the config’s catalog.urlEnv',
      });
    }
    await engine.run(`CREATE SCHEMA IF NOT EXISTS ${SHARED_DATABASE}.main`);
    await engine.setSession([`USE ${SHARED_DATABASE}`, `SET search_path = '${SHARED_DATABASE}.main,${OWN_DATABASE}.main'`], `${OWN_DATABASE}.main`);
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
    const client = new pg.Client({ connectionString: this.url });
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
      const next = new pg.Client({ connectionString: this.url });
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

/** A connection URL or message with any password replaced by `***`. */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@').replace(/(password=)\S+/g, '$1***');
}
