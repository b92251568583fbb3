/** JSON values as the store keeps them (task results, sensor state, run triggers). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Converts what a task returned into a JSON value the store can keep. BigInts (DuckDB BIGINT) become
 * strings rather than failing the task; functions and undefined are dropped, as JSON.stringify does.
 */
export function toJsonValue(value: unknown): JsonValue | undefined {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? inner.toString() : inner));
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}
