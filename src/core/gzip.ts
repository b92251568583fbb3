import { closeSync, openSync, readSync } from 'node:fs';
import { TributaryError } from './errors.js';

/**
 * The error for a file named .gz that does not start as gzip does (bytes 1f 8b): a plain file given
 * the name, which fetching again would not mend, unlike one cut short. Undefined when it is gzip
 * (or cannot be opened: then the reader's own error names the cause).
 */
export function notGzipError(file: string): TributaryError | undefined {
  let start: Buffer;
  try {
    const fd = openSync(file, 'r');
    try {
      start = Buffer.alloc(2);
      start = start.subarray(0, readSync(fd, start, 0, 2, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (start.length === 2 && start[0] === 0x1f && start[1] === 0x8b) return undefined;
  return new TributaryError("the file is named .gz but is not gzip (it does not start with gzip's bytes 1f 8b); nothing was committed", {
    place: { file },
    hint: 'if it is plain text, rename it without .gz; otherwise compress it (gzip -c FILE > FILE.gz)',
  });
}

/** notGzipError for the file the engine's error names when it could not inflate one ("Input is not a GZIP stream: FILE"). */
export function engineGzipError(error: unknown): TributaryError | undefined {
  const file = /Input is not a GZIP stream: (.+)$/m.exec(error instanceof Error ? error.message : String(error))?.[1];
  return file ? notGzipError(file.trim()) : undefined;
}
