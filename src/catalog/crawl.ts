import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { convertPathToPattern, glob } from 'tinyglobby';
import { TributaryError } from '../core/errors.js';
import { notGzipError } from '../core/gzip.js';
import { groupBy } from '../core/collections.js';
import { filesOfEveryPartitionValue } from '../core/hive.js';
import type { Engine } from '../engine/index.js';
import { columnsStruct, csvReadsBySize, quoteIdent, quoteList, quoteLiteral } from '../engine/index.js';
import { diffColumns, type ColumnInfo, type DataFile, type Metastore, type SchemaDrift } from './metastore.js';

export interface CrawlReport {
  table: string;
  format: 'csv' | 'json' | 'parquet';
  files: number;
  rows: number;
  columns: ColumnInfo[];
  partitionBy: string[];
  partitions: number;
  /** Differences between consecutive drops (partitions), oldest first. */
  dropDrift: { partition: string; drift: SchemaDrift }[];
  /** Differences from the schema the previous crawl registered. */
  sinceLastCrawl?: SchemaDrift;
  /** CSV: the layout most files share, which each file is compared with. */
  reference?: CsvReference;
  /** CSV: how each file that differs from the reference differs, by partition (day) and store. */
  storeDrift?: StoreDrift[];
}

export interface CrawlOptions {
  /**
   * Which store a file belongs to: a regular expression over the file's name whose first group
   * (or whole match) names the store. Default: the file's name without its extensions.
   */
  store?: string;
}

/** The layout most files of a CSV drop folder share: what a file that differs is said to drift from. */
export interface CsvReference {
  delimiter: string;
  header: string[];
  /** Per column, the type most files' values have (null when no file has a value). */
  types: Record<string, string | null>;
  /** Files with exactly this delimiter and header. */
  files: number;
}

export type DriftChange = 'delimiter' | 'renamed' | 'added' | 'removed' | 'reordered' | 'retyped' | 'empty values' | 'refused rows';

/** One difference of one file (a store's drop for a day) from the reference layout. */
export interface StoreDrift {
  /** The file's partition, e.g. `dt=2024-12-07` ('(root)' when the folder has none). */
  partition: string;
  store: string;
  /** The file, relative to the crawled folder. */
  file: string;
  change: DriftChange;
  column: string | null;
  detail: string;
  /** Rows of the file the change concerns. */
  rows: number;
}

function formatOf(file: string): CrawlReport['format'] {
  if (/\.parquet$/i.test(file)) return 'parquet';
  if (/\.(jsonl|ndjson|json)(\.gz)?$/i.test(file)) return 'json';
  return 'csv';
}

function reader(format: 'json' | 'parquet', files: string[], hive: boolean): string {
  const list = quoteList(files);
  switch (format) {
    case 'parquet':
      return `read_parquet(${list}, union_by_name = true, hive_partitioning = ${hive})`;
    case 'json':
      return `read_json(${list}, format = 'newline_delimited', union_by_name = true, sample_size = -1, hive_partitioning = ${hive})`;
  }
}

/** Hadoop's convention, which Spark, Hive and Glue follow: `_SUCCESS`, `_manifest.json` and `.crc` files are not data. */
const hidden = (file: string) => /^[_.]/.test(path.basename(file));

const partitionText = (partition: Record<string, string>) => Object.entries(partition).map(([k, v]) => `${k}=${v}`).join('/') || '(root)';

/**
 * The Glue crawler's job: infer the schema of files dropped under a folder (reading every row, so
 * a late odd value cannot mistype a column), register them as a table with their Hive-style
 * partitions, and report how the schema drifted from drop to drop and since the last crawl. CSV
 * files are read each with its own delimiter and header, and each file that differs from the
 * layout most files share is reported by partition and store.
 */
