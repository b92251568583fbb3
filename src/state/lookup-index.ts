import type { ColumnInfo, Committed, Metastore } from '../catalog/index.js';
import { TributaryError } from '../core/errors.js';
import { quoteIdent, quoteLiteral, type Engine, type Transaction } from '../engine/index.js';

/**
 * The key–value side of the serving layer (the role HBase played in the loyalty system): every
 * serving table declared with `lookup: { key }` held in memory as key (as text) → the row as a
 * ready-to-send JSON string, kept in step with each commit, so a lookup is a map read rather than
 * a query.
 *
 * How it stays in step: a commit follower (it runs after each commit and before anyone hears of
 * it) refreshes the tables a commit names. The stores do not say which rows a commit changed, so
 * the index keeps, on its own connection, a temp table of what it holds (per key: how many rows
 * and a 64-bit hash of the row) and diffs the table against it inside DuckDB: only the keys whose
 * rows were added, changed or removed cross into JavaScript. The changes are applied in one
 * synchronous step, so no request ever sees half a commit.
 */

/** Why a lookup found no row, as the HTTP API and the `lookup` command report it. */
export interface LookupMiss {
  status: 404 | 409 | 503;
  error: string;
  hint: string;
}

export interface LookupTableStatus {
  table: string;
  key: string;
  rows: number;
  /** Keys with more than one row: refused (409) rather than answered with an arbitrary row. */
  ambiguousKeys: number;
  lookups: number;
  error: string | null;
}

interface IndexedTable {
  readonly name: string;
  readonly key: string;
  /** Temp table on the index's connection (a `__` name, like every internal table): per key, its row count and row hash as the index holds them. */
  readonly seen: string;
  /** The table's columns when it was last read; a change (a rebuilt model) means reading it whole. */
  shape: string | undefined;
  /** Their names, for deciding what a client's row scope shows of the table. */
  columns: string[];
  rows: Map<string, string>;
  ambiguous: Map<string, number>;
  /** Set while the index is behind the table (its last refresh failed): lookups are refused, not answered stale. */
  failure: string | undefined;
  served: number;
}

/** Rows per string DuckDB hands over: one value per group, not per row, since each value crossing costs microseconds. */
const ROWS_PER_TRANSFER = 4096;

/** The indexes following each metastore (one per server), so a command run inside the server answers from one. */
const following = new WeakMap<Metastore, Set<LookupIndex>>();

export function lookupIndexOf(metastore: Metastore): LookupIndex | undefined {
  return following.get(metastore)?.values().next().value;
}

export class LookupIndex {
  private readonly indexed = new Map<string, IndexedTable>();
  /** Tables the catalog had when last read; a commit naming another one sends the index back to the catalog. */
  private readonly known = new Set<string>();
  private unfollow: (() => void) | undefined;
  private tempTables = 0;
  /** The last commit the index is in step with, as text for the response header. */
  snapshot = '0';

  private constructor(
    private readonly metastore: Metastore,
    /** The index's own connection: its temp tables live here and its reads never queue behind other work. */
    private readonly engine: Engine,
  ) {}

  /**
   * Reads every lookup table and starts following commits, under the commit lock so that no
   * commit falls between the read and the first follow.
   */
  static async open(metastore: Metastore, engine: Engine): Promise<LookupIndex> {
    const index = new LookupIndex(metastore, engine);
    await metastore.write(async () => {
      await index.reconcile();
      for (const entry of index.indexed.values()) await index.refresh(entry);
      index.snapshot = String(await metastore.lastSnapshot());
      index.unfollow = metastore.followCommits((committed) => index.follow(committed));
    });
    following.set(metastore, (following.get(metastore) ?? new Set()).add(index));
    return index;
  }

  /**
   * The row of `key` as JSON text, or undefined (then `miss` says why). The hot path: two map reads.
   * `shown` may refuse the row (a client's scope): it is then not found, and not counted as served.
   */
  get(table: string, key: string, shown?: (row: string) => boolean): string | undefined {
    const entry = this.indexed.get(table);
    if (entry === undefined || entry.failure !== undefined) return undefined;
    const row = entry.rows.get(key);
    if (row === undefined || (shown && !shown(row))) return undefined;
    entry.served++;
    return row;
  }

