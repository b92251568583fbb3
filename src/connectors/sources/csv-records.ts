import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * CSV records as a quote-aware reader sees them, found byte by byte: which records span several
 * physical lines, and where a quote opened that a sound record would have closed. It is the slow
 * path of a load's reconciliation, run only when the reader's records and the file's lines
 * disagree, to say where and why, and to set a runaway quote's line aside.
 */
export interface CsvDialect {
  delimiter: string;
  quote: string;
  escape: string;
  header: boolean;
}

export interface MultiLineRecord {
  /** Physical line (1-based) where the record starts. */
  line: number;
  /** Physical lines it spans. */
  span: number;
  fields: number;
  /** The field (1-based) whose quoted value holds the record's first line break. */
  openField: number;
  bytes: number;
  /** The quote never closed: the record runs to the end of the file. */
  unclosed: boolean;
  /** Lines wholly inside the record (neither its first nor its last). */
  innerLines: number;
  /**
   * Inner lines that, read on their own, are records of the file (balanced quotes, as many fields
   * as a record has): the mark of a stray quote that closed much later, swallowing real records.
   */
  recordLikeLines: number;
}

export interface RecordScan {
  /** Data records (the header excluded). */
  records: number;
  multiLine: MultiLineRecord[];
  /** Located record number (1-based, rejected records skipped) → physical line, for the ones asked. */
  lines: Map<number, number>;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** CSV quoting read byte by byte: whether a byte is inside a quoted value, and the fields so far. */
class QuoteState {
  fields = 1;
  private fieldStart = true;
  private inQuotes = false;
  /** Saw a quote inside quotes: it closes the value unless the next byte is a quote too. */
  private closing = false;
  private escaped = false;

  constructor(
    private readonly quote: number,
    private readonly escape: number,
    private readonly delimiter: number,
  ) {}

  reset(): void {
    this.fields = 1;
    this.fieldStart = true;
    this.inQuotes = false;
    this.closing = false;
    this.escaped = false;
  }

  /** Reads one byte; true when it belongs to a quoted value (a line ending there ends no record). */
  read(b: number): boolean {
    if (this.inQuotes) {
      if (this.escaped) {
        this.escaped = false;
        return true;
      }
      if (!this.closing) {
        if (b === this.quote) {
          if (this.escape === this.quote) this.closing = true;
          else this.inQuotes = false;
        } else if (b === this.escape) this.escaped = true;
        return true;
      }
      this.closing = false;
      if (b === this.quote) return true; // a doubled quote inside quotes is a quote character
      this.inQuotes = false; // the quote before closed the value; this byte is read outside quotes
    }
    if (b === this.delimiter) {
      this.fields++;
      this.fieldStart = true;
    } else if (b === this.quote && this.fieldStart) {
      this.inQuotes = true;
      this.fieldStart = false;
    } else if (b !== RETURN) {
      this.fieldStart = false;
    }
    return false;
  }

  /** What was read ends inside a quoted value. */
  get open(): boolean {
    return this.inQuotes && !this.closing;
  }
}

export async function scanCsvRecords(
  file: string,
  dialect: CsvDialect,
  options: { wanted?: ReadonlySet<number>; rejectedLines?: ReadonlySet<number>; fields?: number } = {},
): Promise<RecordScan> {
  const quote = dialect.quote ? dialect.quote.charCodeAt(0) : -1;
  const escape = dialect.escape ? dialect.escape.charCodeAt(0) : quote;
  const delimiter = dialect.delimiter.charCodeAt(0);
  const record = new QuoteState(quote, escape, delimiter);
  // Each physical line read on its own, to see whether a line inside a quoted value is a record.
  const alone = new QuoteState(quote, escape, delimiter);
  let line = 1;
  let lineBytes = 0;
  let recordLine = 1;
  let recordBytes = 0;
  let innerLines = 0;
  let recordLikeLines = 0;
  let openField = 0;
  let seenHeader = !dialect.header;
  let records = 0;
  let located = 0;
  const multiLine: MultiLineRecord[] = [];
  const lines = new Map<number, number>();

  const endRecord = () => {
    if (recordBytes === 0 && record.fields === 1) return; // a blank line is no record
    if (!seenHeader) {
      seenHeader = true;
    } else {
      records++;
      if (line > recordLine) multiLine.push({ line: recordLine, span: line - recordLine + 1, fields: record.fields, openField, bytes: recordBytes, unclosed: false, innerLines, recordLikeLines });
      if (!options.rejectedLines?.has(recordLine)) {
        located++;
        if (options.wanted?.has(located)) lines.set(located, recordLine);
      }
    }
  };

  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw;
  let lastByte = -1;
  for await (const data of stream) {
    const chunk = data as Buffer;
    if (chunk.length) lastByte = chunk[chunk.length - 1]!;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === NEWLINE) {
        const quoted = record.read(b);
        if (quoted && line === recordLine) openField = record.fields;
        if (quoted && line > recordLine) {
          innerLines++;
          if (options.fields !== undefined && lineBytes > 0 && !alone.open && alone.fields === options.fields) recordLikeLines++;
        }
        alone.reset();
        lineBytes = 0;
        if (quoted) {
          recordBytes++;
          line++;
          continue;
        }
        endRecord();
        line++;
        recordLine = line;
        recordBytes = 0;
        innerLines = 0;
        recordLikeLines = 0;
        openField = 0;
        record.reset();
        continue;
      }
      // Only a line that starts inside a quoted value can be a record swallowed by one.
      if (line > recordLine) {
        alone.read(b);
        if (b !== RETURN) lineBytes++;
      }
      if (record.read(b) || b !== RETURN) recordBytes++;
    }
  }
  if (record.open) {
    records += seenHeader ? 1 : 0;
    // A file that ends with a line ending has counted one line past its last.
    const last = recordBytes > 0 && lastByte === NEWLINE ? line - 1 : line;
    multiLine.push({ line: recordLine, span: last - recordLine + 1, fields: record.fields, openField: openField || record.fields, bytes: recordBytes, unclosed: true, innerLines, recordLikeLines });
  } else {
    endRecord();
  }
  return { records, multiLine, lines };
}