export async function crawl(engine: Engine, metastore: Metastore, root: string, table: string, options: CrawlOptions = {}): Promise<CrawlReport> {
  const base = path.resolve(root);
  const single = statSafe(base)?.isFile() ?? false;
  // The folder's own name is no pattern ('drops [old]' is a name, not a character class).
  const files = single ? [base] : (await glob(`${convertPathToPattern(base)}/**/*.{csv,tsv,txt,csv.gz,jsonl,ndjson,json,jsonl.gz,parquet}`, { absolute: true, onlyFiles: true })).filter((f) => !hidden(f)).sort();
  if (!files.length) {
    throw new TributaryError(`nothing to crawl: no data files under ${base}`, {
      hint: 'point crawl at a folder of .csv, .jsonl or .parquet files (optionally in key=value folders)',
    });
  }
  const format = formatOf(files[0]!);
  const mixed = files.find((f) => formatOf(f) !== format);
  if (mixed) {
    throw new TributaryError(`the folder mixes formats (${format} and ${formatOf(mixed)})`, {
      place: { file: mixed },
      hint: 'crawl each format into its own table',
    });
  }
  const folder = single ? path.dirname(base) : base;
  const partitionOf = (file: string) =>
    Object.fromEntries(
      path
        .relative(folder, path.dirname(file))
        .split(path.sep)
        .filter((s) => s.includes('='))
        .map((s) => [s.slice(0, s.indexOf('=')), decodeURIComponent(s.slice(s.indexOf('=') + 1))]),
    ) as Record<string, string>;
  const partitionBy = Object.keys(partitionOf(files[0]!));
  const hive = partitionBy.length > 0;
  const drops = groupBy(files, (f) => JSON.stringify(partitionOf(f)));

  const found =
    format === 'csv'
      ? await crawlCsv(engine, files, hive, { folder, partitionOf, store: storeNamer(options.store) })
      : await crawlOther(engine, format, files, hive, drops, partitionOf);

  // One schema per drop, to see drift as it arrived.
  const dropDrift: CrawlReport['dropDrift'] = [];
  let previous: ColumnInfo[] | undefined;
  for (const key of drops.keys()) {
    const columns = found.dropColumns.get(key)!;
    if (previous) {
      const drift = diffColumns(previous, columns);
      if (!drift.unchanged) dropDrift.push({ partition: partitionText(JSON.parse(key) as Record<string, string>), drift });
    }
    previous = columns;
  }
  const columns = await engine.describe(`SELECT * FROM ${found.shape ?? found.relation}`);
  let sinceLastCrawl: SchemaDrift | undefined;
  await metastore.commit(engine, { operation: 'crawl', summary: `${files.length} file(s) under ${base}${found.storeDrift?.length ? `; ${found.storeDrift.length} drift finding(s)` : ''}` }, async (tx) => {
    const previous = await metastore.columns(table);
    sinceLastCrawl = previous.length ? diffColumns(previous, columns) : undefined;
    await tx.registerTable({ name: table, kind: 'external', location: base, format, partitionBy, columns, definition: `SELECT * FROM ${found.relation}` });
    await tx.retireFiles(table, 'all');
    await tx.addFiles(table, found.committed, null);
    // Each crawl's findings stay with its snapshot, so drift between crawls can be looked up.
    for (const d of found.storeDrift ?? []) tx.changed(table, `drift ${d.partition} ${d.store}: ${d.change}${d.column ? ` ${d.column}` : ''} (${d.detail})`);
  });
  return {
    table,
    format,
    files: files.length,
    rows: found.committed.reduce((s, f) => s + f.rows, 0),
    columns,
    partitionBy,
    partitions: drops.size,
    dropDrift,
    sinceLastCrawl,
    ...(found.reference ? { reference: found.reference, storeDrift: found.storeDrift } : {}),
  };
}

interface Crawled {
  /** The table's rows as SQL (the view the crawl registers). */
  relation: string;
  /**
   * The same columns and types over as few files as give them, for its DESCRIBE: binding the
   * reader over every file took as long again as the view's own bind (1.3 s over 90,000 files).
   */
  shape?: string;
  committed: DataFile[];
  /** Each drop's schema, by its partition key (JSON). */
  dropColumns: Map<string, ColumnInfo[]>;
  reference?: CsvReference;
  storeDrift?: StoreDrift[];
}

