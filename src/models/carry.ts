import { TributaryError } from '../core/errors.js';
import type { Engine } from '../engine/index.js';
import { parseSqlTree, printSqlTree, type SqlNode } from '../engine/index.js';

type Node = SqlNode;

/** Why a model's rows are not its source's rows one for one: it groups, aggregates, combines… */
class NotOneForOne extends Error {}

/**
 * Makes columns of a source travel through a model that reads it, so that a load that only
 * projects, renames and derives columns can write its rows and divert the bad ones (rule verdicts,
 * file and line) in the same pass. Returns the rewritten SQL, or undefined when the model's rows
 * are not its source's rows one for one (it groups, aggregates, picks distinct rows, combines the
 * source with a set operation or with itself): such a model reads the source's loaded rows instead.
 *
 * Works on DuckDB's parse tree of the model, where the source is the table `placeholder`: every
 * SELECT on the way from the source to the result gains the columns (unless a `*` already brings
 * them), and the tree is printed back as SQL.
 */
export async function carrySourceColumns(engine: Engine, sql: string, placeholder: string, columns: readonly string[], model: string): Promise<string | undefined> {
  const tree = await parseSqlTree(engine, sql);
  if (tree.error || tree.statements?.length !== 1) {
    throw new TributaryError(`model '${model}' must be one SELECT statement: ${String(tree.error_message ?? 'it has several')}`, { hint: 'a model is a single query' });
  }
  const refuse = (why: string): never => {
    throw new NotOneForOne(why);
  };
  const carriers = new Set<string>([placeholder.toLowerCase()]);
  let changed = false;
  /** Returns the alias the source's columns are reached by in `node`, or undefined when it does not read the source. */
  const fromAlias = (ref: Node | null | undefined): string | undefined => {
    if (!ref) return undefined;
    if (ref.type === 'BASE_TABLE' && carriers.has(String(ref.table_name).toLowerCase())) return String(ref.alias || ref.table_name);
    if (ref.type === 'SUBQUERY') return query((ref.subquery as { node: Node }).node) ? String(ref.alias) : undefined;
    if (ref.type === 'JOIN') {
      const left = fromAlias(ref.left as Node);
      const right = fromAlias(ref.right as Node);
      if (left && right) refuse('it joins the source with itself');
      return left ?? right;
    }
    return undefined;
  };
  const query = (node: Node): boolean => {
    for (const entry of ((node.cte_map as { map?: { key: string; value: { query: { node: Node } } }[] } | undefined)?.map ?? [])) {
      if (query(entry.value.query.node)) carriers.add(entry.key.toLowerCase());
    }
    if (node.type === 'SET_OPERATION_NODE') {
      const left = query(node.left as Node);
      const right = query(node.right as Node);
      if (left || right) refuse('it combines the source with a set operation (UNION, EXCEPT)');
      return false;
    }
    if (node.type !== 'SELECT_NODE') return false;
    const alias = fromAlias(node.from_table as Node);
    if (alias === undefined) return false;
    if ((node.group_expressions as unknown[] | undefined)?.length || (node.aggregate_handling && node.aggregate_handling !== 'STANDARD_HANDLING')) refuse('it groups rows (GROUP BY)');
    if ((node.modifiers as { type: string }[] | undefined)?.some((m) => m.type === 'DISTINCT_MODIFIER')) refuse('it removes duplicates (DISTINCT)');
    if (hasAggregate(node.select_list)) refuse('it aggregates (sum, count, …)');
    const list = node.select_list as Node[];
    // A `*` (or `alias.*`) that excludes none of them already brings the columns along.
    const star = list.some(
      (e) =>
        e.class === 'STAR' &&
        !(e.columns as boolean) &&
        (!e.relation_name || String(e.relation_name) === alias) &&
        !columns.some((c) => JSON.stringify(e.exclude_list ?? []).includes(JSON.stringify(c))),
    );
    if (!star) {
      changed = true;
      for (const column of columns) {
        list.push({ class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', query_location: 0, column_names: [alias, column] });
      }
    }
    return true;
  };
  try {
    if (!query(tree.statements[0]!.node) || !changed) return sql;
  } catch (error) {
    if (error instanceof NotOneForOne) return undefined;
    throw error;
  }
  return printSqlTree(engine, tree);
}

/** Aggregate function calls in expressions (DuckDB names them; the parse tree does not mark them). */
const AGGREGATES = new Set(['sum', 'count', 'count_star', 'avg', 'min', 'max', 'any_value', 'first', 'last', 'list', 'array_agg', 'string_agg', 'median', 'mode', 'arg_max', 'arg_min', 'bool_and', 'bool_or', 'stddev', 'variance', 'approx_count_distinct', 'histogram']);

function hasAggregate(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasAggregate);
  if (!node || typeof node !== 'object') return false;
  const n = node as Node;
  if (n.class === 'WINDOW') return false; // a window function keeps every row
  if (n.class === 'FUNCTION' && AGGREGATES.has(String(n.function_name).toLowerCase())) return true;
  if (n.class === 'SUBQUERY') return false; // a scalar subquery aggregates its own rows
  return Object.values(n).some(hasAggregate);
}
