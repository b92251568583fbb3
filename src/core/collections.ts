/**
 * Items grouped by a key, in the order each key first appears, each group in the items' order.
 * (Map.groupBy arrives with Node 21; spreading a group into a new array per item is quadratic.)
 */
export function groupBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