async function crawlOther(
  engine: Engine,
  format: 'json' | 'parquet',
  files: string[],
  hive: boolean,
  drops: Map<string, string[]>,
  partitionOf: (file: string) => Record<string, string>,
): Promise<Crawled> {
  const committed: DataFile[] = [];
  const dropColumns = new Map<string, ColumnInfo[]>();
  for (const [key, dropFiles] of drops) {
    dropColumns.set(key, (await engine.describe(`SELECT * FROM ${reader(format, dropFiles, false)}`)).map((c) => ({ name: c.name, type: c.type })));
    for (const file of dropFiles) {
      const rows = Number(await engine.scalar<bigint>(`SELECT count(*) FROM ${reader(format, [file], false)}`));
      committed.push({ path: file, partition: partitionOf(file), rows, bytes: statSync(file).size });
    }
  }
  return { relation: reader(format, files, hive), committed, dropColumns };
}

// ── CSV layout: shared with the CSV source, so the crawl and the load read a file alike ─────────

/** Delimiters a file's header is tried with when its delimiter is sniffed, after the declared one. */
export const SNIFFED_DELIMITERS = [',', ';', '\t', '|'];

/** The first lines of a (possibly gzipped) text file: its header and what follows it in the first read. */
export interface FileHead {
  header: string;
  /** Complete lines after the header within the first `sampleBytes` (a line cut at the end of the sample is left out). */
  lines: string[];
}

/**
 * Reads each file's header (up to `maxHeaderBytes`) and the lines that come with it, without
 * reading the rest, and hands each to `onHead` in the files' order (a drop folder's samples
 * together would not fit in memory). A drop folder is tens of thousands of small files: a stream
 * per file costs about 20 times the three system calls of a plain read, so plain files are read
 * that way, and the event loop gets a turn every few hundred files.
 */
export async function readHeads(files: readonly string[], onHead: (head: FileHead, file: string, index: number) => void, sampleBytes = 64 * 1024, maxHeaderBytes = 1 << 20): Promise<void> {
  for (const [i, file] of files.entries()) {
    if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
    let head: HeadText;
    try {
      head = /\.gz$/i.test(file) ? await gzipHead(file, sampleBytes, maxHeaderBytes) : plainHead(file, sampleBytes, maxHeaderBytes);
    } catch (error) {
      if (/\.gz$/i.test(file)) {
        const plain = notGzipError(file);
        if (plain) throw plain;
      }
      throw new TributaryError(`cannot read the file: ${(error as Error).message}`, {
        place: { file, line: 1 },
        hint: /\.gz$/i.test(file) ? 'the .gz file may be truncated or corrupt; fetch it again' : 'check the file',
        cause: error,
      });
    }
    const newline = head.text.indexOf('\n');
    // A header alone (sampleBytes 0): the other lines of the first read are not split.
    const lines = sampleBytes || newline < 0 ? head.text.split('\n') : [head.text.slice(0, newline), ''];
    // A line the sample cut short is not a line of the file; the file's own last line is.
    if (!head.ended || lines.at(-1) === '') lines.pop();
    const [header = '', ...rest] = head.text.includes('\r') ? lines.map((l) => l.replace(/\r$/, '')) : lines;
    if (header.includes('\u0000')) throw notUtf8(file, header);
    onHead({ header, lines: rest }, file, i);
  }
}

/**
 * A first line holding NUL bytes is no UTF-8 text: UTF-16 or UTF-32 puts a NUL beside every ASCII
 * character (a header read byte by byte would show as garbage, or as a wrong delimiter).
 */
function notUtf8(file: string, header: string): TributaryError {
  // FF FE or FE FF, the byte-order marks of UTF-16 and UTF-32, are no UTF-8: each reads as U+FFFD.
  const marked = header.startsWith('\uFFFD\uFFFD');
  return new TributaryError(`the file is not UTF-8 text: its first line holds NUL bytes (${marked ? 'it starts with the byte-order mark of UTF-16 or UTF-32' : 'UTF-16 or UTF-32 text, or a binary file'})`, {
    place: { file, line: 1 },
    hint: 'Tributary reads UTF-8 (ASCII is UTF-8): convert the file, e.g. `iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8`, or make the path match only text files',
  });
}

