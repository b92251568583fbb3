import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, realpathSync, renameSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { z } from 'zod';
import { lockFolder } from '../../core/folder-lock.js';
import { TributaryError } from '../../core/errors.js';
import { failpoint } from '../../core/failpoints.js';
import { formatSchema, openFormat, type LineLocation, type RecordReader } from '../formats/index.js';
import { defineInput, type InputContext, type PartitionRange, type RecordSink, type StreamInput } from './types.js';

/**
 * A spool folder (Flume's spooling-directory and taildir sources): every line of every file that
 * lands in the folder, and every line later appended to one, becomes an event exactly once.
 *
 * Positions. Each file is read on a partition of its own, its "lane", at offsets `base + line
 * index`; the lane and base are written to a registry in the job's state folder (write, fsync,
 * rename) before any of its lines is handed over, so after a crash the sinks' committed offsets
 * mean the same lines. A lane is reused by a later file once the earlier one is complete, at a base
 * past the earlier file's last line: the partitions the sinks track stay as few as the files in
 * flight instead of growing by one per file forever.
 *
 * Completion. A file is complete when every sink has committed past its last event, it ends with
 * a newline and it has not changed for `quietSeconds`. Completing it renames or moves it through a
 * journal: the registry first records where it is going and its size, then it is renamed, then
 * forgotten; a restart finishes a journalled move, unless the file grew meanwhile (its writer saw
 * it still there): then it is read on. Files are known by inode and first bytes (an inode is
 * reused as soon as a file is deleted), so a file rotated to another name while it is being read
 * is followed, and a new file under a completed file's name is a new file.
 */

/** A name (or part of one) inside a folder. */
const fileName = z
  .string()
  .min(1)
  .regex(/^[^/\\]+$/, 'expected a file name, without folders');
const quietSeconds = z.number().min(0).default(60);

const schema = z
  .object({
    kind: z.literal('spool'),
    /** The folder files land in, relative to the project. Only its own files are read, not its subfolders. */
    dir: z.string().min(1),
    /**
     * Which file names are read: a glob over the name (`*`, `?`, `[abc]`, `{a,b}`). Names starting
     * with '.' never are: a writer writes a hidden file and renames it into place when done.
     */
    pattern: fileName.default('*'),
    /**
     * How a line becomes an event (see connectors/formats): `'jsonl'` (each line one JSON object,
     * passed as it is), `{ delimiter, fields }` (the line's fields, split at every `delimiter` and
     * named in order, e.g. `117|latte|1700000000` with fields customer_id, menu, unix_seconds), or
     * any format `{ kind, ... }` such as `'combined-log'`. A line the format refuses is a dead
     * letter naming the file and line. Blank lines are not events.
     */
    format: formatSchema,
    /**
     * What becomes of a file once every sink has committed all its lines, it ends with a newline
     * and it has gone `quietSeconds` (default 60) without changing; lines appended until then are
     * still read. keep (the default): it stays where it is and is read no more; rename: `suffix`
     * (default '.done') is added to its name, and names ending with it are never read; move: into
     * the folder `to`, relative to the project, on the same file system as `dir` and not `dir`
     * itself. A name already taken gets the file's discovery number too (`orders.txt.7.done`):
     * nothing is overwritten.
     */
    completed: z
      .discriminatedUnion('action', [
        z.object({ action: z.literal('keep'), quietSeconds }).strict(),
        z.object({ action: z.literal('rename'), suffix: fileName.default('.done'), quietSeconds }).strict(),
        z.object({ action: z.literal('move'), to: z.string().min(1), quietSeconds }).strict(),
      ])
      .prefault({ action: 'keep' }),
  })
  .strict();

type SpoolConfig = z.output<typeof schema>;

