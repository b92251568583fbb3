import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { TributaryError } from '../../core/errors.js';
import { LINE_FEEDS_WASM } from './line-feeds.js';
import type { LineFingerprint } from './types.js';

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
  /** The lines asked for by fingerprint, with their number and text, in file order. */
  found?: FoundLine[];
}

export interface FoundLine {
  /** Physical line, 1-based. */
  line: number;
  text: string;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** Bytes the counter takes at a time; its memory holds them and the zeroed bytes after. */
const CHUNK = 1 << 20;

/** Where a file's count stands between chunks: its last two bytes, for a line ending a chunk boundary splits. */
interface Tail {
  previous: number;
  beforePrevious: number;
}

/**
 * Counts line feeds and blank lines chunk by chunk in line-feeds.wat's WebAssembly module: write a
 * chunk into `memory` (at most CHUNK bytes), then `count` it with its file's tail. `bytes` is the
 * module (line-feeds.ts). Files counted side by side share one counter: a chunk is written and
 * counted in one go, and each file keeps its own tail.
 */
export function lineFeedCounter(bytes: Uint8Array) {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
  const wasm = exports as unknown as { memory: WebAssembly.Memory; count(length: number): number; blank_lf: WebAssembly.Global; blank_crlf: WebAssembly.Global };
  const memory = new Uint8Array(wasm.memory.buffer);
  return {
    memory: memory.subarray(0, CHUNK),
    /** A file's tail before its first byte: the start of a file counts as after a line ending. */
    start: (): Tail => ({ previous: NEWLINE, beforePrevious: NEWLINE }),
    /** Counts `length` bytes written at the start of `memory`: line feeds, and empty lines (LF or CRLF). */
    count(length: number, tail: Tail): { lineFeeds: number; blank: number } {
      if (!length) return { lineFeeds: 0, blank: 0 };
      memory.fill(0, length, length + 32);
      const lineFeeds = wasm.count(length);
      let blank = (wasm.blank_lf.value as number) + (wasm.blank_crlf.value as number);
      // An empty line whose ending starts in the chunk before.
      if (memory[0] === NEWLINE && (tail.previous === NEWLINE || (tail.previous === RETURN && tail.beforePrevious === NEWLINE))) blank++;
      if (length > 1 && memory[0] === RETURN && memory[1] === NEWLINE && tail.previous === NEWLINE) blank++;
      tail.beforePrevious = length > 1 ? memory[length - 2]! : tail.previous;
      tail.previous = memory[length - 1]!;
      return { lineFeeds, blank };
    },
  };
}

/** Counts newline bytes of a buffer of any size, in the main thread (a few lines around a quarantined record). */
export function countNewlines(chunk: Uint8Array): number {
  let count = 0;
  for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

/**
 * Finds the lines `wanted` names as a file's chunks go by, each line's text checked only when its
 * length is one of theirs: most lines cost a search for their end. `take` may be given a buffer
 * that is overwritten afterwards (a line it splits is copied).
 */
function lineFinder(wanted: readonly LineFingerprint[], md5: (bytes: Uint8Array) => string) {
  const lengths = new Set(wanted.map((w) => w.bytes));
  // A longer line cannot be one of them, whatever its ending and mark: it is not kept.
  const room = Math.max(...lengths) + 4;
  const left = new Map<string, number>();
  for (const w of wanted) left.set(`${w.bytes}.${w.md5}`, (left.get(`${w.bytes}.${w.md5}`) ?? 0) + w.count);
  const found: FoundLine[] = [];
  let line = 1;
  /** The start of a line a chunk ended in, while it is short enough to be one of them. */
  let carried: Buffer[] = [];
  let carriedBytes = 0;
  let partial = false;
  const check = (text: Buffer) => {
    let end = text.length;
    if (end && text[end - 1] === RETURN) end--;
    const start = line === 1 && end >= 3 && text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf ? 3 : 0;
    if (!lengths.has(end - start)) return;
    const body = text.subarray(start, end);
    const key = `${end - start}.${md5(body)}`;
    const n = left.get(key);
    if (!n) return;
    left.set(key, n - 1);
    found.push({ line, text: body.toString('utf8') });
  };
  const carry = (piece: Buffer) => {
    if (carriedBytes + piece.length <= room) carried.push(Buffer.from(piece));
    carriedBytes += piece.length;
    partial = true;
  };
  const endCarried = () => {
    if (carriedBytes <= room) check(Buffer.concat(carried));
    carried = [];
    carriedBytes = 0;
    partial = false;
    line++;
  };
  return {
    take(bytes: Uint8Array) {
      const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      let at = 0;
      if (partial) {
        const end = chunk.indexOf(NEWLINE);
        if (end < 0) return carry(chunk);
        carry(chunk.subarray(0, end));
        endCarried();
        at = end + 1;
      }
      for (let end = chunk.indexOf(NEWLINE, at); end >= 0; at = end + 1, end = chunk.indexOf(NEWLINE, at)) {
        if (line === 1 || lengths.has(end - at) || lengths.has(end - at - 1)) check(chunk.subarray(at, end));
        line++;
      }
      if (at < chunk.length) carry(chunk.subarray(at));
    },
    /** The lines found; a last line without a line ending is checked here. */
    end(): FoundLine[] {
      if (partial) endCarried();
      return found;
    },
  };
}

/** What counting a file needs, as an argument: the worker gets this module's functions as source, not its imports. */
interface CountIo {
  createReadStream: typeof createReadStream;
  createGunzip: typeof createGunzip;
  openSync: typeof openSync;
  readSync: typeof readSync;
  closeSync: typeof closeSync;
  counter: ReturnType<typeof lineFeedCounter>;
  md5: (bytes: Uint8Array) => string;
}

async function countFile(file: string, io: CountIo, wanted?: readonly LineFingerprint[]): Promise<LineCount> {
  const { counter } = io;
  const tail = counter.start();
  const finder = wanted?.length ? lineFinder(wanted, io.md5) : undefined;
  let newlines = 0;
  let blank = 0;
  let bytes = 0;
  const take = (length: number) => {
    finder?.take(counter.memory.subarray(0, length));
    const counted = counter.count(length, tail);
    newlines += counted.lineFeeds;
    blank += counted.blank;
    bytes += length;
  };
  if (/\.gz$/i.test(file)) {
    const raw = io.createReadStream(file, { highWaterMark: 4 << 20 });
    for await (const data of raw.pipe(io.createGunzip({ chunkSize: CHUNK }))) {
      const chunk = data as Buffer;
      for (let at = 0; at < chunk.length; at += CHUNK) {
        const part = chunk.subarray(at, at + CHUNK);
        counter.memory.set(part);
        take(part.length);
      }
    }
  } else {
    // Read straight into the counter's memory. A drop folder is tens of thousands of small files: a
    // stream each, with a buffer of its own, cost more than their bytes (about 55 s for 90,000
    // files, against 4 s for the engine's read).
    const fd = io.openSync(file, 'r');
    try {
      for (let read = io.readSync(fd, counter.memory, 0, CHUNK, null); read > 0; read = io.readSync(fd, counter.memory, 0, CHUNK, null)) take(read);
    } finally {
      io.closeSync(fd);
    }
  }
  // A last line without a line ending is a line too.
  const unterminated = bytes > 0 && tail.previous !== NEWLINE ? 1 : 0;
  return { file, lines: newlines + unterminated - blank, blank, bytes, ...(finder ? { found: finder.end() } : {}) };
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
const { createHash } = require('node:crypto');
const { createGunzip } = require('node:zlib');
const { parentPort, workerData } = require('node:worker_threads');
const NEWLINE = ${NEWLINE}, RETURN = ${RETURN}, CHUNK = ${CHUNK};
${lineFeedCounter.toString()}
${lineFinder.toString()}
${countFile.toString()}
${countAll.toString()}
const md5 = (bytes) => createHash('md5').update(bytes).digest('hex');
const io = { createReadStream, createGunzip, openSync, readSync, closeSync, md5, counter: lineFeedCounter(Buffer.from(workerData.wasm, 'base64')) };
countAll(workerData.files, (file) => countFile(file, io, workerData.wanted[file])).then(
  (counts) => parentPort.postMessage({ counts }),
  (error) => parentPort.postMessage({ error: error.message, file: error.file }),
);`;

/** A file the count could not read to its end (a truncated .gz), named. */
/** A file that could not be read to its end (a .gz cut short, say), named with what to do; `file` as people know it. */
export function unreadableFile(file: string | undefined, error: Error): TributaryError {
  return new TributaryError(`cannot read ${file ? 'the file' : 'an input file'} to its end (a truncated or corrupt .gz?): ${error.message}; nothing was committed`, {
    place: file ? { file } : undefined,
    hint: 'fetch or copy the file again, then re-run',
  });
}

export class UnreadableFile extends Error {
  constructor(
    message: string,
    readonly file: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Counts the lines of every file in a worker thread; in the files `wanted` names, it also finds
 * the lines with those fingerprints in the same read. Aborted, the worker stops and the count fails.
 */
export function countLines(files: readonly string[], wanted: ReadonlyMap<string, readonly LineFingerprint[]> = new Map(), signal?: AbortSignal): Promise<LineCount[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { files, wasm: LINE_FEEDS_WASM, wanted: Object.fromEntries(wanted) } });
    // A count nobody will read (the load failed before it) stops rather than read every file to the end.
    signal?.addEventListener('abort', () => void worker.terminate(), { once: true });
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