/** The text a head is cut from, and whether it is the whole file. */
interface HeadText {
  text: string;
  ended: boolean;
}

const HEAD_CHUNK = 64 * 1024;
const enough = (bytes: number, headerEnded: boolean, sampleBytes: number, maxHeaderBytes: number) =>
  (headerEnded && bytes >= sampleBytes) || (!headerEnded && bytes > maxHeaderBytes);

/** The first read of each file goes here (its text is copied out): a drop folder's 90,000 buffers of 64 KB cost 0.3 s to make. */
let headScratch = Buffer.allocUnsafe(0);

function plainHead(file: string, sampleBytes: number, maxHeaderBytes: number): HeadText {
  const fd = openSync(file, 'r');
  try {
    // A header alone (sampleBytes 0) is a line of a few dozen bytes: a small first read finds it.
    const size = Math.max(sampleBytes, 4096);
    if (headScratch.length < size) headScratch = Buffer.allocUnsafe(size);
    let buffer = headScratch.subarray(0, size);
    let length = 0;
    for (;;) {
      if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(buffer.length)]);
      const read = readSync(fd, buffer, length, buffer.length - length, length);
      if (read === 0) return { text: buffer.toString('utf8', 0, length), ended: true };
      length += read;
      if (enough(length, buffer.subarray(0, length).includes(0x0a), sampleBytes, maxHeaderBytes)) return { text: buffer.toString('utf8', 0, length), ended: false };
    }
  } finally {
    closeSync(fd);
  }
}

async function gzipHead(file: string, sampleBytes: number, maxHeaderBytes: number): Promise<HeadText> {
  const raw = createReadStream(file, { highWaterMark: HEAD_CHUNK });
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of raw.pipe(createGunzip())) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (enough(length, chunks.some((c) => c.includes(0x0a)), sampleBytes, maxHeaderBytes)) return { text: Buffer.concat(chunks).toString('utf8'), ended: false };
    }
    return { text: Buffer.concat(chunks).toString('utf8'), ended: true };
  } finally {
    raw.destroy();
  }
}

/** Splits one CSV line into its fields, honouring quotes (a header, or a sample line). */
export function splitHeader(line: string, delimiter: string, quote: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote && ch === quote) {
      if (quoted && line[i + 1] === quote) {
        current += ch;
        i++;
      } else quoted = !quoted;
    } else if (ch === delimiter && !quoted) {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields.map((f) => f.trim());
}

/**
 * The delimiter a file's header is written with: of the candidates, the one that splits it into
 * the most fields (the first candidate on a tie, so the declared one wins when it works).
 */
export function sniffDelimiter(header: string, candidates: readonly string[], quote: string): string {
  let best = candidates[0]!;
  let most = splitHeader(header, best, quote).length;
  for (const candidate of candidates.slice(1)) {
    const fields = splitHeader(header, candidate, quote).length;
    if (fields > most) {
      best = candidate;
      most = fields;
    }
  }
  return best;
}

/** How a delimiter reads in a message: a tab is easier to recognise named. */
export function delimiterName(delimiter: string): string {
  return delimiter === '\t' ? 'tab' : `'${delimiter}'`;
}

// ── CSV crawl ────────────────────────────────────────────────────────────────────────────────

/** A number as the DOUBLE type test takes it: digits, one point, an exponent. */
const isNumber = (v: string) => `regexp_full_match(${v}, '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?')`;

/**
 * Types a crawl gives a CSV column, each value's text tested in SQL; a column without values has
 * none. `number`: whether the type's values are numbers in `isNumber`'s sense. A number is no
 * boolean and no date (a date needs two separators), and a value that is not a number is no
 * integer either, so a value is tested only against the types on its side.
 */
