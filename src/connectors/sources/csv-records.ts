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
  bytes: number;
  /** The quote never closed: the record runs to the end of the file. */
  unclosed: boolean;
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

export async function scanCsvRecords(file: string, dialect: CsvDialect, options: { wanted?: ReadonlySet<number>; rejectedLines?: ReadonlySet<number> } = {}): Promise<RecordScan> {
  const quote = dialect.quote ? dialect.quote.charCodeAt(0) : -1;
  const escape = dialect.escape ? dialect.escape.charCodeAt(0) : quote;
  const delimiter = dialect.delimiter.charCodeAt(0);
  let line = 1;
  let recordLine = 1;
  let recordBytes = 0;
  let fields = 1;
  let fieldStart = true;
  let inQuotes = false;
  let closing = false; // saw a quote inside quotes: closing, unless the next byte is a quote too
  let escaped = false;
  let seenHeader = !dialect.header;
  let records = 0;
  let located = 0;
  const multiLine: MultiLineRecord[] = [];
  const lines = new Map<number, number>();

  const endRecord = () => {
    if (recordBytes === 0 && fields === 1) return; // a blank line is no record
    if (!seenHeader) {
      seenHeader = true;
    } else {
      records++;
      if (line > recordLine) multiLine.push({ line: recordLine, span: line - recordLine + 1, fields, bytes: recordBytes, unclosed: false });
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
      if (inQuotes) {
        if (escaped) {
          escaped = false;
          recordBytes++;
          if (b === NEWLINE) line++;
          continue;
        }
        if (closing) {
          closing = false;
          if (b === quote) {
            recordBytes++;
            continue; // a doubled quote inside quotes is a quote character
          }
          inQuotes = false; // the quote before closed the field; this byte is read outside quotes
        } else {
          recordBytes++;
          if (b === NEWLINE) line++;
          else if (b === quote) {
            if (escape === quote) closing = true;
            else inQuotes = false;
          } else if (b === escape) escaped = true;
          continue;
        }
      }
      if (b === NEWLINE) {
        endRecord();
        line++;
        recordLine = line;
        recordBytes = 0;
        fields = 1;
        fieldStart = true;
        continue;
      }
      if (b === RETURN) continue;
      recordBytes++;
      if (b === delimiter) {
        fields++;
        fieldStart = true;
      } else if (b === quote && fieldStart) {
        inQuotes = true;
        fieldStart = false;
      } else {
        fieldStart = false;
      }
    }
  }
  if (inQuotes && !closing) {
    records += seenHeader ? 1 : 0;
    // A file that ends with a line ending has counted one line past its last.
    const last = recordBytes > 0 && lastByte === NEWLINE ? line - 1 : line;
    multiLine.push({ line: recordLine, span: last - recordLine + 1, fields, bytes: recordBytes, unclosed: true });
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
