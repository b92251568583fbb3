import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { delimiterName, readHeads, sniffDelimiter, splitHeader, SNIFFED_DELIMITERS } from '../../catalog/crawl.js';
import { capText, RAW_KEEP_CHARS } from '../../catalog/index.js';
import { shownPath, TributaryError } from '../../core/errors.js';
import type { DeclaredColumn } from '../../core/schemas.js';
import { columnsStruct, quoteIdent, quoteList, quoteLiteral, type Engine } from '../../engine/index.js';
import { exactValue } from '../../quality/json.js';
import { PARSE_ERROR } from '../../quality/rules.js';
import { unreadableFile } from './line-count.js';
import type { RejectedRow } from './types.js';

const NEWLINE = 0x0a;

/**
 * Schema drift in CSV drops, mapped by declared rules. Each file's header (and delimiter) is read
 * before the load: a file laid out as declared stays on the typed reader; a file that differs is
 * read as text with its own header and delimiter, then renamed, defaulted and cast in SQL, each
 * value typed exactly or its row quarantined with the reason. Nothing is mapped that was not
 * declared, and every mapping applied is logged with the files it applied to.
 */
export const driftOptions = z
  .object({
    /** A file's column → the declared column it holds (`{ qty: 'quantity' }`): Glue's ApplyMapping, Spark's withColumnRenamed. */
    renames: z.record(z.string().min(1), z.string().min(1)).optional(),
    /** Columns some files add that the table does not take (they stay in the crawled raw table). */
    ignore: z.array(z.string().min(1)).optional(),
    /** The value of a declared column a file does not have (`{ discount: '0.00' }`); `null` for NULL. An empty value in a column the file has stays empty. */
    defaults: z.record(z.string().min(1), z.union([z.string(), z.number(), z.null()])).optional(),
    /** How a column's values may be written besides the declared type's own form; converted exactly or quarantined. */
    casts: z
      .record(
        z.string().min(1),
        z
          .object({
            /** `','`: values such as "12,99" (a decimal comma) are read as 12.99, beside values written "12.99"; a value with both ',' and '.' is refused. */
            decimalSeparator: z.literal(',').optional(),
            /** An integer column's values written as decimals ("2.0") are read when their fraction is zero; "2.5" is refused. */
            integral: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    /** `'sniff'`: a header that does not split on the declared delimiter is tried with , ; tab | (one delimiter per file). */
    delimiter: z.literal('sniff').optional(),
  })
  .strict();

export type DriftOptions = z.output<typeof driftOptions>;

/** How a file is laid out: the delimiter it uses and its header's fields. */
export interface FileLayout {
  delimiter: string;
  header: string[];
}

export interface DriftPlan {
  /** Files (by the name people know them by) read through the mapping, with their layout. */
  mapped: Map<string, FileLayout>;
  /** Files whose header cannot be mapped, with the reason; their rows are quarantined. */
  unmappable: Map<string, string>;
}

/** What the CSV reader needs to read a layout: its dialect options for a delimiter. */
export interface TextRead {
  /** read_csv's options (quote, escape, header, line size…) with this delimiter. */
  options(delimiter: string): string;
  timestampFormat?: string;
  dateFormat?: string;
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);
const FRACTIONAL_TYPES = /^(DECIMAL\(\d+,\d+\)|DOUBLE|FLOAT)$/;

/** The declared columns with DuckDB's own name of each type (`INT` is `INTEGER`), checked once. */
export interface DriftColumns {
  columns: DeclaredColumn[];
  canonical: Map<string, string>;
}

/**
 * Checks the declared rules against the declared columns, so a typo fails before any file is
 * read: each rule must name a declared column, a default must be a value of its column's type, a
 * cast must fit its column's type.
 */
export async function checkDrift(engine: Engine, source: string, drift: DriftOptions, columns: DeclaredColumn[] | undefined, header: boolean | undefined): Promise<DriftColumns> {
  const field = (part: string) => `sources.${source}.drift${part ? `.${part}` : ''}`;
  if (!columns) {
    throw new TributaryError(`source '${source}': drift rules map files onto the declared columns, and none are declared`, {
      place: { field: `sources.${source}.columns` },
      hint: 'declare the table’s columns (name → type); `tributary crawl` shows what the files hold',
    });
  }
  if (header === false) {
    throw new TributaryError(`source '${source}': drift rules map files by their header, and csv.header is false`, { place: { field: field('') }, hint: 'remove drift, or read files that have a header' });
  }
  const names = new Set(columns.map((c) => c.name));
  const keys = new Set(columns.map((c) => c.key));
  const refuse: (part: string, message: string, hint: string) => never = (part, message, hint) => {
    throw new TributaryError(`source '${source}': ${message}`, { place: { field: field(part) }, hint });
  };
  const declaredList = [...names].join(', ');
  for (const [from, to] of Object.entries(drift.renames ?? {})) {
    if (!names.has(to)) refuse(`renames.${from}`, `renames ${from} to ${to}, which is not a declared column`, `rename to one of ${declaredList}`);
    if (keys.has(from)) refuse(`renames.${from}`, `renames ${from}, which is already the header name of a declared column`, 'remove the rename');
  }
  for (const name of drift.ignore ?? []) if (keys.has(name)) refuse('ignore', `ignores ${name}, a declared column`, `remove ${name} from ignore, or from the declared columns`);
  const typeRows = await engine.query<Record<string, string>>(`SELECT ${columns.map((c, i) => `typeof(CAST(NULL AS ${c.type})) AS t${i}`).join(', ')}`);
  const canonical = new Map(columns.map((c, i) => [c.name, typeRows[0]![`t${i}`]!]));
  for (const [name, value] of Object.entries(drift.defaults ?? {})) {
    const column = columns.find((c) => c.name === name);
    if (!column) refuse(`defaults.${name}`, `has a default for ${name}, which is not a declared column`, `declared: ${declaredList}`);
    if (value === null) continue;
    const problem = exactValue(column, quoteLiteral(String(value))).problem;
    const reason = await engine.scalar<string | null>(`SELECT ${problem}`);
    if (reason !== null) refuse(`defaults.${name}`, `the default for ${name} is not a value of its type (${reason})`, `write it as a ${column.type} value, e.g. '0'`);
  }
  for (const [name, cast] of Object.entries(drift.casts ?? {})) {
    const type = canonical.get(name);
    if (!type) refuse(`casts.${name}`, `casts ${name}, which is not a declared column`, `declared: ${declaredList}`);
    if (cast.integral && !INTEGER_TYPES.has(type)) refuse(`casts.${name}.integral`, `integral applies to integer columns; ${name} is ${type}`, 'remove it');
    if (cast.decimalSeparator && !FRACTIONAL_TYPES.test(type)) refuse(`casts.${name}.decimalSeparator`, `decimalSeparator applies to DECIMAL and floating-point columns; ${name} is ${type}`, 'remove it');
  }
  return { columns, canonical };
}

/** Where each declared column of a mapped file comes from: one of its fields, or its default. */
type ColumnSource = { column: DeclaredColumn; field: string } | { column: DeclaredColumn; fallback: string | number | null };

/** Maps a header onto the declared columns, or says why it cannot be, naming what to declare. */
function mapHeader(header: string[], columns: DeclaredColumn[], drift: DriftOptions, source: string): { sources: ColumnSource[]; notes: string[] } | { reason: string } {
  const byKey = new Map(columns.map((c) => [c.key, c]));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  const notes: string[] = [];
  const fieldOf = new Map<string, string>();
  for (const name of header) {
    const renamed = drift.renames?.[name];
    const column = byKey.get(name) ?? (renamed !== undefined ? byName.get(renamed) : undefined);
    if (header.indexOf(name) !== header.lastIndexOf(name)) problems.push(`the header names ${name} twice`);
    else if (column) {
      const other = fieldOf.get(column.name);
      if (other !== undefined) problems.push(`both ${other} and ${name} would be ${column.name}`);
      fieldOf.set(column.name, name);
      if (renamed !== undefined) notes.push(`${name} read as ${column.name} (renames)`);
    } else if (drift.ignore?.includes(name)) notes.push(`${name} ignored (ignore)`);
    else problems.push(`unknown column ${name} (declare it in sources.${source}.drift.ignore, or map it to a declared column in drift.renames)`);
  }
  const sources: ColumnSource[] = [];
  for (const column of columns) {
    const field = fieldOf.get(column.name);
    if (field !== undefined) sources.push({ column, field });
    else if (drift.defaults && Object.hasOwn(drift.defaults, column.name)) {
      const fallback = drift.defaults[column.name]!;
      sources.push({ column, fallback });
      notes.push(`${column.name} absent, set to ${fallback === null ? 'NULL' : String(fallback)} (defaults)`);
    } else problems.push(`no column for ${column.name} (declare sources.${source}.drift.defaults.${column.name}, or map the file's name for it in drift.renames)`);
  }
  if (problems.length) return { reason: `the header [${header.join(', ')}] cannot be mapped onto the declared columns: ${[...new Set(problems)].join('; ')}` };
  return { sources, notes };
}

/** Values in a file's first lines that only a declared cast reads, e.g. "12,99" for a DECIMAL. */
function castsSeen(layout: FileLayout, lines: readonly string[], quote: string, drift: DriftOptions, target: (field: string) => string | undefined, canonical: Map<string, string>): string[] {
  const cast = layout.header.flatMap((field, f) => {
    const column = target(field);
    const rule = column === undefined ? undefined : drift.casts?.[column];
    if (column === undefined || !rule) return [];
    return [{ f, column, comma: rule.decimalSeparator === ',', integral: Boolean(rule.integral) && INTEGER_TYPES.has(canonical.get(column)!) }];
  });
  const seen = new Map<string, string>();
  const { delimiter } = layout;
  const fields = layout.header.length;
  /** Where each field of an unquoted line starts and ends: a drop folder's samples are millions of lines, and a split made strings of every field. */
  const starts = new Int32Array(fields);
  const ends = new Int32Array(fields);
  /** Whether `text` holds `char` between `start` and `end`. */
  const holds = (text: string, char: string, start: number, end: number) => {
    const at = text.indexOf(char, start);
    return at !== -1 && at < end;
  };
  for (const [i, line] of lines.entries()) {
    if (seen.size === cast.length) break;
    let text = line;
    if (quote && line.includes(quote)) {
      const values = splitHeader(line, delimiter, quote);
      if (values.length !== fields) continue;
      // The values one after another, so a field is a range of one string as in an unquoted line.
      text = values.join('\u0000');
      for (let f = 0, at = 0; f < fields; at += values[f]!.length + 1, f++) {
        starts[f] = at;
        ends[f] = at + values[f]!.length;
      }
    } else {
      let found = 0;
      for (let at = line.indexOf(delimiter); at !== -1 && found < fields; at = line.indexOf(delimiter, at + delimiter.length)) {
        ends[found] = at;
        starts[++found] = at + delimiter.length;
      }
      if (found !== fields - 1) continue;
      starts[0] = 0;
      ends[fields - 1] = line.length;
    }
    for (const { f, column, comma, integral } of cast) {
      if (seen.has(column)) continue;
      const start = starts[f]!;
      const end = ends[f]!;
      if (comma && holds(text, ',', start, end)) seen.set(column, `${column} with a decimal comma, e.g. '${text.slice(start, end).trim()}' (line ${i + 2}; casts)`);
      if (integral && (holds(text, '.', start, end) || holds(text, 'e', start, end) || holds(text, 'E', start, end))) seen.set(column, `${column} written as a decimal, e.g. '${text.slice(start, end).trim()}' (line ${i + 2}; casts)`);
    }
  }
  return [...seen.values()];
}

/**
 * Reads each file's first lines and decides how it is read: as declared (the typed reader), or
 * through the mapping (its header differs, or its values need a declared cast), or not at all
 * (its header cannot be mapped: its rows are quarantined with the reason). Logs each mapping.
 */
export async function planDrift(options: {
  source: string;
  files: readonly string[];
  baseDir: string;
  declared: DriftColumns;
  drift: DriftOptions;
  delimiter: string;
  quote: string;
  log: (message: string) => void;
}): Promise<DriftPlan> {
  const { source, drift, declared, quote } = options;
  const keys = declared.columns.map((c) => c.key);
  const candidates = [options.delimiter, ...SNIFFED_DELIMITERS.filter((d) => d !== options.delimiter)];
  const plan: DriftPlan = { mapped: new Map(), unmappable: new Map() };
  const notesOf = new Map<string, string[]>();
  await readHeads(options.files, (head, file) => {
    let delimiter = options.delimiter;
    let header = splitHeader(head.header, delimiter, quote);
    const conforming = () => header.length === keys.length && header.every((h, i) => h === keys[i]);
    const notes: string[] = [];
    if (!conforming() && drift.delimiter === 'sniff') {
      const sniffed = sniffDelimiter(head.header, candidates, quote);
      if (sniffed !== delimiter) {
        delimiter = sniffed;
        header = splitHeader(head.header, delimiter, quote);
        notes.push(`delimiter ${delimiterName(delimiter)} (sniffed)`);
      }
    }
    const mapping = conforming() ? undefined : mapHeader(header, declared.columns, drift, source);
    if (mapping && 'reason' in mapping) {
      const hint = header.length === 1 && keys.length > 1 && drift.delimiter !== 'sniff' ? `; the header does not split on ${delimiterName(delimiter)}: if the file uses another delimiter, set sources.${source}.drift.delimiter: 'sniff'` : '';
      plan.unmappable.set(file, `${mapping.reason}${hint}`);
      return;
    }
    if (mapping) notes.push(...mapping.notes);
    const target = (field: string) => (keys.includes(field) ? declared.columns[keys.indexOf(field)]!.name : drift.renames?.[field]);
    notes.push(...castsSeen({ delimiter, header }, head.lines, quote, drift, target, declared.canonical));
    if (notes.length) {
      plan.mapped.set(file, { delimiter, header });
      notesOf.set(file, notes);
    }
  });
  const shown = (file: string) => shownPath(file, options.baseDir);
  if (notesOf.size) {
    options.log(`source '${source}': schema drift mapped in ${notesOf.size} of ${options.files.length} file(s) by sources.${source}.drift:`);
    for (const [file, notes] of notesOf) options.log(`  ${shown(file)}: ${notes.join('; ')}`);
  }
  if (plan.unmappable.size) {
    options.log(`source '${source}': ${plan.unmappable.size} file(s) cannot be mapped; each of their rows is quarantined with the reason:`);
    for (const [file, reason] of plan.unmappable) options.log(`  ${shown(file)}: ${reason}`);
  }
  return plan;
}

/** A file the typed reader refused a value of that a declared cast reads: it is read through the mapping instead. */
export function castRefusals(rejects: readonly { file: string; column: string | null; reason: string }[], drift: DriftOptions | undefined): Set<string> {
  const casts = new Set(Object.keys(drift?.casts ?? {}));
  return new Set(rejects.filter((r) => r.reason.startsWith('CAST') && (r.column ?? '').split(', ').some((c) => casts.has(c))).map((r) => r.file));
}

/** A declared column typed from a field's text: exactly, through its declared cast, or refused with the text in the reason. */
function typedFromText(column: DeclaredColumn, text: string, drift: DriftOptions, declared: DriftColumns, read: TextRead): { value: string; problem: string } {
  const cast = drift.casts?.[column.name];
  const type = declared.canonical.get(column.name)!;
  const t = cast?.decimalSeparator === ',' ? `CASE WHEN contains(${text}, ',') AND NOT contains(${text}, '.') THEN replace(${text}, ',', '.') ELSE ${text} END` : text;
  let value: string;
  let typed: string;
  const format = type === 'TIMESTAMP' ? read.timestampFormat : type === 'DATE' ? read.dateFormat : undefined;
  if (format) {
    value = `CAST(try_strptime(${t}, ${quoteLiteral(format)}) AS ${column.type})`;
    typed = `${value} IS NOT NULL`;
  } else {
    const exact = exactValue(column, t);
    // Text columns take any text.
    if (exact.problem === 'NULL') return { value: exact.value, problem: 'NULL' };
    value = exact.value;
    typed = `(${exact.problem}) IS NULL`;
  }
  // Without a declared cast an integer column takes whole numbers only, however they are written.
  if (INTEGER_TYPES.has(type) && !cast?.integral) typed = `${typed} AND NOT regexp_matches(${t}, '[.eE]')`;
  const how = [cast?.decimalSeparator ? `decimal separator '${cast.decimalSeparator}'` : '', cast?.integral ? 'whole numbers written as decimals' : ''].filter(Boolean).join(', ');
  const expected = quoteLiteral(`${column.name}: expected ${column.type}${how ? ` (${how})` : ''}, got '`);
  return { value, problem: `CASE WHEN ${text} IS NULL OR (${typed}) THEN NULL ELSE ${expected} || left(${text}, 100) || '''' END` };
}

/**
 * The rows of files of one layout, mapped: read as text with their own header and delimiter,
 * each declared column typed from its field or set to its default, `__error` naming every value
 * that did not convert exactly. Columns the reader adds (Hive partitions) are kept.
 */
export function mappedRelation(options: {
  files: readonly string[];
  layout: FileLayout;
  declared: DriftColumns;
  drift: DriftOptions;
  read: TextRead;
  source: string;
  /** read_csv's further options (reject tables, or single-threaded for numbering). */
  scan: string;
  /** Wraps the read (for numbering rows in file order) and names the columns it adds. */
  wrap?: { relation: (read: string) => string; added: string[]; leading: string };
}): string {
  const { layout, declared, drift, read } = options;
  const mapping = mapHeader(layout.header, declared.columns, drift, options.source);
  if ('reason' in mapping) throw new Error(`a mapped layout stopped mapping: ${mapping.reason}`);
  const text = columnsStruct(Object.fromEntries(layout.header.map((h) => [h, 'VARCHAR'])));
  const typed = mapping.sources.map((s) =>
    'field' in s ? typedFromText(s.column, quoteIdent(s.field), drift, declared, read) : { value: `CAST(${s.fallback === null ? 'NULL' : quoteLiteral(String(s.fallback))} AS ${s.column.type})`, problem: 'NULL' },
  );
  const problems = typed.map((t) => t.problem).filter((p) => p !== 'NULL');
  const reader = `read_csv(${quoteList(options.files)}, columns = ${text}, ${read.options(layout.delimiter)}, ${options.scan})`;
  const excluded = [...layout.header, ...(options.wrap?.added ?? [])].map(quoteIdent).join(', ');
  return `(SELECT ${options.wrap?.leading ?? ''}${typed.map((t, i) => `${t.value} AS ${quoteIdent(mapping.sources[i]!.column.name)}`).join(', ')},
            ${problems.length ? `nullif(concat_ws('; ', ${problems.join(', ')}), '')` : 'NULL::VARCHAR'} AS ${PARSE_ERROR}, * EXCLUDE (${excluded})
          FROM ${options.wrap ? options.wrap.relation(reader) : reader})`;
}

/**
 * The rows of a file whose header cannot be mapped, each quarantined with the reason: every line
 * after the header that holds anything is one row, counted and kept, so a store's day is never
 * dropped unseen.
 */
export async function unmappableRows(file: string, reason: string): Promise<RejectedRow[]> {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const rows: RejectedRow[] = [];
  // Lines end at line feeds, as the line count and the reader count them: a carriage return that
  // ends no line is a byte of its line (Node's readline would start another line there).
  let line = 1;
  let pending: Buffer[] = [];
  const endLine = () => {
    const text = Buffer.concat(pending).toString('utf8').replace(/\r$/, '');
    pending = [];
    if (line > 1 && text !== '') rows.push({ file, line, column: null, reason, raw: capText(text, RAW_KEEP_CHARS) });
    line++;
  };
  try {
    for await (const data of /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw) {
      const chunk = data as Buffer;
      let at = 0;
      for (let feed = chunk.indexOf(NEWLINE); feed >= 0; feed = chunk.indexOf(NEWLINE, at)) {
        pending.push(chunk.subarray(at, feed));
        endLine();
        at = feed + 1;
      }
      if (at < chunk.length) pending.push(chunk.subarray(at));
    }
    if (pending.length) endLine();
  } catch (error) {
    throw unreadableFile(file, error as Error);
  } finally {
    raw.destroy();
  }
  return rows;
}