const TYPE_TESTS: { type: string; number: boolean; test: (v: string) => string }[] = [
  { type: 'BOOLEAN', number: false, test: (v) => `lower(${v}) IN ('true', 'false')` },
  { type: 'BIGINT', number: true, test: (v) => `regexp_full_match(${v}, '[+-]?[0-9]+') AND TRY_CAST(${v} AS BIGINT) IS NOT NULL` },
  // Ids past 2^63 stay whole numbers: a DOUBLE would round them.
  { type: 'HUGEINT', number: true, test: (v) => `regexp_full_match(${v}, '[+-]?[0-9]+') AND TRY_CAST(${v} AS HUGEINT) IS NOT NULL` },
  { type: 'DOUBLE', number: true, test: isNumber },
  // The length first: most values are not ten characters long, and the expression is costly.
  { type: 'DATE', number: false, test: (v) => `length(${v}) = 10 AND regexp_full_match(${v}, '[0-9]{4}-[0-9]{2}-[0-9]{2}') AND TRY_CAST(${v} AS DATE) IS NOT NULL` },
  { type: 'TIMESTAMP', number: false, test: (v) => `TRY_CAST(${v} AS TIMESTAMP) IS NOT NULL` },
];

/** Whether values of type `narrow` are also values of type `wide`, exactly (a whole number is a number). */
function fitsIn(narrow: string, wide: string): boolean {
  const wider: Record<string, string[]> = { BIGINT: ['HUGEINT', 'DOUBLE'], DATE: ['TIMESTAMP'] };
  return narrow === wide || wide === 'VARCHAR' || (wider[narrow]?.includes(wide) ?? false);
}

/** The narrowest type both fit in. */
function widen(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  if (fitsIn(a, b)) return b;
  if (fitsIn(b, a)) return a;
  return 'VARCHAR';
}

interface CsvFileFacts {
  file: string;
  delimiter: string;
  header: string[];
  /** Records: rows read plus rows the reader refused. */
  rows: number;
  /** Per column: values present, and the narrowest type they share. */
  columns: Map<string, { values: number; type: string | null }>;
  refused: { rows: number; first: string };
}

function storeNamer(pattern: string | undefined): (file: string) => string {
  const stem = (file: string) => path.basename(file).replace(/(\.[a-z0-9]+)+$/i, '');
  if (!pattern) return stem;
  let expression: RegExp;
  try {
    expression = new RegExp(pattern);
  } catch (error) {
    throw new TributaryError(`the store pattern is not a regular expression: ${(error as Error).message}`, { hint: "e.g. --store 'store_(\\d+)'" });
  }
  return (file) => {
    const match = expression.exec(path.basename(file));
    return match ? (match[1] ?? match[0]) : stem(file);
  };
}

/**
 * Reads CSV files grouped by layout (delimiter and header, sniffed per file), every value as
 * text, and types each column per file from its values: one scan per layout, not per file.
 */