  /** Why `get` found nothing. */
  miss(table: string, key: string): LookupMiss {
    const entry = this.indexed.get(table);
    if (!entry) return notLookupTable(table, this.lookupTables());
    if (entry.failure !== undefined) return outOfDate(table, entry.failure);
    const count = entry.ambiguous.get(key);
    return count === undefined ? noRow(table, entry.key, key) : ambiguousKey(table, entry.key, key, count);
  }

  /** The row of `key`, or an error a person can act on. */
  find(table: string, key: string): string {
    const row = this.get(table, key);
    if (row !== undefined) return row;
    const miss = this.miss(table, key);
    throw new TributaryError(miss.error, { hint: miss.hint });
  }

  status(): LookupTableStatus[] {
    return this.byName().map((t) => ({
      table: t.name,
      key: t.key,
      rows: t.rows.size,
      ambiguousKeys: t.ambiguous.size,
      lookups: t.served,
      error: t.failure ?? null,
    }));
  }

  lookupTables(): { name: string; key: string }[] {
    return this.byName().map((t) => ({ name: t.name, key: t.key }));
  }

  /** The table's column names as last read; undefined before its first successful read (or for no lookup table). */
  columns(table: string): readonly string[] | undefined {
    const entry = this.indexed.get(table);
    return entry?.shape === undefined ? undefined : entry.columns;
  }

