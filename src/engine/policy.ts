import { TributaryError } from '../core/errors.js';
import type { Engine } from './engine.js';
import { PLAIN_IDENTIFIER, parseSqlTree, printSqlTree, quoteIdent, quoteLiteral, type SqlNode } from './sql.js';

/**
 * The one read-only policy for SQL that people type (the CLI's `sql`, the shell, the SQL lab): a
 * single SELECT (or EXPLAIN, DESCRIBE, SUMMARIZE, SHOW TABLES of one) over the project's own
 * tables, and nothing else. The check works on DuckDB's own parse tree and never binds or prepares
 * the statement, because binding alone already touches the disk (a file named in FROM is opened,
 * EXPORT DATABASE creates its folder).
 *
 * Why this is sound: a query reaches a file only through a table function, a replacement scan
 * (a FROM name that is no table, e.g. 'x.csv') or a handful of scalar functions. Table functions
 * are allowed from a short list that computes without files; every name in FROM must be a plain
 * identifier, which no file path is, and must resolve to a project table or to a CTE in scope
 * (resolved the way DuckDB binds them, so a CTE cannot lend its name to a reference outside it).
 *
 * A client (a brand's token) also has a row scope: see `RowScope` and `check(sql, scope)`.
 */

/** Table functions that compute, never touch files or run other SQL. */
const SAFE_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);
/** Scalar functions that reveal the machine, its settings or files, or change state (a sequence, the log). */
const DENIED_FUNCTIONS = new Set(['getenv', 'current_setting', 'read_text', 'read_blob', 'query', 'query_table', 'file', 'glob', 'nextval', 'write_log']);
/**
 * Denied to clients besides: `stats()` prints a column's statistics, which are the whole table's
 * (its min and max may be another brand's values) even under a filter; `error()` is the one
 * function that fails on the all-NULL rows a scoped table shows the engine outside the scope.
 * Macros that read relations (pg_get_viewdef, a project's macro with a subquery) are found at
 * check time.
 */
const CLIENT_DENIED_FUNCTIONS = new Set(['stats', 'error']);
/** A leading EXPLAIN (ANALYZE) before comments and blanks: the rest must pass on its own. */
const EXPLAIN = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*explain(?:\s+analyze)?\b/i;

type Node = SqlNode;

/**
 * The rows a client (a brand's token) may read. A table that has every column of `rows` shows
 * only the rows holding all the values; a table without them is hidden (to the client it does not
 * exist) unless `public` lists it, and then it shows whole. A table with the columns is always
 * filtered, even when also listed public: the safe reading of a contradictory config.
 */
export interface RowScope {
  /** Column (lower case) → the value it must hold. */
  rows: Readonly<Record<string, string | number | boolean>>;
  /** Tables without those columns that the client reads whole: reference data such as stores. */
  public: readonly string[];
}

export interface ColumnType {
  name: string;
  type: string;
}

/** How a table shows to a client: its rows in scope, or whole (public). */
export type Visibility = 'rows' | 'whole';

export interface VisibleTable {
  visibility: Visibility;
  columns: ColumnType[];
}

export interface CheckedQuery {
  /** The statement to run: the checked SELECT, with its EXPLAIN prefix when it had one. */
  sql: string;
  /**
   * Lake tables read at a snapshot (`FROM events AT (VERSION => 3)`): the runner defines
   * `timeTravelName(table, snapshot)` as `view(relation)`, where relation is the SELECT of the
   * files live at that snapshot (view confines it to a client's rows).
   */
  timeTravel: { table: string; snapshot: number; view: (relation: string) => string }[];
}

/** How a table shows under a scope: it has every scope column → its rows; else listed public → whole; else hidden (undefined). */
export function visibilityOf(table: string, columns: readonly string[], scope: RowScope): Visibility | undefined {
  const names = new Set(columns.map((c) => c.toLowerCase()));
  if (Object.keys(scope.rows).every((column) => names.has(column.toLowerCase()))) return 'rows';
  return scope.public.some((name) => name.toLowerCase() === table.toLowerCase()) ? 'whole' : undefined;
}

