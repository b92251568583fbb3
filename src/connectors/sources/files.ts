import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { glob } from 'tinyglobby';
import yauzl from 'yauzl';
import { TributaryError } from '../../core/errors.js';
import { keyOf, partitionFolders } from '../../core/hive.js';
import { fillPaths, type DataInterval } from '../../core/interval.js';

export interface ResolvedFiles {
  /** Absolute paths DuckDB reads: the matched files, with .zip archives replaced by their members. */
  files: string[];
  /** Bytes on disk of what was matched (compressed size for .gz and .zip). */
  bytes: number;
  /** Bytes on disk of each matched file (an archive's members are not in it). */
  sizes: ReadonlyMap<string, number>;
}

const DATA_FILE = /\.(csv|tsv|txt|jsonl|ndjson|json|parquet)(\.gz)?$/i;

/**
 * Expands a source's path patterns into files, fails clearly when nothing matches, and unpacks
 * .zip archives (DuckDB reads .gz itself) into `scratchDir`. Interval placeholders (`{ds}`,
 * `{yyyy}`, `{mm}`, `{dd}`, `{date}`) take the run's day, or match every day when the run has none.
 */
export async function resolveFiles(
  sourceName: string,
  patterns: string | string[],
  baseDir: string,
  scratchDir: string,
  interval?: DataInterval,
): Promise<ResolvedFiles> {
  const list = (Array.isArray(patterns) ? patterns : [patterns]).flatMap((p) => fillPaths(p, interval).map((f) => ({ ...f, relative: f.path, path: path.resolve(baseDir, f.path) })));
  const matched: string[] = [];
  const daysFound = new Map<string, number>();
  for (const { day, path: pattern, relative } of list) {
    // A relative pattern is matched from the project folder, whose own name may hold characters a
    // glob reads as a pattern ('[test]', '*'): only the part the user wrote is one.
    const [toMatch, cwd] = path.isAbsolute(relative) ? [pattern, undefined] : [relative, baseDir];
    const found = existsSync(pattern) && statSync(pattern).isFile() ? [pattern] : (await glob(toMatch.split(path.sep).join('/'), { absolute: true, onlyFiles: true, ...(cwd ? { cwd } : {}) })).sort();
    matched.push(...found);
    if (day) daysFound.set(day, (daysFound.get(day) ?? 0) + found.length);
  }
  // A run over several days replaces each of them: a day without files would be emptied.
  const missing = [...daysFound].filter(([, n]) => n === 0).map(([day]) => day);
  if (missing.length && matched.length) {
    throw new TributaryError(`source '${sourceName}' has no files for ${missing.join(', ')} (${list.filter((f) => missing.includes(f.day!)).map((f) => f.path).join(', ')}); the run would empty ${missing.length === 1 ? 'that day' : 'those days'}`, {
      place: { field: `sources.${sourceName}.path` },
      hint: 'run the days that have data (--from/--to around the gap), or wait until the missing day has arrived',
    });
  }
  if (matched.length === 0) {
    throw new TributaryError(`source '${sourceName}' matched no files: ${list.map((f) => f.path).join(', ')}`, {
      place: { field: `sources.${sourceName}.path` },
      hint: interval
        ? `no file for ${interval.ds}: check the path (relative to the project folder), or that the day's data has arrived`
        : 'check the path (relative to the project folder) or point it elsewhere with --source NAME=PATH',
    });
  }
  let bytes = 0;
  const files: string[] = [];
  const sizes = new Map<string, number>();
  for (const file of [...new Set(matched)]) {
    const size = statSync(file).size;
    sizes.set(file, size);
    bytes += size;
    if (/\.zip$/i.test(file)) files.push(...(await unzip(file, path.join(scratchDir, path.basename(file)))));
    else files.push(file);
  }
  if (files.length === 0) {
    throw new TributaryError(`source '${sourceName}': the archives hold no data files (.csv, .jsonl, .json, .parquet)`, {
      place: { file: matched[0] },
      hint: 'check what the .zip contains',
    });
  }
  return { files, bytes, sizes };
}

function unzip(archive: string, into: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) =>
      reject(new TributaryError(`cannot read the zip archive: ${error.message}`, { place: { file: archive }, hint: 'the archive may be truncated or not a zip file; fetch it again', cause: error }));
    yauzl.open(archive, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return fail(error ?? new Error('no archive'));
      const out: string[] = [];
      zip.on('error', fail);
      zip.on('end', () => resolve(out.sort()));
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        if (name.endsWith('/') || !DATA_FILE.test(name) || name.includes('..')) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return fail(streamError ?? new Error('no stream'));
          const target = path.join(into, name);
          mkdirSync(path.dirname(target), { recursive: true });
          pipeline(stream, createWriteStream(target))
            .then(() => {
              out.push(target);
              zip.readEntry();
            })
            .catch(fail);
        });
      });
      zip.readEntry();
    });
  });
}


/**
 * A partition key of every file's path that is also one of `columns`, with a file that has it:
 * the reader would give that column the folder's value, not the file's.
 */
export function partitionKeyInColumns(files: readonly string[], columns: readonly string[]): { key: string; file: string } | undefined {
  if (!files.length) return undefined;
  const everyFile = files.map((file) => new Set(partitionFolders(file).map(keyOf))).reduce((common, keys) => new Set([...common].filter((k) => keys.has(k))));
  const key = columns.find((column) => everyFile.has(column));
  return key === undefined ? undefined : { key, file: files[0]! };
}
