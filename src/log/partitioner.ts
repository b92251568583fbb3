/**
 * Chooses a partition for a record. Records with the same key always land in the same partition,
 * so per-key order holds; records without a key are spread round-robin.
 */
export type Partitioner = (key: string | null, partitions: number) => number;

/** FNV-1a: stable across processes and releases, unlike anything seeded. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function hashPartitioner(): Partitioner {
  let next = 0;
  return (key, partitions) => (key === null ? next++ % partitions : hashKey(key) % partitions);
}

/**
 * The retail system's custom partitioner: each hot key (a store that carries most rows) gets a
 * partition to itself, and every other key hashes over the remaining partitions, so one hot key
 * cannot starve the rest.
 */
export function hotKeyPartitioner(hotKeys: readonly string[]): Partitioner {
  const fallback = hashPartitioner();
  const dedicated = new Map(hotKeys.map((k, i) => [k, i]));
  return (key, partitions) => {
    if (partitions <= hotKeys.length) {
      throw new Error(`hotKeyPartitioner needs more partitions (${partitions}) than hot keys (${hotKeys.length})`);
    }
    const own = key === null ? undefined : dedicated.get(key);
    if (own !== undefined) return own;
    return hotKeys.length + fallback(key, partitions - hotKeys.length);
  };
}
