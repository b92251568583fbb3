import { TributaryError } from '../core/errors.js';
import type { Engine } from './engine.js';
import { parseSqlTree, printSqlTree, type SqlNode } from './sql.js';

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
 */

/** Table functions that compute, never touch files or run other SQL. */
const SAFE_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);
/** Scalar functions that reveal the machine, its settings or files, or change state (a sequence, the log). */
const DENIED_FUNCTIONS = new Set(['getenv', 'current_setting', 'read_text', 'read_blob', 'query', 'query_table', 'file', 'glob', 'nextval', 'write_log']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A leading EXPLAIN (ANALYZE) before comments and blanks: the rest must pass on its own. */
const EXPLAIN = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*explain(?:\s+analyze)?\b/i;

type Node = SqlNode;

export interface CheckedQuery {
  /** The statement to run: the checked SELECT, with its EXPLAIN prefix when it had one. */
  sql: string;
  /** Lake tables read at a snapshot (`FROM events AT (VERSION => 3)`), with their snapshot. */
  timeTravel: { table: string; snapshot: number }[];
}

export class ReadOnlyPolicy {
  constructor(
    private readonly parser: Engine,
    /** The project's tables and views, lower-cased: all a query may name. */
    private readonly tables: () => Promise<Set<string>>,
  ) {}

  async check(sql: string): Promise<CheckedQuery> {
    const explain = EXPLAIN.exec(sql);
    const body = explain ? sql.slice(explain[0].length) : sql;
    const tree = await parseSqlTree(this.parser, body);
    if (tree.error) {
      const message = String(tree.error_message ?? 'the SQL does not parse');
      if (/only select/i.test(message)) {
        const keyword = refusedKeyword(body);
        const writes = /^(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|MERGE|TRUNCATE|EXPORT|IMPORT|ATTACH|DETACH|INSTALL|LOAD|SET|RESET|CHECKPOINT|VACUUM|CALL|PRAGMA|USE)$/.test(keyword);
        throw new TributaryError(`refused: a ${keyword} statement ${writes ? 'would change data or settings' : 'is not a query'}, and SQL here is read-only`, {
          hint: writes ? 'write changes as models in the project and run them with `tributary run`' : 'only SELECT (and EXPLAIN, DESCRIBE, SUMMARIZE, SHOW TABLES) run here',
        });
      }
      throw new TributaryError(message.split('\n')[0]!, { hint: 'fix the SQL and run it again' });
    }
    if ((tree.statements?.length ?? 0) !== 1) throw new TributaryError('run one statement at a time', { hint: 'remove the other statements' });
    const known = await this.tables();
    const timeTravel: CheckedQuery['timeTravel'] = [];
    visit(tree.statements![0], new Set(), known, timeTravel);
    const text = timeTravel.length
      ? await printSqlTree(this.parser, tree)
      : body;
    return { sql: explain ? `${explain[0]} ${text}` : text, timeTravel };
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
function visit(node: unknown, scope: ReadonlySet<string>, known: ReadonlySet<string>, timeTravel: CheckedQuery['timeTravel']): void {
  if (Array.isArray(node)) {
    for (const child of node) visit(child, scope, known, timeTravel);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  if (typeof n.type === 'string' && QUERY_NODES.has(n.type) && n.cte_map) {
    visitQuery(n, scope, known, timeTravel);
    return;
  }
  if (n.type === 'BASE_TABLE') checkTableName(n, scope, known, timeTravel);
  if (n.type === 'SHOW_REF' && !n.query && n.table_name !== '"tables"') {
    throw new TributaryError(`refused: SHOW ${String(n.table_name)} is not available here`, { hint: 'SHOW TABLES and DESCRIBE <table> are' });
  }
  if (n.type === 'TABLE_FUNCTION') {
    const name = String((n.function as Node | undefined)?.function_name ?? '').toLowerCase();
    if (!SAFE_TABLE_FUNCTIONS.has(name)) {
      throw new TributaryError(`refused: ${name}() reads files, settings or runs other SQL, and SQL here only reads the project's tables`, {
        hint: 'query the tables in the catalog; to load files, declare a source in the project',
      });
    }
  }
  if (n.class === 'FUNCTION' && DENIED_FUNCTIONS.has(String(n.function_name ?? '').toLowerCase())) {
    throw new TributaryError(`refused: ${String(n.function_name)}() is not available here`, { hint: 'it would read outside the project' });
  }
  for (const value of Object.values(n)) visit(value, scope, known, timeTravel);
}

/**
 * A query node with its WITH clause. As DuckDB binds them, a CTE sees the CTEs before it (and
 * itself only when recursive); the node's body sees them all; nothing outside the node does.
 */
function visitQuery(n: Node, scope: ReadonlySet<string>, known: ReadonlySet<string>, timeTravel: CheckedQuery['timeTravel']): void {
  const entries = ((n.cte_map as { map?: { key: string; value: { query?: { node?: Node } } }[] }).map ?? []);
  const inner = new Set(scope);
  for (const entry of entries) {
    const name = entry.key.toLowerCase();
    if (!IDENTIFIER.test(entry.key)) {
      throw new TributaryError(`refused: '${entry.key}' is not a plain name for a WITH query`, { hint: 'name CTEs with letters, digits and _' });
    }
    const definition = entry.value.query?.node;
    const recursive = definition?.type === 'RECURSIVE_CTE_NODE' && String(definition.cte_name).toLowerCase() === name;
    visit(entry.value.query, recursive ? new Set([...inner, name]) : inner, known, timeTravel);
    inner.add(name);
  }
  for (const [key, value] of Object.entries(n)) {
    if (key === 'cte_map') continue;
    // The recursive part of a recursive CTE refers to the CTE itself.
    const own = n.type === 'RECURSIVE_CTE_NODE' ? new Set([...inner, String(n.cte_name).toLowerCase()]) : inner;
    visit(value, own, known, timeTravel);
  }
}

function checkTableName(n: Node, scope: ReadonlySet<string>, known: ReadonlySet<string>, timeTravel: CheckedQuery['timeTravel']): void {
  const name = String(n.table_name ?? '');
  const schema = String(n.schema_name ?? '');
  const catalog = String(n.catalog_name ?? '');
  if (!IDENTIFIER.test(name)) {
    throw new TributaryError(
      /[./\\]/.test(name) ? `refused: '${name}' is a file, and SQL here only reads the project's tables` : `refused: '${name}' is not a table name`,
      { hint: 'the catalog lists the tables you can query' },
    );
  }
  if ((schema && schema.toLowerCase() !== 'main') || catalog) {
    throw new TributaryError(`refused: ${[catalog, schema, name].filter(Boolean).join('.')} is outside the project's tables`, {
      hint: 'name project tables without a schema (e.g. events); the catalog lists them',
    });
  }
  const lower = name.toLowerCase();
  const inScope = !schema && scope.has(lower);
  if (!inScope && !known.has(lower)) {
    throw new TributaryError(`no table '${name}' in this project`, { hint: 'the catalog lists the tables you can query' });
  }
  const at = n.at_clause as { unit?: string; expr?: Node } | null | undefined;
  if (at) {
    const value = (at.expr as { value?: { value?: unknown } } | undefined)?.value?.value;
    if (inScope || String(at.unit).toUpperCase() !== 'VERSION' || typeof value !== 'number' || !Number.isInteger(value)) {
      throw new TributaryError(`time travel takes a snapshot number: FROM ${name} AT (VERSION => 3)`, {
        hint: '`tributary snapshots` lists them',
      });
    }
    timeTravel.push({ table: lower, snapshot: value });
    // Rewritten to a relation the runner defines over the files live at that snapshot.
    n.table_name = timeTravelName(lower, value);
    n.at_clause = null;
  }
}
