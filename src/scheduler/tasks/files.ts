/** Local files for sensors and reconciliations: glob matching with sizes, and counting data lines. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { glob } from 'tinyglobby';

export interface MatchedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** Files matching a glob (absolute, or relative to `cwd`), sorted by path. */
export async function matchFiles(pattern: string, cwd: string): Promise<MatchedFile[]> {
  const paths = await glob(pattern, { cwd, absolute: true, onlyFiles: true, expandDirectories: false });
  const files = await Promise.all(
    paths.sort().map(async (path) => {
      try {
        const info = await stat(path);
        return { path, size: info.size, mtimeMs: info.mtimeMs };
      } catch {
        return undefined; // removed between the glob and the stat: not there
      }
    }),
  );
  return files.filter((file): file is MatchedFile => file !== undefined);
}

/** Non-empty lines of a file (gunzipped when it ends in .gz), minus a header line when there is one. */
export async function countDataLines(path: string, options: { header: boolean; signal: AbortSignal }): Promise<number> {
  const raw = createReadStream(path, { signal: options.signal });
  const stream = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let lines = 0;
  let lineHasContent = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === 0x0a) {
        if (lineHasContent) lines++;
        lineHasContent = false;
      } else if (byte !== 0x0d) {
        lineHasContent = true;
      }
    }
  }
  if (lineHasContent) lines++;
  return options.header ? Math.max(0, lines - 1) : lines;
}