async function crawlCsv(
  engine: Engine,
  files: string[],
  hive: boolean,
  where: { folder: string; partitionOf: (file: string) => Record<string, string>; store: (file: string) => string },
): Promise<Crawled> {
  const layouts = new Map<string, { delimiter: string; header: string[]; files: string[] }>();
  await readHeads(
    files,
    ({ header: line }, file) => {
      const delimiter = sniffDelimiter(line, SNIFFED_DELIMITERS, '"');
      const header = splitHeader(line, delimiter, '"');
      const key = JSON.stringify([delimiter, header]);
      const layout = layouts.get(key) ?? { delimiter, header, files: [] };
      layout.files.push(file);
      layouts.set(key, layout);
    },
    0,
  );
  const sizes = new Map(files.map((file) => [file, statSync(file).size]));
  const sizeOf = (file: string) => sizes.get(file)!;
  const facts = new Map<string, CsvFileFacts>();
  let layoutNumber = 0;
  for (const layout of layouts.values()) {
    for (const f of await scanLayout(engine, layout, sizeOf, `tributary_crawl_${process.pid}_${layoutNumber++}`)) facts.set(f.file, f);
  }

  // The reference: the layout of most files, and per column the type most files' values have.
  const reference = [...layouts.values()].reduce((a, b) => (b.files.length > a.files.length ? b : a));
  const typeVotes = new Map<string, Map<string, number>>();
  for (const f of facts.values()) {
    for (const [name, c] of f.columns) {
      if (c.type === null) continue;
      const votes = typeVotes.get(name) ?? new Map<string, number>();
      votes.set(c.type, (votes.get(c.type) ?? 0) + 1);
      typeVotes.set(name, votes);
    }
  }
  const referenceType = (name: string): string | null => {
    const votes = [...(typeVotes.get(name) ?? [])];
    return votes.length ? votes.reduce((a, b) => (b[1] > a[1] ? b : a))[0] : null;
  };
  // Columns (almost) every file fills in every row: an empty value there is an incomplete record.
  const filledIn = new Map<string, number>();
  const emptyIn = new Map<string, number>();
  for (const f of facts.values()) {
    for (const [name, c] of f.columns) {
      const counter = c.values === f.rows - f.refused.rows ? filledIn : emptyIn;
      counter.set(name, (counter.get(name) ?? 0) + 1);
    }
  }

  const storeDrift: StoreDrift[] = [];
  const retyped: Retyped[] = [];
  for (const file of files) {
    const f = facts.get(file)!;
    const say = (change: DriftChange, column: string | null, detail: string, rows = f.rows) =>
      storeDrift.push({ partition: partitionText(where.partitionOf(file)), store: where.store(file), file: path.relative(where.folder, file), change, column, detail, rows });
    if (f.delimiter !== reference.delimiter) say('delimiter', null, `${delimiterName(f.delimiter)} instead of ${delimiterName(reference.delimiter)}`);
    const missing = reference.header.filter((c) => !f.header.includes(c));
    const extra = f.header.filter((c) => !reference.header.includes(c));
    /** A renamed column → the reference column it stands for. */
    const renamed = new Map<string, string>();
    for (const name of extra) {
      const position = f.header.indexOf(name);
      const replaced = reference.header[position];
      if (replaced !== undefined && missing.includes(replaced)) {
        missing.splice(missing.indexOf(replaced), 1);
        renamed.set(name, replaced);
        say('renamed', replaced, `exported as ${name} (same position, ${position + 1})`);
      } else {
        say('added', name, `${f.columns.get(name)?.type ?? 'no values'}, after ${f.header[position - 1] ?? '(first)'}`);
      }
    }
    for (const name of missing) say('removed', name, `absent from the header`);
    if (!missing.length && !extra.length && f.header.join('\u0000') !== reference.header.join('\u0000')) say('reordered', null, f.header.join(', '));
    for (const [name, c] of f.columns) {
      // A renamed column is compared with the column it stands for.
      const expected = referenceType(renamed.get(name) ?? name);
      if (c.type !== null && expected !== null && !fitsIn(c.type, expected)) {
        say('retyped', name, `${c.type} instead of ${expected}`);
        retyped.push({ finding: storeDrift.at(-1)!, file, delimiter: f.delimiter, header: f.header, column: name, expected });
      }
      const empty = f.rows - f.refused.rows - c.values;
      const filled = filledIn.get(name) ?? 0;
      const leftEmpty = emptyIn.get(name) ?? 0;
      if (empty > 0 && filled > 0 && (leftEmpty === 1 || leftEmpty * 20 <= filled)) {
        say('empty values', name, `${empty} of ${f.rows} row(s) empty; ${filled.toLocaleString('en-US')} of ${(filled + leftEmpty).toLocaleString('en-US')} file(s) have it in every row`, empty);
      }
    }
    if (f.refused.rows) say('refused rows', null, f.refused.first, f.refused.rows);
  }
  for (const [i, example] of (await misfitExamples(engine, retyped)).entries()) if (example !== null) retyped[i]!.finding.detail += `, e.g. '${example}'`;

  // Each layout read with its own delimiter and header, typed by its files' values; united by name.
  // Rows are read as a Hive text table reads them: a missing field is NULL, one past the header is
  // dropped (the report names the line as refused). A value its column's type cannot hold still
  // fails the query, naming its line, rather than leave rows out unseen: a quote that never closes
  // takes the lines after it into one value.
  const reads = [...layouts.values()].flatMap((layout) => {
    const types = Object.fromEntries(layout.header.map((name) => [name, layout.files.reduce<string | null>((t, file) => widen(t, facts.get(file)!.columns.get(name)!.type), null) ?? 'VARCHAR']));
    return csvReadsBySize(layout.files, sizeOf).map((read) => ({ ...read, delimiter: layout.delimiter, types }));
  });
  const relationOf = (filesOf: (files: string[]) => readonly string[]) =>
    `(${reads
      .map(
        (read) =>
          `SELECT * FROM read_csv(${quoteList(filesOf(read.files))}, columns = ${columnsStruct(read.types)}, ${csvDialect(read.delimiter, read.bufferSize)}, null_padding = true, strict_mode = false, hive_partitioning = ${hive})`,
      )
      .join(' UNION ALL BY NAME ')})`;
  const dropTypes = new Map<string, Map<string, string | null>>();
  for (const file of files) {
    const key = JSON.stringify(where.partitionOf(file));
    const merged = dropTypes.get(key) ?? new Map<string, string | null>();
    for (const [name, c] of facts.get(file)!.columns) merged.set(name, widen(merged.get(name) ?? null, c.type));
    dropTypes.set(key, merged);
  }
  const dropColumns = new Map([...dropTypes].map(([key, types]) => [key, [...types].map(([name, type]) => ({ name, type: type ?? 'VARCHAR' }))]));
  return {
    relation: relationOf((all) => all),
    shape: relationOf(filesOfEveryPartitionValue),
    committed: files.map((file) => ({ path: file, partition: where.partitionOf(file), rows: facts.get(file)!.rows, bytes: sizeOf(file) })),
    dropColumns,
    reference: {
      delimiter: reference.delimiter,
      header: reference.header,
      types: Object.fromEntries(reference.header.map((name) => [name, referenceType(name)])),
      files: reference.files.length,
    },
    storeDrift,
  };
}