/** The registry: what survives a restart. */
const registrySchema = z
  .object({
    version: z.literal(1),
    /** The next file's discovery number: files are read in the order they were found. */
    nextSeq: z.number().int().min(0),
    /**
     * Per lane (partition), the offset the next file read on it starts at; null for a lane retired
     * because a file on it vanished before this process counted its lines, so the offsets sinks
     * committed on it are unknown.
     */
    lanes: z.array(z.number().int().min(0).nullable()),
    files: z.array(
      z
        .object({
          seq: z.number().int().min(0),
          partition: z.number().int().min(0),
          /** The offset of the file's first line on its lane. */
          base: z.number().int().min(0),
          /** Its name when it was found, for messages. */
          name: z.string(),
          /** Where it is now, relative to the project. */
          path: z.string(),
          /** The same file under another name is still this file (rotated by its writer, or moved by us). */
          inode: z.string(),
          /** Hash of its first `headLength` bytes (up to 64): a new file that got a deleted file's inode differs here. */
          headLength: z.number().int().min(0),
          headHash: z.string(),
          /**
           * active: being read; completing: being renamed or moved to `target`, finished on restart if
           * a crash interrupted it; completed: kept where it is (action 'keep'), never read again.
           */
          state: z.enum(['active', 'completing', 'completed']),
          target: z.string().optional(),
          /** Its size in bytes when it was found complete: grown past it before it moved, it is read on. */
          completedSize: z.number().int().min(0).optional(),
        })
        .strict(),
    ),
  })
  .strict();

type Registry = z.output<typeof registrySchema>;
type SpoolFile = Registry['files'][number];

/** What is known of a registered file's bytes in this process (found again after a restart). */
interface FileProgress {
  /** Size at the last look. */
  size: number;
  /** Size when its lines were last counted: nothing to count until it grows past this. */
  scanned: number;
  /** Last modification (ms): it ages the file towards completion, and is the events' log time. */
  mtimeMs: number;
  /** Bytes up to and including the last newline: complete lines end here. */
  indexed: number;
  /** Complete lines. */
  lines: number;
  /** Index of the last complete line that is not blank (-1: none): past it there is nothing to read. */
  lastEvent: number;
  /** Where the next line after the last event handed over starts. */
  cursor: { line: number; byte: number };
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
/** Bytes read at a time; grown for a longer line. */
const CHUNK_BYTES = 4 << 20;
const REGISTRY_FILE = 'spool-registry.json';
/** In the spool folder itself (a dot file, never read as data): which process reads the folder. */
const LOCK_FILE = '.tributary-reader.lock';
/** Bytes of a file's start that, with its inode, identify it. */
const HEAD_BYTES = 64;

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b !== SPACE && b !== TAB && b !== RETURN) return false;
  }
  return true;
}

/** A UTF-8 byte-order mark at the start of a file is not part of its first line. */
function afterByteOrderMark(bytes: Uint8Array, start: number, fileOffset: number): number {
  return fileOffset === 0 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf ? start + 3 : start;
}

/** A hash of the file's first `length` bytes; undefined when it is gone or shorter. */
function headOf(file: string, length: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const bytes = Buffer.alloc(length);
    if (readSync(fd, bytes, 0, length, 0) < length) return undefined;
    return createHash('sha1').update(bytes).digest('hex');
  } finally {
    closeSync(fd);
  }
}

function statOf(file: string): BigIntStats | undefined {
  return statSync(file, { bigint: true, throwIfNoEntry: false });
}

