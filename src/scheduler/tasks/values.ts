/** Reading single values out of query results (DuckDB gives BIGINT and DECIMAL as bigint or string). */

/** The first column of the first row, or undefined when the query returned no rows. */
export function firstValue(rows: ReadonlyArray<Record<string, unknown>>): unknown {
  const first = rows[0];
  return first === undefined ? undefined : Object.values(first)[0];
}

/** SQL-ish truth: true, a non-zero number, or a string other than '', '0', 'f', 'false', 'no'. */
export function isTruthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'string') return !['', '0', 'f', 'false', 'no'].includes(value.trim().toLowerCase());
  return false;
}

/** A finite number from a number, bigint or numeric string; undefined otherwise. */
export function toFiniteNumber(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'bigint' || typeof value === 'string' ? Number(value) : NaN;
  return typeof value === 'string' && value.trim() === '' ? undefined : Number.isFinite(number) ? number : undefined;
}
