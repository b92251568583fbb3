import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';

/**
 * The independent count a load is reconciled against: the physical lines of each input file,
 * counted by bytes with no notion of CSV quoting or JSON, so a parser that swallows lines (a
 * runaway quote) cannot make the two agree. Blank lines are counted apart: readers skip them.
 *
 * It runs in a worker thread beside the engine's scan: a server doing a batch load keeps its
 * event loop, and the count costs a core's fraction rather than a second scan.
 */
export interface LineCount {
  file: string;
  /** Lines holding at least one byte other than the line ending. */
  lines: number;
  /** Empty lines (nothing between two line endings). */
  blank: number;
  /** Decompressed bytes (for .gz) or file bytes. */
  bytes: number;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** Counts newline bytes 4 at a time (SWAR): the per-line cost of a search call dominates otherwise. */
export function countNewlines(chunk: Uint8Array): number {
  const aligned = chunk.byteOffset % 4 === 0;
  let count = 0;
  let i = 0;
  if (aligned) {
    const words = chunk.length >>> 2;
    const u32 = new Uint32Array(chunk.buffer, chunk.byteOffset, words);
    for (let w = 0; w < words; w++) {
      const x = u32[w]! ^ 0x0a0a0a0a;
      const zero = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f);
      if (zero !== 0) {
        let v = zero >>> 7;
        v = (v & 0x01010101) >>> 0;
        count += (Math.imul(v, 0x01010101) >>> 24) & 0xff;
      }
    }
    i = words << 2;
  }
  for (; i < chunk.length; i++) if (chunk[i] === NEWLINE) count++;
  return count;
}

/** Counts empty lines: a line ending right after the previous one (LF or CRLF). */
function countBlank(chunk: Buffer, previous: number, beforePrevious: number): number {
  let blank = 0;
  if (chunk.length && chunk[0] === NEWLINE && (previous === NEWLINE || (previous === RETURN && beforePrevious === NEWLINE))) blank++;
  if (chunk.length > 1 && chunk[0] === RETURN && chunk[1] === NEWLINE && previous === NEWLINE) blank++;
  for (let at = chunk.indexOf('\n\n'); at !== -1; at = chunk.indexOf('\n\n', at + 1)) blank++;
  for (let at = chunk.indexOf('\n\r\n'); at !== -1; at = chunk.indexOf('\n\r\n', at + 1)) blank++;
  return blank;
}

/** What counting a file needs, as an argument: the worker gets this module's functions as source, not its imports. */
interface CountIo {
  createReadStream: typeof createReadStream;
  createGunzip: typeof createGunzip;
  openSync: typeof openSync;
  readSync: typeof readSync;
  closeSync: typeof closeSync;
  /** One buffer for every plain file's reads, used within a synchronous loop. */
  buffer: Buffer;
}

async function countFile(file: string, io: CountIo): Promise<LineCount> {
  let newlines = 0;
  let blank = 0;
  let bytes = 0;
  let previous = NEWLINE; // the start of a file counts as after a line ending
  let beforePrevious = NEWLINE;
  const take = (chunk: Buffer) => {
    if (!chunk.length) return;
    newlines += countNewlines(chunk);
    blank += countBlank(chunk, previous, beforePrevious);
    bytes += chunk.length;
    beforePrevious = chunk.length > 1 ? chunk[chunk.length - 2]! : previous;
    previous = chunk[chunk.length - 1]!;
  };
  if (/\.gz$/i.test(file)) {
    const raw = io.createReadStream(file, { highWaterMark: 4 << 20 });
    for await (const data of raw.pipe(io.createGunzip({ chunkSize: 1 << 20 }))) take(data as Buffer);
  } else {
    // A drop folder is tens of thousands of small files: a stream each, with a buffer of its own,
    // cost more than their bytes (about 55 s for 90,000 files, against 4 s for the engine's read).
    const fd = io.openSync(file, 'r');
    try {
      for (let read = io.readSync(fd, io.buffer); read > 0; read = io.readSync(fd, io.buffer)) take(io.buffer.subarray(0, read));
    } finally {
      io.closeSync(fd);
    }
  }
  // A last line without a line ending is a line too.
  const unterminated = bytes > 0 && previous !== NEWLINE ? 1 : 0;
  return { file, lines: newlines + unterminated - blank, blank, bytes };
}

/**
 * Counts files a few at a time, in their order: a day of store drops is thousands of files, and
 * opening them all at once runs out of file handles (the engine, reading the same files, too).
 */
async function countAll(files: readonly string[], count: (file: string) => Promise<LineCount>): Promise<LineCount[]> {
  const counts: LineCount[] = new Array(files.length);
  let next = 0;
  const lanes: Promise<void>[] = [];
  for (let lane = 0; lane < Math.min(8, files.length); lane++) {
    lanes.push(
      (async () => {
        while (next < files.length) {
          const i = next++;
          counts[i] = await count(files[i]!).catch((error: Error) => {
            throw Object.assign(error, { file: files[i] });
          });
        }
      })(),
    );
  }
  await Promise.all(lanes);
  return counts;
}

/**
 * The worker runs these same functions, given as source: a worker cannot load this TypeScript
 * module itself when Tributary runs from source (tests, tsx), and compiled they are plain JS.
 */
const WORKER_SOURCE = `
// Run from source, the transpiler names functions through a helper the worker does not have.
var __name = (target) => target;
const { closeSync, createReadStream, openSync, readSync } = require('node:fs');
const { createGunzip } = require('node:zlib');
const { parentPort, workerData } = require('node:worker_threads');
const NEWLINE = ${NEWLINE}, RETURN = ${RETURN};
${countNewlines.toString()}
${countBlank.toString()}
${countFile.toString()}
${countAll.toString()}
const io = { createReadStream, createGunzip, openSync, readSync, closeSync, buffer: Buffer.allocUnsafe(1 << 20) };
countAll(workerData.files, (file) => countFile(file, io)).then(
  (counts) => parentPort.postMessage({ counts }),
  (error) => parentPort.postMessage({ error: error.message, file: error.file }),
);`;

/** A file the count could not read to its end (a truncated .gz), named. */
export class UnreadableFile extends Error {
  constructor(
    message: string,
    readonly file: string | undefined,
  ) {
    super(message);
  }
}

/** Counts the lines of every file in a worker thread. */
export function countLines(files: readonly string[]): Promise<LineCount[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { files } });
    worker.once('message', (message: { counts?: LineCount[]; error?: string; file?: string }) => {
      if (message.error) reject(new UnreadableFile(message.error, message.file));
      else resolve(message.counts!);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the line-count worker exited with code ${code}`));
    });
  });
}