/**
 * A copy of `file` with the given physical lines emptied (a blank line is no record to a
 * reader), so the lines a runaway quote swallowed read as the records they are. Line numbers are
 * kept, so quarantined rows still point at the original file's lines.
 */
export async function blankLines(file: string, blank: ReadonlySet<number>, into: string): Promise<void> {
  let line = 1;
  const drop = new Transform({
    transform(data: Buffer, _encoding, done) {
      const out = Buffer.allocUnsafe(data.length);
      let n = 0;
      for (let i = 0; i < data.length; i++) {
        const b = data[i]!;
        if (b === NEWLINE) {
          out[n++] = b;
          line++;
        } else if (!blank.has(line)) out[n++] = b;
      }
      done(null, out.subarray(0, n));
    },
  });
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  await pipeline(/\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw, drop, createWriteStream(into));
}

/**
 * Copies `file` (decompressed) with every CRLF line ending made LF, and says how many lines ended
 * each way: a file that mixes them stops the reader's strict mode, and once copied it reads like
 * any other, each line where it was. It also names the lines holding a carriage return that ends
 * no line outside a quoted value (a stray byte, binary data), which stops the reader too.
 */
export async function unifyLineEndings(file: string, into: string, dialect: CsvDialect): Promise<{ crlf: number; lf: number; strayReturns: number[] }> {
  let crlf = 0;
  let lf = 0;
  let pendingReturn = false;
  /** Whether the pending carriage return was inside a quoted value. */
  let returnQuoted = false;
  let line = 1;
  const strayReturns: number[] = [];
  const quote = dialect.quote ? dialect.quote.charCodeAt(0) : -1;
  const record = new QuoteState(quote, dialect.escape ? dialect.escape.charCodeAt(0) : quote, dialect.delimiter.charCodeAt(0));
  const stray = () => {
    if (!returnQuoted && strayReturns.at(-1) !== line) strayReturns.push(line);
  };
  const unify = new Transform({
    transform(data: Buffer, _encoding, done) {
      const out = Buffer.allocUnsafe(data.length + 1);
      let n = 0;
      for (let i = 0; i < data.length; i++) {
        const b = data[i]!;
        if (pendingReturn) {
          pendingReturn = false;
          if (b === NEWLINE) {
            crlf++;
            out[n++] = NEWLINE;
            if (!record.read(b)) record.reset();
            line++;
            continue;
          }
          stray();
          out[n++] = RETURN;
        }
        if (b === RETURN) {
          pendingReturn = true;
          returnQuoted = record.read(b);
        } else {
          out[n++] = b;
          if (b === NEWLINE) {
            lf++;
            if (!record.read(b)) record.reset();
            line++;
          } else record.read(b);
        }
      }
      done(null, out.subarray(0, n));
    },
    flush(done) {
      // A carriage return that ends the file ends its last line, as readers take it.
      done(null, pendingReturn ? Buffer.from([RETURN]) : null);
    },
  });
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  await pipeline(/\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw, unify, createWriteStream(into));
  return { crlf, lf, strayReturns };
}