function csvDialect(delimiter: string, bufferSize?: number): string {
  return `delim = ${quoteLiteral(delimiter)}, quote = '"', escape = '"', header = true, auto_detect = false${bufferSize ? `, buffer_size = ${bufferSize}` : ''}`;
}

/**
 * One scan of the files of one layout: per file, its records, and per column its values' type.
 * Each value is tested against the types on its side, and a file's column keeps the tests all its
 * values pass (a bit each, ANDed): a row per file, where keeping a failing value per type made
 * every value of every column a row of its own to group.
 */
async function scanLayout(engine: Engine, layout: { delimiter: string; header: string[]; files: string[] }, sizeOf: (file: string) => number, tables: string): Promise<CsvFileFacts[]> {
  const text = columnsStruct(Object.fromEntries(layout.header.map((name) => [name, 'VARCHAR'])));
  // Each read_csv call keeps its refusals in tables of its own.
  const calls = csvReadsBySize(layout.files, sizeOf).map((call, j) => ({ ...call, rejects: `${tables}_rejects_${j}`, scans: `${tables}_scans_${j}` }));
  const read = `(${calls
    .map(
      (call) => `SELECT *, filename FROM read_csv(${quoteList(call.files)}, columns = ${text}, ${csvDialect(layout.delimiter, call.bufferSize)}, strict_mode = true, hive_partitioning = false,
                 store_rejects = true, rejects_table = '${call.rejects}', rejects_scan = '${call.scans}')`,
    )
    .join(' UNION ALL ')})`;
  const side = (v: string, number: boolean) =>
    TYPE_TESTS.map((t, i) => (t.number !== number ? '' : t.test === isNumber ? `${1 << i}` : `CASE WHEN ${t.test(v)} THEN ${1 << i} ELSE 0 END`))
      .filter(Boolean)
      .join(' + ');
  const passes = (v: string) => `CASE WHEN ${v} IS NULL THEN NULL WHEN ${isNumber(v)} THEN ${side(v, true)} ELSE ${side(v, false)} END`;
  try {
    const rows = await engine.queryJson<{ file: string; n_rows: number } & Record<string, number | null>>(
      `SELECT filename AS file, count(*)::DOUBLE AS n_rows,
              ${layout.header.map((n, i) => `count(${quoteIdent(n)})::DOUBLE AS v${i}, bit_and(${passes(quoteIdent(n))})::DOUBLE AS m${i}`).join(', ')}
       FROM ${read} GROUP BY filename`,
    );
    const refused = (
      await Promise.all(
        calls.map((call) =>
          engine.queryJson<{ file: string; n_rows: number; first: string }>(
            `SELECT s.file_path AS file, count(DISTINCT e.line)::DOUBLE AS n_rows,
                    arg_min('line ' || e.line::VARCHAR || ': ' || e.error_message, e.line * 1000 + e.column_idx) AS first
             FROM ${call.rejects} e JOIN ${call.scans} s USING (scan_id, file_id) GROUP BY ALL`,
          ),
        ),
      )
    ).flat();
    const refusedBy = new Map(refused.map((r) => [r.file, r]));
    const facts = new Map<string, CsvFileFacts>(
      layout.files.map((file) => {
        const r = refusedBy.get(file);
        return [file, { file, delimiter: layout.delimiter, header: layout.header, rows: r?.n_rows ?? 0, columns: new Map(), refused: { rows: r?.n_rows ?? 0, first: r?.first ?? '' } }];
      }),
    );
    for (const r of rows) {
      const f = facts.get(r.file)!;
      f.rows = r.n_rows + f.refused.rows;
      layout.header.forEach((name, i) => {
        const passed = r[`m${i}`];
        // A column without values has no type; otherwise the first type every value passes.
        const type = passed === null || passed === undefined ? null : (TYPE_TESTS.find((_, t) => passed & (1 << t))?.type ?? 'VARCHAR');
        f.columns.set(name, { values: r[`v${i}`] ?? 0, type });
      });
    }
    // A file whose every row was refused still has its columns.
    for (const f of facts.values()) for (const name of layout.header) if (!f.columns.has(name)) f.columns.set(name, { values: 0, type: null });
    return [...facts.values()];
  } finally {
    await engine.run(calls.map((call) => `DROP TABLE IF EXISTS ${call.rejects}; DROP TABLE IF EXISTS ${call.scans}`).join('; '));
  }
}