/** A stable text of a scope: viewers with equal scopes share one dashboard computation. */
export function scopeKey(scope: RowScope): string {
  return JSON.stringify([Object.entries(scope.rows).sort(([a], [b]) => (a < b ? -1 : 1)), [...scope.public].map((t) => t.toLowerCase()).sort()]);
}

function literal(value: string | number | boolean): string {
  if (typeof value === 'string') return quoteLiteral(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(value)) throw new TributaryError(`a row scope value must be a finite number, got ${value}`);
  return String(value);
}

/**
 * The SELECT a client reads instead of `relation`: its rows in scope, and every column guarded by
 * the scope's condition as well. The guard is what makes the filter hold whatever order the
 * optimizer evaluates predicates in: a user's expression (a cast that fails and quotes its input)
 * pushed below the WHERE still sees NULL, never a value of a row outside the scope.
 */
export function scopedSelect(relation: string, columns: readonly ColumnType[], scope: RowScope): string {
  const actual = (column: string) => columns.find((c) => c.name.toLowerCase() === column.toLowerCase())?.name ?? column;
  const condition = Object.entries(scope.rows)
    .map(([column, value]) => `${quoteIdent(actual(column))} = ${literal(value)}`)
    .join(' AND ');
  const guarded = columns.map((c) => {
    const value = `CASE WHEN ${condition} THEN ${quoteIdent(c.name)} END`;
    return `${isEnum(c.type) ? `CAST(${value} AS VARCHAR)` : value} AS ${quoteIdent(c.name)}`;
  });
  return `SELECT ${guarded.join(', ')} FROM ${relation} WHERE ${condition}`;
}

