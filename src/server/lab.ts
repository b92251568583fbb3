import { TributaryError } from '../core/errors.js';
import type { Engine } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';

/**
 * The SQL lab runs people's queries against the project, and nothing else: read-only statements,
 * over the project's own tables and views, within a time limit. Checks work on DuckDB's own parse
 * tree, so quoting or comments cannot hide a file read.
 */

/** Table functions that compute, never touch files or run other SQL. */
const SAFE_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest', 'duckdb_tables', 'duckdb_columns', 'duckdb_views']);
/** Scalar functions that reveal the machine or its settings. */
const DENIED_FUNCTIONS = new Set(['getenv', 'current_setting', 'read_text', 'read_blob', 'glob', 'query', 'query_table', 'sniff_csv', 'parquet_metadata', 'parquet_schema', 'parquet_kv_metadata', 'parquet_file_metadata']);

export interface LabResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  ms: number;
}

type Node = { [key: string]: unknown };

function walk(node: unknown, visit: (n: Node) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
  } else if (node && typeof node === 'object') {
    visit(node as Node);
    for (const value of Object.values(node)) walk(value, visit);
  }
}

export class SqlLab {
  private running = new Map<string, Engine>();

  constructor(
    private readonly engine: Engine,
    private readonly options: { timeoutMs: number; maxRows: number },
  ) {}

  /**
   * Refuses, with the reason, anything but a read of the project's tables. The parse tree is
   * checked before anything is bound: binding alone would already open a file named in the query.
   */
  async check(sql: string): Promise<void> {
    const rows = await this.engine.query<{ j: string }>(`SELECT json_serialize_sql(${quoteLiteral(sql)})::VARCHAR AS j`);
    const tree = JSON.parse(rows[0]!.j) as Node & { statements?: unknown[] };
    if (tree.error) {
      const message = String(tree.error_message ?? 'the SQL does not parse');
      if (/only select/i.test(message)) {
        // Not a SELECT: name the kind of statement (preparing it binds, it does not run it).
        const kinds = await this.engine.statementTypes(sql).catch(() => ['this']);
        throw new TributaryError(`refused: ${kinds[0]} statements change data, and the SQL lab is read-only`, {
          hint: 'write changes as models in the project; here, SELECT what you need',
        });
      }
      throw new TributaryError(message.split('\n')[0]!, { hint: 'fix the SQL and run it again' });
    }
    if ((tree.statements?.length ?? 0) !== 1) throw new TributaryError('run one statement at a time', { hint: 'remove the other statements' });
    const known = new Set(
      (await this.engine.query<{ name: string }>(
        `SELECT table_name AS name FROM duckdb_tables() WHERE NOT temporary UNION SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal`,
      )).map((r) => r.name.toLowerCase()),
    );
    const ctes = new Set<string>();
    walk(tree, (n) => {
      const map = (n.cte_map as { map?: { key: string }[] } | undefined)?.map;
      for (const entry of map ?? []) ctes.add(entry.key.toLowerCase());
    });
    walk(tree, (n) => {
      if (n.type === 'TABLE_FUNCTION') {
        const name = String((n.function as Node | undefined)?.function_name ?? '').toLowerCase();
        if (!SAFE_TABLE_FUNCTIONS.has(name)) {
          throw new TributaryError(`refused: ${name}() reads files or runs other SQL, and the SQL lab only reads the project's tables`, {
            hint: 'query the tables in the catalog (for example events or kpis); to load files, declare a source in the project',
          });
        }
      }
      if (n.type === 'BASE_TABLE') {
        const name = String(n.table_name ?? '').toLowerCase();
        if (!known.has(name) && !ctes.has(name)) {
          throw new TributaryError(
            /[./\\]/.test(name) ? `refused: '${n.table_name}' is a file, and the SQL lab only reads the project's tables` : `no table '${n.table_name}' in this project`,
            { hint: 'the catalog page lists the tables you can query' },
          );
        }
      }
      if (n.class === 'FUNCTION' && DENIED_FUNCTIONS.has(String(n.function_name ?? '').toLowerCase())) {
        throw new TributaryError(`refused: ${String(n.function_name)}() is not available in the SQL lab`, { hint: 'it would read outside the project' });
      }
    });
  }

  /** Checks and runs a query on its own connection, stopping it at the time limit. */
  async run(sql: string, id: string, limit = this.options.maxRows): Promise<LabResult> {
    await this.check(sql);
    const connection = await this.engine.fork();
    this.running.set(id, connection);
    const started = Date.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      connection.interrupt();
    }, this.options.timeoutMs);
    try {
      const keep = Math.min(limit, this.options.maxRows);
      const { columns, rows } = await connection.queryJsonUntil(sql, keep + 1);
      return { columns, rows: rows.slice(0, keep), truncated: rows.length > keep, ms: Date.now() - started };
    } catch (error) {
      const message = (error as Error).message.split('\n')[0]!;
      if (timedOut) throw new TributaryError(`the query ran past the ${this.options.timeoutMs / 1000} s limit and was stopped`, { hint: 'filter or aggregate more, or query a smaller table' });
      if (/interrupt/i.test(message)) throw new TributaryError('the query was cancelled', { hint: 'run it again when ready' });
      throw new TributaryError(message, { hint: 'fix the SQL and run it again' });
    } finally {
      clearTimeout(timer);
      this.running.delete(id);
      connection.close();
    }
  }

  cancel(id: string): boolean {
    const connection = this.running.get(id);
    connection?.interrupt();
    return Boolean(connection);
  }
}