/** A rename is durable only once the folder holding the name is synced. */
function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeDurably(file: string, text: string): void {
  const temporary = `${file}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  syncFolder(path.dirname(file));
}

class SpoolInput implements StreamInput {
  private readonly dir: string;
  private readonly registryFile: string;
  private readonly unlock: () => void;
  private registry: Registry;
  private readonly progress = new Map<number, FileProgress>();
  /** Per file, the inode, size and time it was last recognised by: unchanged, its head needs no second look. */
  private readonly recognised = new Map<number, string>();
  private readonly readLine: RecordReader;
  /** Where the line being read is, for the format's reasons: one object, updated line by line. */
  private readonly location: LineLocation = { file: '', line: 0 };
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  /**
   * Per lane, an offset every sink has committed. The job reads ahead only while the batch it
   * read before commits, so the positions of one read are committed by the next read; lag is
   * asked for with committed positions only. Files are completed on these, never on the positions
   * of the current read.
   */
  private readonly committed = new Map<number, number>();
  private previousRead: ReadonlyMap<number, number> | undefined;

  constructor(
    private readonly config: SpoolConfig,
    private readonly baseDir: string,
    stateDir: string,
  ) {
    this.dir = path.resolve(baseDir, config.dir);
    if (!statOf(this.dir)?.isDirectory()) {
      throw new TributaryError(`spool folder ${this.dir} does not exist`, { hint: 'create it (writers drop files there), or fix the input’s `dir` (relative to the project folder)' });
    }
    if (config.completed.action === 'move') {
      const to = path.resolve(baseDir, config.completed.to);
      mkdirSync(to, { recursive: true });
      // The same folder by another path (a link) too.
      if (realpathSync(to) === realpathSync(this.dir)) {
        throw new TributaryError(`spool folder ${this.dir} is also where its completed files move: they would be read again, as new files`, {
          hint: "give `completed.to` a folder of its own (a subfolder of `dir` is never read), or use action 'rename' or 'keep'",
        });
      }
      // A move is a rename, the one step a crash cannot leave half done; across file systems it would be a copy.
      if (statOf(to)!.dev !== statOf(this.dir)!.dev) {
        throw new TributaryError(`spool folder ${this.dir} and ${to}, where completed files move, are on different file systems`, {
          hint: "put `completed.to` on the same file system as `dir`, or use action 'rename'",
        });
      }
    }
    this.readLine = openFormat(config.format);
    mkdirSync(stateDir, { recursive: true });
    this.registryFile = path.join(stateDir, REGISTRY_FILE);
    this.registry = this.load();
    // The registry, and the files it moves when done, are this reader's: one reader per folder.
    this.unlock = lockFolder(
      this.dir,
      LOCK_FILE,
      (owner) =>
        new TributaryError(`spool folder ${this.dir} is read by process ${owner.pid} on ${owner.host}`, {
          hint: 'one process reads a spool folder (on a shared catalog: the `tributary up` whose folder it is; workers leave it to it); stop that one first, or give this one a folder of its own',
        }),
    );
    // A move a crash interrupted is finished before anything else looks at the folder.
    try {
      for (const file of this.registry.files.filter((f) => f.state === 'completing')) this.finishMove(file);
    } catch (error) {
      this.unlock();
      throw error;
    }
  }

  describe(): string {
    return `spool ${this.config.dir} (${this.config.pattern})`;
  }

  async read(positions: ReadonlyMap<number, number>, max: number, batch: RecordSink): Promise<void> {
    if (this.previousRead) this.noteCommitted(this.previousRead);
    this.previousRead = new Map(positions);
    await this.refresh();
    this.completeFinished();
    for (const file of this.active()) {
      if (batch.count >= max) break;
      const progress = this.progress.get(file.seq);
      if (!progress) continue;
      const from = Math.max(0, (positions.get(file.partition) ?? 0) - file.base);
      if (from > progress.lastEvent) continue;
      await this.readLines(file, progress, from, max, batch);
    }
  }

  async lag(positions: ReadonlyMap<number, number>): Promise<number> {
    this.noteCommitted(positions);
    let lines = 0;
    for (const file of this.active()) {
      const progress = this.progress.get(file.seq);
      if (!progress) continue;
      const from = Math.max(0, (positions.get(file.partition) ?? 0) - file.base);
      if (from <= progress.lastEvent) lines += progress.lines - from;
    }
    return lines;
  }

  /** Per lane: the file being read on it, from its first line to its last event; an idle lane is empty at its next base. */
  async partitions(): Promise<PartitionRange[]> {
    const ranges = new Map<number, PartitionRange>();
    this.registry.lanes.forEach((base, partition) => {
      if (base !== null) ranges.set(partition, { partition, start: base, end: base });
    });
    for (const file of this.active()) {
      const progress = this.progress.get(file.seq);
      ranges.set(file.partition, { partition: file.partition, start: file.base, end: file.base + (progress ? progress.lastEvent + 1 : 0) });
    }
    return [...ranges.values()].sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {
    this.unlock();
  }

  private noteCommitted(positions: ReadonlyMap<number, number>): void {
    for (const [partition, offset] of positions) this.committed.set(partition, Math.max(this.committed.get(partition) ?? 0, offset));
  }

  /** Files being read, in the order they were found. */
  private active(): SpoolFile[] {
    return this.registry.files.filter((f) => f.state === 'active').sort((a, b) => a.seq - b.seq);
  }

  private absolute(relative: string): string {
    return path.resolve(this.baseDir, relative);
  }

  private relative(absolute: string): string {
    return path.relative(this.baseDir, absolute);
  }

  private load(): Registry {
    let text: string;
    try {
      text = readFileSync(this.registryFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, nextSeq: 0, lanes: [], files: [] };
      throw error;
    }
    const parsed = registrySchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new TributaryError(`spool registry ${this.registryFile} is not one this version wrote: ${parsed.error.message}`);
    return parsed.data;
  }

  private save(): void {
    writeDurably(this.registryFile, JSON.stringify(this.registry));
  }

  /**
   * Looks at the folder: follows registered files, learns what was appended, forgets files that
   * are gone, and registers new ones (durably, before any of their lines is read).
   */
  private async refresh(): Promise<void> {
    let changed = false;
    for (const file of [...this.registry.files]) {
      let stats = statOf(this.absolute(file.path));
      if (!stats || !this.isSame(file, this.absolute(file.path), stats)) {
        const found = file.state === 'active' ? this.findMoved(file) : undefined;
        if (!found) {
          this.forget(file);
          changed = true;
          continue;
        }
        file.path = this.relative(found.file);
        stats = found.stats;
        changed = true;
      }
      if (file.state !== 'active') continue;
      const size = Number(stats.size);
      if (file.headLength < HEAD_BYTES && size > file.headLength) {
        const headLength = Math.min(HEAD_BYTES, size);
        const headHash = headOf(this.absolute(file.path), headLength);
        if (headHash) {
          Object.assign(file, { headLength, headHash });
          changed = true;
        }
      }
      await this.index(file, stats);
    }

    const known = new Set(this.registry.files.map((f) => `${f.path}\0${f.inode}`));
    const { completed } = this.config;
    const names = globSync(this.config.pattern, { cwd: this.dir, onlyFiles: true, dot: false, expandDirectories: false })
      .filter((name) => !name.startsWith('.') && !(completed.action === 'rename' && name.endsWith(completed.suffix)))
      .sort();
    for (const name of names) {
      const file = path.join(this.dir, name);
      const stats = statOf(file);
      if (!stats?.isFile() || known.has(`${this.relative(file)}\0${stats.ino}`)) continue;
      const headLength = Math.min(HEAD_BYTES, Number(stats.size));
      const headHash = headOf(file, headLength);
      if (headHash === undefined) continue; // gone (or cut) since it was listed
      const { partition, base } = this.freeLane();
      this.registry.files.push({
        seq: this.registry.nextSeq++,
        partition,
        base,
        name,
        path: this.relative(file),
        inode: String(stats.ino),
        headLength,
        headHash,
        state: 'active',
      });
      changed = true;
    }
    if (changed) this.save();
    for (const file of this.active()) {
      if (!this.progress.has(file.seq)) {
        const stats = statOf(this.absolute(file.path));
        if (stats) await this.index(file, stats);
      }
    }
  }

  /** Whether `file` is the registered file: the same inode and the same first bytes. */
  private isSame(entry: SpoolFile, file: string, stats: BigIntStats): boolean {
    if (String(stats.ino) !== entry.inode) return false;
    const seen = `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
    if (this.recognised.get(entry.seq) === seen) return true;
    if (headOf(file, entry.headLength) !== entry.headHash) return false;
    this.recognised.set(entry.seq, seen);
    return true;
  }

  private isAt(entry: SpoolFile, file: string): boolean {
    const stats = statOf(file);
    return stats !== undefined && this.isSame(entry, file, stats);
  }

  /** A registered file that left its name, found under another in the folder (a writer rotated it). */
  private findMoved(entry: SpoolFile): { file: string; stats: BigIntStats } | undefined {
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith('.')) continue;
      const file = path.join(this.dir, name);
      const stats = statOf(file);
      if (stats?.isFile() && this.isSame(entry, file, stats)) return { file, stats };
    }
    return undefined;
  }

  /**
   * Drops a file that is gone (deleted, or replaced under its name) from the registry. Its lane
   * continues past every line that could have been handed over; files only grow, so that is its
   * lines as counted here, and unknown if it vanished before it was counted.
   */
  private forget(file: SpoolFile): void {
    if (file.state === 'active') {
      const progress = this.progress.get(file.seq);
      this.registry.lanes[file.partition] = progress ? file.base + progress.lines : null;
    }
    this.registry.files = this.registry.files.filter((f) => f !== file);
    this.progress.delete(file.seq);
    this.recognised.delete(file.seq);
  }

  /** The lowest lane no file is being read on, and where a file starts on it; a new lane when all are busy. */
  private freeLane(): { partition: number; base: number } {
    const busy = new Set(this.registry.files.filter((f) => f.state !== 'completed').map((f) => f.partition));
    const { lanes } = this.registry;
    for (let partition = 0; partition < lanes.length; partition++) {
      const base = lanes[partition];
      if (base !== null && base !== undefined && !busy.has(partition)) return { partition, base };
    }
    lanes.push(0);
    return { partition: lanes.length - 1, base: 0 };
  }

  /** Counts the complete lines appended since the last look. */
  private async index(file: SpoolFile, stats: BigIntStats): Promise<void> {
    const size = Number(stats.size);
    let progress = this.progress.get(file.seq);
    if (progress) {
      if (size < progress.indexed) {
        throw new TributaryError(`spool file ${file.path} shrank from ${progress.indexed} to ${size} bytes`, {
          hint: 'files in a spool folder may only be appended to; rotate them by renaming, not by truncating',
        });
      }
      progress.mtimeMs = Number(stats.mtimeMs);
      progress.size = size;
      if (size === progress.scanned) return;
    }
    const fd = this.open(file);
    if (fd === undefined) return;
    // Known only once counted: a file that vanishes before then retires its lane (see forget).
    if (!progress) {
      progress = { size, scanned: 0, mtimeMs: Number(stats.mtimeMs), indexed: 0, lines: 0, lastEvent: -1, cursor: { line: 0, byte: 0 } };
      this.progress.set(file.seq, progress);
    }
    try {
      const state = progress;
      state.indexed = await this.eachLine(fd, state.indexed, size, (bytes, start, end) => {
        if (!isBlank(bytes, start, end)) state.lastEvent = state.lines;
        state.lines++;
        return true;
      });
      state.scanned = size;
    } finally {
      closeSync(fd);
    }
  }


  private open(file: SpoolFile): number | undefined {
    try {
      return openSync(this.absolute(file.path), 'r');
    } catch (error) {
      // Rotated or removed since it was looked at: the next look finds where it went.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Calls `visit` for each complete line in bytes [from, to) of the file, with the line's bounds in
   * the chunk (newline excluded), until it returns false; returns where the next line starts.
   * Between chunks it lets the engine's finished statements continue, as the log input does.
   */
  private async eachLine(fd: number, from: number, to: number, visit: (bytes: Buffer, start: number, end: number, fileOffset: number) => boolean): Promise<number> {
    let position = from;
    while (position < to) {
      const length = Math.min(this.chunk.length, to - position);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, this.chunk, got, length - got, position + got);
        if (n === 0) break;
        got += n;
      }
      const bytes = this.chunk.subarray(0, got);
      let start = 0;
      let stopped = false;
      for (let newline = bytes.indexOf(NEWLINE); newline >= 0; newline = bytes.indexOf(NEWLINE, start)) {
        const keepGoing = visit(bytes, start, newline, position + start);
        start = newline + 1;
        if (!keepGoing) {
          stopped = true;
          break;
        }
      }
      if (start === 0) {
        // No newline in a whole chunk: a longer line than ever, or the file ends without one.
        if (got < this.chunk.length || position + got >= to) return position;
        this.chunk = Buffer.allocUnsafe(this.chunk.length * 2);
        continue;
      }
      position += start;
      if (stopped) return position;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return position;
  }

  /** Hands over the lines from line index `from` on, until the batch is full. */
  private async readLines(file: SpoolFile, progress: FileProgress, from: number, max: number, batch: RecordSink): Promise<void> {
    const fd = this.open(file);
    if (fd === undefined) return;
    try {
      let { line, byte } = progress.cursor;
      if (line > from) {
        line = 0;
        byte = 0;
      }
      if (line < from) {
        byte = await this.eachLine(fd, byte, progress.indexed, () => ++line < from);
      }
      const timestamp = progress.mtimeMs;
      const cursor = progress.cursor;
      // Text that is not UTF-8 would stop the engine reading the whole batch: such a line is
      // refused on its own. A chunk is checked at once, its lines only when it fails.
      let checked: Buffer | undefined;
      let chunkIsText = true;
      await this.eachLine(fd, byte, progress.indexed, (bytes, start, end, fileOffset) => {
        const index = line++;
        const first = afterByteOrderMark(bytes, start, fileOffset);
        let last = end;
        if (last > first && bytes[last - 1] === RETURN) last--;
        if (!isBlank(bytes, first, last)) {
          if (bytes !== checked) {
            checked = bytes;
            chunkIsText = isUtf8(bytes);
          }
          if (chunkIsText || isUtf8(bytes.subarray(first, last))) {
            this.location.file = file.name;
            this.location.line = index + 1;
            this.readLine(batch, file.partition, file.base + index, timestamp, bytes, first, last, this.location);
          } else {
            const shown = Buffer.from(bytes.toString('utf8', first, last));
            batch.reject(file.partition, file.base + index, timestamp, `${file.name}:${index + 1}: not UTF-8 text`, shown);
          }
          cursor.line = index + 1;
          cursor.byte = fileOffset + (end - start) + 1;
        }
        return batch.count < max && index < progress.lastEvent;
      });
    } finally {
      closeSync(fd);
    }
  }

  /** Completes every file whose lines all sinks have committed, that ends with a newline and has gone quiet. */
  private completeFinished(): void {
    const quietMs = this.config.completed.quietSeconds * 1000;
    const now = Date.now();
    for (const file of this.active()) {
      const progress = this.progress.get(file.seq);
      if (!progress || progress.indexed !== progress.size || now - progress.mtimeMs < quietMs) continue;
      if ((this.committed.get(file.partition) ?? 0) - file.base <= progress.lastEvent) continue;
      this.complete(file, progress);
    }
  }

  private complete(file: SpoolFile, progress: FileProgress): void {
    this.registry.lanes[file.partition] = file.base + progress.lines;
    this.progress.delete(file.seq);
    const { completed } = this.config;
    if (completed.action === 'keep') {
      file.state = 'completed';
      this.save();
      return;
    }
    file.state = 'completing';
    file.target = this.relative(this.freeTarget(file));
    file.completedSize = progress.size;
    this.save();
    this.finishMove(file);
  }

  /**
   * Where a completed file goes: its name (with the suffix) in the folder it goes to, or, never
   * over another file of that name, the name with its discovery number.
   */
  private freeTarget(file: SpoolFile): string {
    const { completed } = this.config;
    const current = this.absolute(file.path);
    const folder = completed.action === 'move' ? path.resolve(this.baseDir, completed.to) : path.dirname(current);
    mkdirSync(folder, { recursive: true });
    const name = path.basename(current);
    const suffix = completed.action === 'rename' ? completed.suffix : '';
    const taken = (candidate: string) => statOf(path.join(folder, candidate)) !== undefined;
    let candidate = `${name}${suffix}`;
    for (let n = 1; taken(candidate); n++) candidate = `${name}.${file.seq}${n > 1 ? `.${n}` : ''}${suffix}`;
    return path.join(folder, candidate);
  }

  /**
   * Renames a completing file to its target unless that already happened, then forgets it. A file
   * its writer appended to after it was found complete (while a crash held up the move, or in the
   * moment before it) is not complete: it goes back to being read, on its own lane, from where its
   * sinks committed.
   */
  private finishMove(file: SpoolFile): void {
    const target = this.absolute(file.target!);
    if (!this.isAt(file, target)) {
      const current = this.absolute(file.path);
      const stats = statOf(current);
      if (stats && this.isSame(file, current, stats)) {
        if (file.completedSize !== undefined && Number(stats.size) > file.completedSize) {
          file.state = 'active';
          delete file.target;
          delete file.completedSize;
          this.save();
          return;
        }
        // Never over a file that came to the target since it was chosen (across a crash, say).
        let to = target;
        if (statOf(to)) {
          to = this.freeTarget(file);
          file.target = this.relative(to);
          this.save();
        }
        failpoint('spool:before-move');
        renameSync(current, to);
        syncFolder(path.dirname(current));
        syncFolder(path.dirname(to));
        failpoint('spool:after-move');
      }
    }
    this.registry.files = this.registry.files.filter((f) => f !== file);
    this.recognised.delete(file.seq);
    this.save();
  }
}

export const spoolInput = defineInput({
  kind: 'spool',
  description: 'text files dropped into (or appended to in) a folder, one event per line; completed files are kept, renamed or moved',
  config: schema,
  // Its registry and its moves of finished files are one process's: the folder is that process's own.
  local: true,
  create: async (config: SpoolConfig, context: InputContext): Promise<StreamInput> => new SpoolInput(config, context.baseDir, context.stateDir),
});