/** A column of a file whose values are not of the type most files give it, for its finding's example. */
interface Retyped {
  finding: StoreDrift;
  file: string;
  delimiter: string;
  header: string[];
  column: string;
  expected: string;
}

/** Per retyped column, its least value that is not of the expected type (null when none is): one read of just those files. */
async function misfitExamples(engine: Engine, retyped: readonly Retyped[]): Promise<(string | null)[]> {
  if (!retyped.length) return [];
  const test = (type: string, v: string) => TYPE_TESTS.find((t) => t.type === type)!.test(v);
  const rows = await engine.queryJson<{ i: number; example: string | null }>(
    retyped
      .map((r, i) => {
        const text = columnsStruct(Object.fromEntries(r.header.map((name) => [name, 'VARCHAR'])));
        const v = quoteIdent(r.column);
        return `SELECT ${i} AS i, min(${v}) FILTER (WHERE ${v} IS NOT NULL AND NOT (${test(r.expected, v)})) AS example
                FROM read_csv(${quoteList([r.file])}, columns = ${text}, ${csvDialect(r.delimiter)}, strict_mode = true, ignore_errors = true, hive_partitioning = false)`;
      })
      .join(' UNION ALL '),
  );
  const examples = new Array<string | null>(retyped.length).fill(null);
  for (const r of rows) examples[r.i] = r.example;
  return examples;
}

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}
