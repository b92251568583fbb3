import { quoteIdent } from '../../engine/index.js';
import { mergeFunctions, type TableShape } from './types.js';

/**
 * The SQL of a merge, shared by every store: a batch is first reduced to one row per key in the
 * engine (so a store never sees two rows for one key in one statement), then each column is
 * combined with the stored row by its function.
 */

/** One row per key of the batch (one row in all for a keyless total), each column reduced by its function. */
export function reduceBatch(shape: TableShape, relation: string): string {
  const keys = shape.keys ?? [];
  const reduced = Object.entries(mergeFunctions(shape)).map(([column, fn]) => {
    const c = quoteIdent(column);
    const expr =
      fn === 'count' ? 'count(*)' : typeof fn === 'object' ? `arg_max(${c}, ${quoteIdent(fn.last)})` : fn === 'sum' ? `coalesce(sum(${c}), 0)` : `${fn}(${c})`;
    return `${expr} AS ${c}`;
  });
  const select = [...keys.map(quoteIdent), ...reduced].join(', ');
  return keys.length ? `SELECT ${select} FROM ${relation} GROUP BY ALL` : `SELECT ${select} FROM ${relation}`;
}

export interface MergeDialect {
  quote(name: string): string;
  /** The stored value of a column in the upsert. */
  stored(column: string): string;
  /** The incoming value of a column in the upsert. */
  incoming(column: string): string;
}

/** `column = expression` for each merged column of an upsert. */
export function mergeAssignments(shape: TableShape, dialect: MergeDialect): string[] {
  return Object.entries(mergeFunctions(shape)).map(([column, fn]) => {
    const old = dialect.stored(column);
    const add = dialect.incoming(column);
    let expr: string;
    if (fn === 'sum' || fn === 'count') expr = `coalesce(${old}, 0) + coalesce(${add}, 0)`;
    else if (fn === 'min') expr = `coalesce(least(${old}, ${add}), ${old}, ${add})`;
    else if (fn === 'max') expr = `coalesce(greatest(${old}, ${add}), ${old}, ${add})`;
    else expr = `CASE WHEN ${dialect.stored(fn.last)} IS NULL OR ${dialect.incoming(fn.last)} >= ${dialect.stored(fn.last)} THEN ${add} ELSE ${old} END`;
    return `${dialect.quote(column)} = ${expr}`;
  });
}

const NUMERIC = /^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|DOUBLE|FLOAT|REAL|DECIMAL)/;

/** The first problem with a merge declaration, or nothing: keys exist, sums are numbers, a `last` has its column. */
export function mergeProblem(shape: TableShape): string | undefined {
  for (const key of shape.keys ?? []) {
    if (!shape.columns.some((c) => c.name === key)) return `it merges on key '${key}', which the model does not output (its columns: ${shape.columns.map((c) => c.name).join(', ')})`;
  }
  for (const [column, fn] of Object.entries(mergeFunctions(shape))) {
    const type = shape.columns.find((c) => c.name === column)?.type ?? '';
    if ((fn === 'sum' || fn === 'count') && !NUMERIC.test(type)) {
      return `it would ${fn === 'sum' ? 'add up' : 'count into'} column '${column}' (${type}); make it a key, or give it min, max or { last: column } under merge`;
    }
    if (typeof fn === 'object' && !shape.columns.some((c) => c.name === fn.last)) return `column '${column}' is merged as the last by '${fn.last}', which the model does not output`;
  }
  return undefined;
}