function isEnum(type: string): boolean {
  return /\bENUM\s*\(/i.test(type);
}

/** A column's type as a client is shown it: an ENUM's type lists every value (every brand), so it reads as VARCHAR. */
export function clientType(type: string): string {
  return isEnum(type) ? 'VARCHAR' : type;
}

/** What a walk of the tree needs and collects. */
interface Walk {
  known: ReadonlySet<string>;
  timeTravel: CheckedQuery['timeTravel'];
  client?: {
    scope: RowScope;
    visible: ReadonlyMap<string, VisibleTable>;
    deniedFunctions: ReadonlySet<string>;
    /** References to tables shown by rows: each becomes a scoped subquery once the walk is done. */
    references: { node: Node; table: string }[];
    /** Every name the walk resolved to a project table (not a CTE). */
    tables: Set<string>;
  };
}

export class ReadOnlyPolicy {
  /** A connection only for DuckDB's table-name extraction, which runs synchronously and must not meet a query in flight. */
  private names: Promise<Engine> | undefined;
  /** Read once: listing functions takes tens of milliseconds, and macros are created when the workspace opens, not later. */
  private deniedToClients: Promise<Set<string>> | undefined;
  private database: Promise<string> | undefined;

  constructor(
    private readonly parser: Engine,
    /** The project's tables and views, lower-cased: all a query may name. */
    private readonly tables: () => Promise<Set<string>>,
  ) {}

  /**
   * Checks `sql`; with a scope, also confines it to a client's rows: tables hidden from the client
   * are unknown names, every reference to a table shown by rows is replaced in the parse tree by
   * the scoped SELECT over it (so joins, subqueries, aggregates and DESCRIBE/SUMMARIZE only ever
   * see the scope's rows), and what the engine could reveal beyond rows is refused: EXPLAIN (plan
   * estimates count the whole table), SHOW TABLES, functions that read statistics or the catalog.
   */
  async check(sql: string, scope?: RowScope): Promise<CheckedQuery> {
    const explain = EXPLAIN.exec(sql);
    if (explain && scope) {
      throw new TributaryError('refused: EXPLAIN is not available to client tokens', { hint: "a plan's estimates count whole tables; run the query itself" });
    }
    const body = explain ? sql.slice(explain[0].length) : sql;
    const tree = await parseSqlTree(this.parser, body);
    if (tree.error) {
      const message = String(tree.error_message ?? 'the SQL does not parse');
      if (/only select/i.test(message)) {
        const keyword = refusedKeyword(body);
        const writes = /^(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|MERGE|TRUNCATE|EXPORT|IMPORT|ATTACH|DETACH|INSTALL|LOAD|SET|RESET|CHECKPOINT|VACUUM|CALL|PRAGMA|USE)$/.test(keyword);
        throw new TributaryError(`refused: ${/^([AEIO]|UPD)/.test(keyword) ? 'an' : 'a'} ${keyword} statement ${writes ? 'would change data or settings' : 'is not a query'}, and SQL here is read-only`, {
          hint: writes ? 'write changes as models in the project and run them with `tributary run`' : 'only SELECT (and EXPLAIN, DESCRIBE, SUMMARIZE, SHOW TABLES) run here',
        });
      }
      throw new TributaryError(message.split('\n')[0]!, { hint: 'fix the SQL and run it again' });
    }
    if ((tree.statements?.length ?? 0) !== 1) throw new TributaryError('run one statement at a time', { hint: 'remove the other statements' });
    const visible = scope ? await this.visible(scope) : undefined;
    const walk: Walk = {
      known: visible ? new Set(visible.keys()) : await this.tables(),
      timeTravel: [],
      client: scope && visible ? { scope, visible, deniedFunctions: await (this.deniedToClients ??= this.catalogReadingMacros()), references: [], tables: new Set() } : undefined,
    };
    visit(tree.statements![0], new Set(), walk);
    if (walk.client) await this.confine(walk.client);
    const rewritten = walk.timeTravel.length > 0 || (walk.client?.references.length ?? 0) > 0;
    const text = rewritten ? await this.print(tree) : body;
    if (walk.client) await this.assertResolvedAlike(body, walk);
    return { sql: explain ? `${explain[0]} ${text}` : text, timeTravel: walk.timeTravel };
  }

  /** The rewritten tree as SQL; a tree DuckDB cannot read back is refused, not run in some other form. */
  private async print(tree: Node): Promise<string> {
    try {
      return await printSqlTree(this.parser, tree);
    } catch (error) {
      throw new TributaryError(`refused: the query could not be rewritten (${(error as Error).message.split('\n')[0]})`, {
        hint: 'write the query another way (the rewrite keeps its meaning or refuses it), and report the query if it is valid SQL',
      });
    }
  }

  /** The tables a scope shows, with their columns as the client sees them; a hidden table is absent. */
  async visible(scope: RowScope): Promise<Map<string, VisibleTable>> {
    const known = await this.tables();
    const rows = await this.parser.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM duckdb_columns()
       WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index`,
    );
    const columns = new Map<string, ColumnType[]>();
    for (const row of rows) {
      const table = row.table_name.toLowerCase();
      if (known.has(table)) columns.set(table, [...(columns.get(table) ?? []), { name: row.column_name, type: row.data_type }]);
    }
    const out = new Map<string, VisibleTable>();
    for (const [table, list] of columns) {
      const visibility = visibilityOf(table, list.map((c) => c.name), scope);
      if (visibility) out.set(table, { visibility, columns: list });
    }
    return out;
  }

  /** Macros whose definition reads a relation (the catalog's, or a project table): calling one would read around the scope. */
  private async catalogReadingMacros(): Promise<Set<string>> {
    const rows = await this.parser.query<{ name: string }>(
      `SELECT DISTINCT lower(function_name) AS name FROM duckdb_functions()
       WHERE function_type = 'macro' AND regexp_matches(macro_definition, '\\b(select|from)\\b', 'i')`,
    );
    return new Set([...CLIENT_DENIED_FUNCTIONS, ...rows.map((r) => r.name)]);
  }

  /** Replaces each reference to a table shown by rows with the scoped SELECT over it, in place. */
  private async confine(client: NonNullable<Walk['client']>): Promise<void> {
    if (!client.references.length) return;
    const database = await (this.database ??= this.parser.scalar<string>('SELECT current_database()'));
    const scoped = new Map<string, Node>();
    for (const { node, table } of client.references) {
      let subquery = scoped.get(table);
      if (!subquery) {
        // The real table by its full name: no CTE can take a catalog-qualified name.
        const relation = `${quoteIdent(database)}.main.${quoteIdent(table)}`;
        const parsed = await parseSqlTree(this.parser, scopedSelect(relation, client.visible.get(table)!.columns, client.scope));
        subquery = parsed.statements![0]!.node;
        scoped.set(table, subquery);
      }
      const replacement: Node = {
        type: 'SUBQUERY',
        // Unaliased, the subquery takes the table's name, so `sales.amount` still binds.
        alias: String(node.alias || node.table_name),
        sample: node.sample ?? null,
        subquery: { node: subquery, named_param_map: [] },
        column_name_alias: node.column_name_alias ?? [],
      };
      for (const key of Object.keys(node)) delete node[key];
      Object.assign(node, replacement);
    }
  }

  /**
   * A second opinion from DuckDB itself: every table its own extractor (which resolves CTEs the
   * way the binder does) finds in the statement as written must be one the walk resolved to a
   * table too, and so scoped or public. A name the walk took for a CTE while DuckDB reads the table
   * would otherwise pass unscoped: refused instead.
   */
  private async assertResolvedAlike(sql: string, walk: Walk): Promise<void> {
    this.names ??= this.parser.fork();
    const tables = walk.client!.tables;
    if ((await this.names).tableNames(sql).some((name) => !tables.has(name.toLowerCase()))) {
      throw new TributaryError('refused: the query could not be confined to your rows', { hint: 'give WITH queries names of their own, not the names of tables' });
    }
  }
}

/** The name a time-travel read is rewritten to; the runner creates it as a temporary view. */
export function timeTravelName(table: string, snapshot: number): string {
  return `__at_${snapshot}_${table}`;
}

/** Words that start a statement this policy may allow. */
const QUERY_KEYWORDS = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', 'DESCRIBE', 'SUMMARIZE', 'SHOW', 'EXPLAIN']);

/**
 * The first word of the statement that made the parser refuse: in `SELECT 1; DELETE FROM t` that
 * is DELETE, not SELECT. Splitting at semicolons may cut a string literal; it only picks the word
 * the refusal names.
 */
function refusedKeyword(sql: string): string {
  const keywords = sql
    .split(';')
    .map((statement) => /^[A-Za-z]+/.exec(statement.replace(/^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/, ''))?.[0]?.toUpperCase())
    .filter((keyword): keyword is string => Boolean(keyword));
  return keywords.find((keyword) => !QUERY_KEYWORDS.has(keyword)) ?? keywords[0] ?? 'THIS';
}

const QUERY_NODES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE', 'CTE_NODE']);

/** Walks any part of the tree; `scope` holds the CTE names visible at this point. */
function visit(node: unknown, scope: ReadonlySet<string>, walk: Walk): void {
  if (Array.isArray(node)) {
    for (const child of node) visit(child, scope, walk);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  if (typeof n.type === 'string' && QUERY_NODES.has(n.type) && n.cte_map) {
    visitQuery(n, scope, walk);
    return;
  }
  if (n.type === 'BASE_TABLE') checkTableName(n, scope, walk);
  if (n.type === 'SHOW_REF' && !n.query && (walk.client || n.table_name !== '"tables"')) {
    throw new TributaryError(`refused: SHOW ${String(n.table_name)} is not available here`, {
      hint: walk.client ? 'DESCRIBE <table> is; the lab lists the tables you can query' : 'SHOW TABLES and DESCRIBE <table> are',
    });
  }
  if (n.type === 'TABLE_FUNCTION') {
    const name = String((n.function as Node | undefined)?.function_name ?? '').toLowerCase();
    if (!SAFE_TABLE_FUNCTIONS.has(name)) {
      throw new TributaryError(`refused: ${name}() reads files, settings or runs other SQL, and SQL here only reads the project's tables`, {
        hint: 'query the tables in the catalog; to load files, declare a source in the project',
      });
    }
  }
  if (n.class === 'FUNCTION') {
    const name = String(n.function_name ?? '').toLowerCase();
    if (DENIED_FUNCTIONS.has(name)) throw new TributaryError(`refused: ${String(n.function_name)}() is not available here`, { hint: 'it would read outside the project' });
    if (walk.client?.deniedFunctions.has(name)) {
      throw new TributaryError(`refused: ${String(n.function_name)}() is not available to client tokens`, { hint: 'it reads statistics or the catalog, beyond your rows' });
    }
  }
  for (const value of Object.values(n)) visit(value, scope, walk);
}