  private byName(): IndexedTable[] {
    return [...this.indexed.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Stops following under the commit lock, so no refresh is running on the connection it closes. */
  async close(): Promise<void> {
    await this.metastore.write(async () => {
      this.unfollow?.();
      this.unfollow = undefined;
      following.get(this.metastore)?.delete(this);
      this.engine.close();
    });
  }

  /** Runs after every commit, inside the commit lock. It never throws: the commit is already durable. */
  private async follow(committed: Committed): Promise<void> {
    if (committed.tables.some((t) => !this.known.has(t))) {
      await this.reconcile(committed.tables).catch((error: Error) => {
        // The names stay unknown, so the next commit reads the catalog again.
        process.stderr.write(`lookup index: could not read the catalog after snapshot ${committed.snapshot}: ${error.message}\n`);
      });
    }
    for (const entry of this.indexed.values()) {
      // A table left behind by a failed refresh is retried at every commit, not only its own.
      if (committed.tables.includes(entry.name) || entry.failure !== undefined || entry.shape === undefined) await this.refresh(entry);
    }
    this.snapshot = String(committed.snapshot);
  }

  /**
   * Undefined when the index is in step with every commit readers can see (the hot path: one
   * comparison); otherwise a promise that settles once it is, so a lookup never answers from
   * before a commit that SQL already shows.
   */
  behind(): Promise<void> | undefined {
    const visible = this.metastore.visibleSnapshot;
    return Number(this.snapshot) >= visible ? undefined : this.metastore.settled(visible);
  }

  /**
   * Brings the set of indexed tables in line with the catalog (new ones are read at their first
   * refresh). A table's lookup declaration comes from the project config, fixed for the life of the
   * process, so only a table the index has not seen (a model's first build) can change the set.
   */
  private async reconcile(alsoSeen: readonly string[] = []): Promise<void> {
    const tables = await this.metastore.tables();
    for (const name of [...tables.map((t) => t.name), ...alsoSeen]) this.known.add(name);
    const declared = new Map(tables.filter((t) => t.lookup_key && t.store === 'duckdb' && t.kind === 'table').map((t) => [t.name, t.lookup_key!]));
    for (const [name, entry] of this.indexed) {
      if (declared.get(name) !== entry.key) {
        this.indexed.delete(name);
        await this.engine.run(`DROP TABLE IF EXISTS ${entry.seen}`);
      }
    }
    for (const [name, key] of declared) {
      if (this.indexed.has(name)) continue;
      const entry: IndexedTable = {
        name,
        key,
        seen: `__lookup_seen_${++this.tempTables}`,
        shape: undefined,
        columns: [],
        rows: new Map(),
        ambiguous: new Map(),
        failure: undefined,
        served: 0,
      };
      this.indexed.set(name, entry);
    }
  }

  /**
   * Reads what changed in `entry`'s table since the index last read it (all of it when its columns
   * changed) and applies it. On failure nothing is applied and the table is marked out of date;
   * the next commit diffs against the same state and catches up.
   */
  private async refresh(entry: IndexedTable): Promise<void> {
    try {
      const columns = await tableColumns(this.engine, entry.name);
      const keyColumn = columns.find((c) => c.name === entry.key);
      if (!keyColumn) {
        throw new Error(columns.length ? `it has no column '${entry.key}' (its columns: ${columns.map((c) => c.name).join(', ')})` : 'the table does not exist in the warehouse');
      }
      const shape = columns.map((c) => `${c.name} ${c.type}`).join(', ');
      const whole = shape !== entry.shape;
      const changes = await this.engine.transaction((tx) => readChanges(tx, entry, columns, keyColumn, whole));
      // From here to the end nothing awaits: requests see the table before this commit or after it.
      const rows = whole ? new Map<string, string>() : entry.rows;
      const ambiguous = whole ? new Map<string, number>() : entry.ambiguous;
      for (const { key, n } of changes.others) {
        rows.delete(key);
        if (n > 1) ambiguous.set(key, n);
        else ambiguous.delete(key);
      }
      for (const chunk of changes.lines) {
        for (const line of chunk.split('\n')) {
          const tab = line.indexOf('\t');
          const key = keyFromJson(line.slice(0, tab));
          rows.set(key, line.slice(tab + 1));
          ambiguous.delete(key);
        }
      }
      entry.rows = rows;
      entry.ambiguous = ambiguous;
      entry.shape = shape;
      entry.columns = columns.map((c) => c.name);
      entry.failure = undefined;
    } catch (error) {
      const failure = (error as Error).message.split('\n')[0]!;
      // Retried at every commit: said once, not at each retry.
      if (failure !== entry.failure) process.stderr.write(`lookup index: '${entry.name}' is out of date: ${failure}\n`);
      entry.failure = failure;
    }
  }
}

/**
 * In one transaction (one consistent view of the table): which keys changed against the `seen`
 * state, the rows of those that now have exactly one row, the others (gone, or now ambiguous),
 * and `seen` brought up to date.
 */
async function readChanges(
  tx: Transaction,
  entry: IndexedTable,
  columns: readonly ColumnInfo[],
  keyColumn: ColumnInfo,
  whole: boolean,
): Promise<{ lines: string[]; others: { key: string; n: number }[] }> {
  const table = `main.${quoteIdent(entry.name)}`;
  const key = quoteIdent(entry.key);
  const rowHash = `hash(${columns.map((c) => quoteIdent(c.name)).join(', ')})`;
  if (whole) await tx.run(`CREATE OR REPLACE TEMP TABLE ${entry.seen} (key ${keyColumn.type}, n BIGINT, h UBIGINT)`);
  await tx.run(
    `CREATE OR REPLACE TEMP TABLE __lookup_changed AS
     SELECT coalesce(cur.key, held.key) AS key, coalesce(cur.n, 0) AS n, cur.h
     FROM (SELECT ${key} AS key, count(*) AS n, min(${rowHash}) AS h FROM ${table} WHERE ${key} IS NOT NULL GROUP BY ALL) cur
     FULL JOIN ${entry.seen} held ON cur.key = held.key
     WHERE cur.n IS DISTINCT FROM held.n OR (cur.n = 1 AND cur.h <> held.h)`,
  );
  const lines = await tx.query<{ lines: string }>(
    `SELECT string_agg(to_json(CAST(${key} AS VARCHAR))::VARCHAR || chr(9) || ${rowJsonSql(columns)}, chr(10)) AS lines
     FROM ${table} WHERE ${key} IN (SELECT key FROM __lookup_changed WHERE n = 1)
     GROUP BY rowid // ${ROWS_PER_TRANSFER}`,
  );
  const others = await tx.query<{ key: string; n: bigint }>(`SELECT CAST(key AS VARCHAR) AS key, n FROM __lookup_changed WHERE n <> 1`);
  await tx.run(
    `DELETE FROM ${entry.seen} WHERE key IN (SELECT key FROM __lookup_changed);
     INSERT INTO ${entry.seen} SELECT key, n, h FROM __lookup_changed WHERE n > 0;
     DROP TABLE __lookup_changed`,
  );
  return { lines: lines.map((l) => l.lines), others: others.map((o) => ({ key: o.key, n: Number(o.n) })) };
}

/** A key's text from its JSON string: only a key with escapes needs parsing. */
function keyFromJson(json: string): string {
  return json.includes('\\') ? (JSON.parse(json) as string) : json.slice(1, -1);
}

/** A serving table's columns as the warehouse has them now. */
export async function tableColumns(engine: Engine, table: string): Promise<ColumnInfo[]> {
  return engine.query<ColumnInfo>(
    `SELECT column_name AS name, data_type AS type FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1 ORDER BY column_index`,
    [table],
  );
}

/** Integer and decimal types JSON numbers cannot hold exactly: written as strings, as the rest of the API writes them. */
const EXACT_NUMBER = /\b(?:U?BIGINT|U?HUGEINT|BIGNUM|VARINT|DECIMAL\(\d+,\s*\d+\))/g;

/** The type with every exact number in it (also inside lists, structs and maps) made text; quoted field names are left alone. */
function asJsonSafeType(type: string): string {
  return type
    .split(/("(?:[^"]|"")*")/)
    .map((part, i) => (i % 2 ? part : part.replace(EXACT_NUMBER, 'VARCHAR')))
    .join('');
}

/**
 * SQL for a row as JSON text, the way the rest of the API answers (DuckDB's JSON result helpers):
 * BIGINT, HUGEINT and DECIMAL as strings, NaN and infinities as strings. The server's index and
 * the CLI's point query both use it, so they answer the same text. (INTERVAL comes out as DuckDB
 * prints it, e.g. "3 days"; a MAP as an object.)
 */
export function rowJsonSql(columns: readonly ColumnInfo[]): string {
  const fields = columns.map((c) => {
    const column = quoteIdent(c.name);
    const safe = asJsonSafeType(c.type);
    let value = column;
    if (safe !== c.type) value = `CAST(${column} AS ${safe})`;
    else if (/^(DOUBLE|FLOAT|REAL)$/.test(c.type)) {
      value = `CASE WHEN ${column} IS NULL OR isfinite(${column}) THEN to_json(${column})
        ELSE to_json(CASE WHEN isnan(${column}) THEN 'NaN' WHEN ${column} > 0 THEN 'Infinity' ELSE '-Infinity' END) END`;
    }
    return `${quoteLiteral(c.name)}: ${value}`;
  });
  return `to_json({${fields.join(', ')}})::VARCHAR`;
}

/** The rows of `table` whose key, as text, is `key` (a point query, for when no index is at hand). */
export async function readRows(engine: Engine, table: string, keyColumn: string, key: string): Promise<string[]> {
  const columns = await tableColumns(engine, table);
  const rows = await engine.query<{ row: string }>(
    `SELECT ${rowJsonSql(columns)} AS row FROM main.${quoteIdent(table)} WHERE CAST(${quoteIdent(keyColumn)} AS VARCHAR) = $1`,
    [key],
  );
  return rows.map((r) => r.row);
}

export function notLookupTable(table: string, lookupTables: readonly { name: string; key: string }[]): LookupMiss {
  const list = lookupTables.map((t) => `${t.name} (key ${t.key})`).join(', ');
  return {
    status: 404,
    error: `'${table}' is not a lookup table`,
    hint: `lookup tables: ${list || '(none)'}; a serving table answers lookups when its model or stream table declares lookup: { key: 'column' }`,
  };
}

export function noRow(table: string, keyColumn: string, key: string): LookupMiss {
  return {
    status: 404,
    error: `no row of '${table}' has ${keyColumn} '${key}'`,
    hint: `keys are matched as text, exactly as CAST(${keyColumn} AS VARCHAR) writes them`,
  };
}

export function ambiguousKey(table: string, keyColumn: string, key: string, rows: number): LookupMiss {
  return {
    status: 409,
    error: `${rows.toLocaleString('en-US')} rows of '${table}' have ${keyColumn} '${key}'; a lookup answers one row per key`,
    hint: `make ${keyColumn} unique in the model (GROUP BY it), or read the rows with \`tributary sql\``,
  };
}

export function outOfDate(table: string, failure: string): LookupMiss {
  return {
    status: 503,
    error: `the lookup index of '${table}' is behind the table: ${failure}`,
    hint: 'it is read again at the next commit; the server log has the cause',
  };
}
