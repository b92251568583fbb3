import path from 'node:path';

/** The Hive partition folders (`key=value`) in a file's path, outermost first. */
export function partitionFolders(file: string): string[] {
  return path
    .dirname(file)
    .split(/[\\/]/)
    .filter((segment) => segment.includes('='));
}

/** A partition folder's key. */
export const keyOf = (folder: string) => folder.slice(0, folder.indexOf('='));

/**
 * The fewest of `files` that hold every Hive partition value (`key=value` folder) and every set of
 * partition keys of them all: the first file, and each with a value or a set of keys none before
 * it had. The reader types a partition column by its values (`k=1` and `k=2` read as BIGINT, with
 * `k=abc` as VARCHAR) and has the column only when every file has its key, so a read of these has
 * the columns and types of a read of every file.
 */
export function filesOfEveryPartitionValue(files: readonly string[]): string[] {
  const seen = new Set<string>();
  return files.filter((file) => {
    const folders = partitionFolders(file);
    const fresh = [`keys:${folders.map(keyOf).join('/')}`, ...folders].filter((value) => !seen.has(value));
    for (const value of fresh) seen.add(value);
    return fresh.length > 0;
  });
}