/**
 * A query node with its WITH clause. As DuckDB binds them, a CTE sees the CTEs before it (and
 * itself only when recursive); the node's body sees them all; nothing outside the node does.
 */
function visitQuery(n: Node, scope: ReadonlySet<string>, walk: Walk): void {
  const entries = ((n.cte_map as { map?: { key: string; value: { query?: { node?: Node } } }[] }).map ?? []);
  const inner = new Set(scope);
  for (const entry of entries) {
    const name = entry.key.toLowerCase();
    if (!PLAIN_IDENTIFIER.test(entry.key)) {
      throw new TributaryError(`refused: '${entry.key}' is not a plain name for a WITH query`, { hint: 'name CTEs with letters, digits and _' });
    }
    const definition = entry.value.query?.node;
    const recursive = definition?.type === 'RECURSIVE_CTE_NODE' && String(definition.cte_name).toLowerCase() === name;
    visit(entry.value.query, recursive ? new Set([...inner, name]) : inner, walk);
    inner.add(name);
  }
  for (const [key, value] of Object.entries(n)) {
    if (key === 'cte_map') continue;
    // The recursive part of a recursive CTE refers to the CTE itself.
    const own = n.type === 'RECURSIVE_CTE_NODE' ? new Set([...inner, String(n.cte_name).toLowerCase()]) : inner;
    visit(value, own, walk);
  }
}

const AUDIT_SCHEMA = /^[A-Za-z_][A-Za-z0-9_]*_dbt_test__audit$/i;

function checkTableName(n: Node, scope: ReadonlySet<string>, walk: Walk): void {
  const name = String(n.table_name ?? '');
  const schema = String(n.schema_name ?? '');
  const catalog = String(n.catalog_name ?? '');
  if (!PLAIN_IDENTIFIER.test(name)) {
    throw new TributaryError(
      /[./\\]/.test(name) ? `refused: '${name}' is a file, and SQL here only reads the project's tables` : `refused: '${name}' is not a table name`,
      { hint: 'the catalog lists the tables you can query' },
    );
  }
  // dbt's stored test failures: rows of the project's own tables, read as they are (not by a client with a row scope).
  if (!catalog && AUDIT_SCHEMA.test(schema) && !walk.client) return;
  if ((schema && schema.toLowerCase() !== 'main') || catalog) {
    // The metastore's own tables are read through the commands made for them.
    const metastore = !catalog && schema.toLowerCase() === 'tributary';
    throw new TributaryError(`refused: ${[catalog, schema, name].filter(Boolean).join('.')} is outside the project's tables`, {
      hint: metastore
        ? 'the catalog’s own records have commands: `tributary quarantine`, `tributary dead-letters`, `tributary runs`, `tributary catalog`, `tributary snapshots`'
        : 'name project tables without a schema (e.g. events); the catalog lists them',
    });
  }
  const lower = name.toLowerCase();
  const inScope = !schema && scope.has(lower);
  if (!inScope && !walk.known.has(lower)) {
    throw new TributaryError(`no table '${name}' in this project`, { hint: 'the catalog lists the tables you can query' });
  }
  const client = walk.client;
  const shown = inScope ? undefined : client?.visible.get(lower);
  if (!inScope) client?.tables.add(lower);
  const at = n.at_clause as { unit?: string; expr?: Node } | null | undefined;
  if (at) {
    const value = (at.expr as { value?: { value?: unknown } } | undefined)?.value?.value;
    if (inScope || String(at.unit).toUpperCase() !== 'VERSION' || typeof value !== 'number' || !Number.isInteger(value)) {
      throw new TributaryError(`time travel takes a snapshot number: FROM ${name} AT (VERSION => 3)`, {
        hint: '`tributary snapshots` lists them',
      });
    }
    // A client's view of the past is confined like its view of the present.
    const view = client && shown?.visibility === 'rows' ? (relation: string) => scopedSelect(`(${relation})`, shown.columns, client.scope) : (relation: string) => relation;
    walk.timeTravel.push({ table: lower, snapshot: value, view });
    // Rewritten to a relation the runner defines over the files live at that snapshot.
    n.table_name = timeTravelName(lower, value);
    n.at_clause = null;
    return;
  }
  if (client && shown?.visibility === 'rows') client.references.push({ node: n, table: lower });
}
