import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readHeads, splitHeader } from '../../catalog/crawl.js';
import type { ColumnInfo } from '../../catalog/index.js';
import { TributaryError } from '../../core/errors.js';
import { filesOfEveryPartitionValue } from '../../core/hive.js';
import { declaredColumns, textLength } from '../../core/schemas.js';
import { columnsStruct, csvReadsBySize, quoteIdent, quoteList, quoteLiteral } from '../../engine/index.js';
import { exactValue } from '../../quality/json.js';
import { PARSE_ERROR } from '../../quality/rules.js';
import { blankLines, scanCsvRecords, type CsvDialect, type MultiLineRecord } from './csv-records.js';
import { castRefusals, checkDrift, driftOptions, mappedRelation, planDrift, unmappableRows, type DriftColumns, type DriftOptions, type DriftPlan, type FileLayout } from './drift.js';
import { partitionKeyInColumns, resolveFiles } from './files.js';
import { countLines, UnreadableFile, type LineCount } from './line-count.js';
import { knownFileLabel, locateRecords, numberedInFileOrder, readableCopy, readLines, readRejects } from './located.js';
import { defineSource, type RecordPlace, type RejectedRow, type Repair, sourceBase, type SourceContext, type SourceScan } from './types.js';

const DEFAULT_MAX_LINE = 2_000_000;

const csvOptions = z
  .object({
    delimiter: z.string().length(1).optional(),
    header: z.boolean().optional(),
    quote: z.string().max(1).optional(),
    escape: z.string().max(1).optional(),
    nullString: z.string().optional(),
    timestampFormat: z.string().optional(),
    dateFormat: z.string().optional(),
    /** Longest line accepted; longer lines are quarantined. Default 2 MB. */
    maxLineBytes: z.number().int().positive().optional(),
  })
  .strict();

const schema = z.object({ format: z.literal('csv'), ...sourceBase, csv: csvOptions.optional(), drift: driftOptions.optional() }).strict();
type CsvConfig = z.output<typeof schema>;

/** Reader options that pin the dialect, so nothing is guessed differently from one file to the next. */
function readerOptions(csv: CsvConfig['csv'] = {}, delimiter = csv.delimiter ?? ',', bufferSize?: number): string {
  const parts = [
    `delim = ${quoteLiteral(delimiter)}`,
    `quote = ${quoteLiteral(csv.quote ?? '"')}`,
    `escape = ${quoteLiteral(csv.escape ?? csv.quote ?? '"')}`,
    `header = ${csv.header ?? true}`,
    `max_line_size = ${csv.maxLineBytes ?? DEFAULT_MAX_LINE}`,
    'auto_detect = false',
    'strict_mode = true',
  ];
  if (bufferSize) parts.push(`buffer_size = ${bufferSize}`);
  if (csv.timestampFormat) parts.push(`timestampformat = ${quoteLiteral(csv.timestampFormat)}`);
  if (csv.dateFormat) parts.push(`dateformat = ${quoteLiteral(csv.dateFormat)}`);
  if (csv.nullString !== undefined) parts.push(`nullstr = ${quoteLiteral(csv.nullString)}`);
  return parts.join(', ');
}

function dialectOf(csv: CsvConfig['csv'] = {}, delimiter = csv.delimiter ?? ','): CsvDialect {
  return { delimiter, quote: csv.quote ?? '"', escape: csv.escape ?? csv.quote ?? '"', header: csv.header ?? true };
}

async function inferColumns(context: SourceContext, config: CsvConfig, files: string[]): Promise<ColumnInfo[]> {
  const csv = config.csv ?? {};
  const options = [
    'sample_size = -1',
    csv.delimiter ? `delim = ${quoteLiteral(csv.delimiter)}` : '',
    csv.header !== undefined ? `header = ${csv.header}` : '',
    csv.timestampFormat ? `timestampformat = ${quoteLiteral(csv.timestampFormat)}` : '',
  ].filter(Boolean);
  const columns = new Map<string, string>();
  for (const file of files) {
    const rows = await context.engine
      .queryJson<{ name: string; type: string }>(`SELECT c.name, c.type FROM (SELECT unnest(Columns) AS c FROM sniff_csv(${quoteLiteral(file)}, ${options.join(', ')}))`)
      .catch((error: Error) => {
        if (!/Error when sniffing file/i.test(error.message)) throw error;
        // The sniffer's own advice (strict mode off, another encoding) is about its options, not Tributary's.
        throw new TributaryError(`cannot infer the columns of this file: the CSV sniffer found no dialect that reads it whole; nothing was committed`, {
          place: { file },
          hint: `declare sources.${context.name}.columns (and csv.delimiter, csv.quote if they are not , and "): with declared columns a line that cannot be read (a stray carriage return, binary data) is quarantined and the rest loads`,
        });
      });
    for (const r of rows) {
      const seen = columns.get(r.name);
      // Files that disagree widen to text rather than mistype one of them.
      columns.set(r.name, seen && seen !== r.type ? 'VARCHAR' : r.type);
    }
  }
  const result = [...columns].map(([n, type]) => ({ name: n, type }));
  context.log(`source '${context.name}': no columns declared; inferred from every row of ${files.length} file(s): ${result.map((c) => `${c.name} ${c.type}`).join(', ')}`);
  return result;
}

async function checkHeaders(name: string, config: CsvConfig, files: string[], expected: string[]): Promise<void> {
  if (config.csv?.header === false) return;
  const delimiter = config.csv?.delimiter ?? ',';
  await readHeads(
    files,
    ({ header }, file) => {
      if (!header.replace(/^\uFEFF/, '').trim()) {
        throw new TributaryError(`no header: the file's first line is empty (or the file is), expected [${expected.join(', ')}]`, {
          place: { file, line: 1 },
          hint: `if its writer has not finished, run once it has (a job's sensor task waits until files stop changing); a file meant to hold no rows still needs its header line, and a blank line above the header must go`,
        });
      }
      const found = splitHeader(header, delimiter, config.csv?.quote ?? '"');
      // The engine would read these under names of its own (id_1, column1), which no config names.
      const first = new Map<string, number>();
      for (const [i, field] of found.entries()) {
        if (!field.trim()) {
          throw new TributaryError(`the header's field ${i + 1} has no name; each column needs a name of its own`, {
            place: { file, line: 1 },
            hint: `name it in the file's header (the engine would call it column${i}); pandas writes its index so, unless to_csv is given index=False`,
          });
        }
        const again = first.get(field.toLowerCase());
        if (again !== undefined) {
          throw new TributaryError(`the header repeats a name: '${found[again]}' (field ${again + 1}) and '${field}' (field ${i + 1}); each column needs a name of its own`, {
            place: { file, line: 1 },
            hint: `rename one of them in the file's header (a header written from a join often repeats its key); names differing only in case count as the same`,
          });
        }
        first.set(field.toLowerCase(), i);
      }
      if (found.length !== expected.length || found.some((f, i) => f !== expected[i])) {
        const hint =
          found.length === 1 && expected.length > 1
            ? `the header does not split on '${delimiter}': if the file uses another delimiter, set sources.${name}.csv.delimiter`
            : `make the file's header match sources.${name}.columns, declare the columns the file really has, or declare how files drift in sources.${name}.drift`;
        throw new TributaryError(`header has ${found.length} column(s) [${found.join(', ')}], expected [${expected.join(', ')}]`, {
          place: { file, line: 1 },
          hint,
        });
      }
    },
    0,
  );
}

/**
 * A quoted value spanning lines that are, for the most part, records of the file on their own: a
 * stray quote that a later stray quote happened to close. A value that really holds line breaks
 * (an address, a comment) has lines that are fragments of text, not full records.
 */
function swallowsRecords(record: MultiLineRecord): boolean {
  return record.recordLikeLines > 0 && record.recordLikeLines * 2 >= record.innerLines;
}

/**
 * CSV files read by DuckDB with the dialect pinned and strict mode on. Every load is reconciled
 * against the files' physical lines: a quote that opens and never closes makes the reader take the
 * following lines as one value, and here that shows up as lines without records. Such a line is
 * set aside (quarantined with the reason) and the file is read again without it, so the records it
 * swallowed load as what they are.
 *
 * With `drift` rules, files that differ from the declared layout (a renamed, added or missing
 * column, another delimiter, values a declared cast reads) are read through the mapping in
 * drift.ts beside the typed read of the files that conform, united by name; the reconciliation,
 * repairs and line numbers hold for both, each file with its own delimiter and header.
 */
export const csvSource = defineSource({
  kind: 'csv',
  description: 'CSV files (globs, .gz, .zip) with a declared or inferred schema; drifted files mapped by declared rules',
  config: schema,
  async create(config: CsvConfig, context: SourceContext): Promise<SourceScan> {
    const { files, bytes, sizes } = await resolveFiles(context.name, config.path, context.baseDir, context.scratchDir, context.interval);
    // The independent count reads every file whole. Begun now, it runs on the other core while
    // this thread reads the headers and plans the drift (5 s over 90,000 files), not beside the
    // engine's scan, which wants both cores.
    const stopCounting = new AbortController();
    const counting = countLines(files, undefined, stopCounting.signal);
    counting.catch(() => undefined);
    try {
      return await planScan(config, context, files, bytes, sizes, counting);
    } catch (error) {
      stopCounting.abort();
      throw error;
    }
  },
});

/** How the files are read (their columns, headers and drift), as a scan whose count is `counting`. */
async function planScan(config: CsvConfig, context: SourceContext, files: string[], bytes: number, sizes: ReadonlyMap<string, number>, counting: Promise<LineCount[]>): Promise<SourceScan> {
  const declared = config.columns ? declaredColumns(config.columns) : undefined;
  if (declared?.some((c) => c.from)) {
    throw new TributaryError(`source '${context.name}': \`from\` (epoch timestamps) applies to JSON sources`, {
      place: { field: `sources.${context.name}.columns` },
      hint: 'read the column as a number and convert it in the model, e.g. to_timestamp(ts / 1000)',
    });
  }
  const columns = declared ?? (await inferColumns(context, config, files));
  const headerNames = declared ? declared.map((c) => c.key) : columns.map((c) => c.name);
  const clash = partitionKeyInColumns(files, headerNames);
  if (clash) {
    throw new TributaryError(`column '${clash.key}' of source '${context.name}' is also a partition folder of every file's path (${clash.key}=… in ${clash.file}): the reader would give it the folder's value, not the file's`, {
      place: { file: clash.file, field: `sources.${context.name}.columns.${clash.key}` },
      hint: `rename the column in the files' header and in sources.${context.name}.columns (e.g. ${clash.key}_in_file), or keep the files in folders not named ${clash.key}=…`,
    });
  }
  const original = new Map(files.map((f) => [f, f]));
  if (!config.drift) {
    await checkHeaders(context.name, config, files, headerNames);
    return openScan({ config, context, files, bytes, sizes, columns, headerNames, original, counting });
  }
  const declaredDrift = await checkDrift(context.engine, context.name, config.drift, declared, config.csv?.header);
  const plan = await planDrift({
    source: context.name,
    files,
    baseDir: context.baseDir,
    declared: declaredDrift,
    drift: config.drift,
    delimiter: config.csv?.delimiter ?? ',',
    quote: config.csv?.quote ?? '"',
    log: context.log,
  });
  const quarantined = (await Promise.all([...plan.unmappable].map(([file, reason]) => unmappableRows(file, reason)))).flat();
  const read = files.filter((f) => !plan.unmappable.has(f));
  return openScan({ config, context, files: read, bytes, sizes, columns, headerNames, original, counting, drift: { options: config.drift, declared: declaredDrift, plan, quarantined } });
}

/** The count of `files` from one begun over them (or more), or a count of their own. */
async function countsOf(files: readonly string[], begun: Promise<LineCount[]> | undefined): Promise<LineCount[]> {
  if (!begun) return countLines(files);
  const byFile = new Map((await begun).map((c) => [c.file, c]));
  return files.every((f) => byFile.has(f)) ? files.map((f) => byFile.get(f)!) : countLines(files);
}

/** What a scan reads: the files, how each is laid out, and the names people know them by. */
interface CsvRead {
  config: CsvConfig;
  context: SourceContext;
  /** Files the reader reads (a repaired copy in place of its original). */
  files: string[];
  bytes: number;
  /** Bytes of the files as found; a copy the scan made (a repair) is measured when read. */
  sizes: ReadonlyMap<string, number>;
  columns: ColumnInfo[];
  /** The declared header: each column's name in the file. */
  headerNames: string[];
  /** File read → the file people know it by (a repaired copy names its original). */
  original: Map<string, string>;
  /** A count begun over these files or more; a scan of files it did not count (repaired copies) counts its own. */
  counting?: Promise<LineCount[]>;
  drift?: {
    options: DriftOptions;
    declared: DriftColumns;
    /** By the names people know the files by, so repaired copies keep their route. */
    plan: DriftPlan;
    /** The rows of files whose header cannot be mapped, quarantined with the reason. */
    quarantined: RejectedRow[];
  };
}

/**
 * How the typed reader reads a declared type that it would otherwise bend without a reject: it
 * rounds '2.5' into an INTEGER and '12.999' into a DECIMAL(10,2), and reads a timestamp's offset
 * as if it were UTC. Such a column is read in a type that keeps what was written (DOUBLE holds
 * every 32-bit integer and its fraction; a DECIMAL of the same integer digits and up to 18 in
 * all keeps more decimals; text keeps the offset) and typed here, with the reason when the
 * value does not fit. Undefined: the reader's own typing is exact (or, for 64-bit integers, read
 * as is: a wider read of ids costs every scan; see the README).
 */
function exactRead(type: string, csv: CsvConfig['csv']): ExactRead | undefined {
  const upper = type.trim().toUpperCase();
  const problem = (ok: (field: string) => string, shown = (field: string) => `CAST(${field} AS VARCHAR)`) => (field: string, name: string, declared: string) =>
    `CASE WHEN ${field} IS NULL OR (${ok(field)}) THEN NULL ELSE ${quoteLiteral(`${name}: expected ${declared}, got `)} || ${shown(field)} END`;
  /** The reason JSON's typing gives a text field, for a column the reader takes as text. */
  const exactProblem = (field: string, name: string, declared: string) => exactValue({ name, key: name, type: declared }, field).problem;
  if (/^(TINYINT|SMALLINT|INTEGER|INT|UTINYINT|USMALLINT|UINTEGER|INT1|INT2|INT4|SHORT)$/.test(upper)) {
    return { read: 'DOUBLE', value: (f) => `TRY_CAST(${f} AS ${type})`, problem: problem((f) => `${f} = trunc(${f}) AND TRY_CAST(${f} AS ${type}) IS NOT NULL`) };
  }
  const decimal = /^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$/.exec(upper);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2] ?? 0);
    const wide = precision <= 18 ? 18 : 38;
    const wider = `DECIMAL(${wide},${wide - (precision - scale)})`;
    if (wide - (precision - scale) <= scale) return undefined;
    // The value as written, without the zeros the wider scale pads it with.
    const shown = (f: string) => `regexp_replace(CAST(${f} AS VARCHAR), '\\.?0+$', '')`;
    return { read: wider, value: (f) => `CAST(${f} AS ${type})`, problem: problem((f) => `${f} = CAST(${f} AS ${type})`, shown) };
  }
  // A timestamp format of the project's own is read as it says; without one, offsets are honoured.
  // Read as text: the reader's TIMESTAMPTZ turns a value that is no timestamp into NULL without a
  // reject, so it is typed here, where such a value gets its reason.
  if (/^(TIMESTAMP|DATETIME)$/.test(upper) && !csv?.timestampFormat) {
    const instant = (f: string) => `TRY_CAST(${f} AS TIMESTAMPTZ)`;
    return { read: 'VARCHAR', value: (f) => `CAST(${instant(f)} AS TIMESTAMP)`, problem: problem((f) => `${instant(f)} IS NOT NULL`) };
  }
  // The reader takes a text of any length for a VARCHAR(3): its length is checked here.
  if (textLength(upper) !== undefined) {
    return { read: 'VARCHAR', value: (f) => f, problem: exactProblem };
  }
  if (upper === 'DATE' && !csv?.dateFormat) {
    // The reader's DATE takes '2024-01-01 10:00:00' for the day: read as text and typed exactly here.
    return { read: 'VARCHAR', value: (f) => exactValue({ name: '', key: '', type }, f).value, problem: exactProblem };
  }
  return undefined;
}

interface ExactRead {
  /** The type the reader reads the field as. */
  read: string;
  /** The declared column's value, from the field read as `read`. */
  value(field: string): string;
  /** SQL giving the reason when the value does not fit the declared type (NULL when it does). */
  problem?(field: string, name: string, declared: string): string;
}

/** One read_csv of a scan: its files, the buffer it gives them (DuckDB's own when none), its reject tables. */
interface ReaderCall {
  files: string[];
  bufferSize?: number;
  rejects: string;
  scans: string;
}

function openScan(read: CsvRead): SourceScan {
  const { config, context, files, bytes, columns, headerNames, original, drift } = read;
  const layoutOf = (file: string): FileLayout | undefined => drift?.plan.mapped.get(original.get(file)!);
  const typedFiles = files.filter((f) => !layoutOf(f));
  const groups = new Map<string, { layout: FileLayout; files: string[] }>();
  for (const file of files) {
    const layout = layoutOf(file);
    if (!layout) continue;
    const key = JSON.stringify(layout);
    const group = groups.get(key) ?? { layout, files: [] };
    group.files.push(file);
    groups.set(key, group);
  }
  const mapped = [...groups.values()];

  const suffix = `${context.runId}_${original.size}_${files.length}_${mapped.reduce((n, g) => n + g.files.length, 0)}`.replace(/[^a-z0-9]/gi, '_');
  const rejectsTable = `tributary_rejects_${suffix}`;
  const scansTable = `tributary_reject_scans_${suffix}`;
  const sizeOf = (file: string) => read.sizes.get(file) ?? statSync(file).size;
  /** A group's files as read_csv calls (csvReadsBySize), each with reject tables of its own. */
  const readsOf = (of: readonly string[], name: string): ReaderCall[] =>
    csvReadsBySize(of, sizeOf, config.csv?.maxLineBytes ?? DEFAULT_MAX_LINE).map((call, j) => ({ ...call, rejects: `${rejectsTable}${name}_${j}`, scans: `${scansTable}${name}_${j}` }));
  const typedReads = readsOf(typedFiles, '');
  const mappedReads = mapped.map((g, i) => ({ layout: g.layout, reads: readsOf(g.files, `_${i}`) }));
  const rejectTables = [...typedReads, ...mappedReads.flatMap((g) => g.reads)];
  // read_csv's `columns` names the header's fields; a declared key renames one to its column. A
  // column the reader would round or shift is read in a wider type and typed exactly here.
  const exact = columns.map((c) => exactRead(c.type, config.csv));
  const struct = columnsStruct(Object.fromEntries(columns.map((c, i) => [headerNames[i]!, exact[i]?.read ?? c.type])));
  const renames = columns
    .map((c, i) => {
      const field = quoteIdent(headerNames[i]!);
      const typed = exact[i];
      if (typed) return `${typed.value(field)} AS ${quoteIdent(c.name)}`;
      return headerNames[i] === c.name ? field : `${field} AS ${quoteIdent(c.name)}`;
    })
    .join(', ');
  const problems = columns.flatMap((c, i) => {
    const check = exact[i]?.problem;
    return check ? [check(quoteIdent(headerNames[i]!), c.name, c.type)] : [];
  });
  // Mapped rows carry their typing problems; the typed reader's, those of the values it reads wider.
  const hasParseError = mapped.length > 0 || problems.length > 0;
  const dialect = (file: string) => dialectOf(config.csv, layoutOf(file)?.delimiter);
  /** The names of a file's fields, in order. */
  const fieldsOf = (file: string) => layoutOf(file)?.header ?? columns.map((c) => c.name);
  const label = knownFileLabel(original);
  const counts = countsOf(files, read.counting).then(
    (c) => ({ ok: true as const, counts: c }),
    (error: Error) => ({ ok: false as const, error }),
  );
  let scanned = false;
  /** Per file, what the slow path learned: where records span lines. */
  const multiLine = new Map<string, MultiLineRecord[]>();
  let lineCounts: LineCount[] | undefined;
  const quarantined = drift?.quarantined ?? [];

  const physical = async (): Promise<LineCount[]> => {
    const outcome = await counts;
    if (!outcome.ok) {
      const gz = /gz|gunzip|unexpected end|incorrect header/i.test(outcome.error.message);
      throw new TributaryError(`cannot read ${gz ? 'the .gz file (truncated or corrupt)' : 'an input file'}: ${outcome.error.message}; nothing was committed`, {
        place: { file: outcome.error instanceof UnreadableFile && outcome.error.file ? original.get(outcome.error.file) : files.length === 1 ? original.get(files[0]!) : undefined },
        hint: gz ? 'fetch or copy the file again, then re-run' : 'check the files the source matches',
      });
    }
    lineCounts = outcome.counts;
    return outcome.counts;
  };

  /** The typed reader's rows of `from` (files of `call`), as declared (the fast path every conforming file stays on). */
  const typedRelation = (from: readonly string[], call: ReaderCall, located: boolean): string => {
    const options = readerOptions(config.csv, undefined, call.bufferSize);
    // One column read wider (the clickstream's price) needs no joining of reasons: its own check is
    // the reason or NULL, and skipping concat_ws and nullif on every row is ~6 % of the load's scan.
    const reasons = problems.length === 1 ? problems[0] : `nullif(concat_ws('; ', ${problems.join(', ')}), '')`;
    const error = !hasParseError ? '' : problems.length ? `, ${reasons} AS ${PARSE_ERROR}` : `, NULL::VARCHAR AS ${PARSE_ERROR}`;
    // Columns the reader adds beside the header's (Hive partitions such as dt) are kept.
    const others = (added: string[]) => `* EXCLUDE (${[...headerNames, ...added].map(quoteIdent).join(', ')})`;
    if (located) {
      // One thread in file order, so row_number() is the record number within each file.
      return `(SELECT ${label('__scan_file')} AS __file, __record, ${renames}${error}, ${others(['__scan_file', '__scan_position', '__record'])}
               FROM ${numberedInFileOrder(`read_csv(${quoteList(from)}, columns = ${struct}, ${options}, parallel = false, ignore_errors = true)`)})`;
    }
    const scan = `read_csv(${quoteList(from)}, columns = ${struct}, ${options}, store_rejects = true, rejects_table = '${call.rejects}', rejects_scan = '${call.scans}')`;
    return `(SELECT ${renames}${error}, filename AS __file, ${others([])} FROM ${scan})`;
  };

  /** The rows of files of one drifted layout (of `call`), mapped onto the declared columns. */
  const mappedLayoutRelation = (group: { layout: FileLayout; files: readonly string[] }, call: ReaderCall, located: boolean): string =>
    mappedRelation({
      files: group.files,
      layout: group.layout,
      declared: drift!.declared,
      drift: drift!.options,
      source: context.name,
      read: { options: (delimiter) => readerOptions(config.csv, delimiter, call.bufferSize), timestampFormat: config.csv?.timestampFormat, dateFormat: config.csv?.dateFormat },
      scan: located ? 'parallel = false, ignore_errors = true' : `store_rejects = true, rejects_table = '${call.rejects}', rejects_scan = '${call.scans}'`,
      wrap: located
        ? { relation: numberedInFileOrder, added: ['__scan_file', '__scan_position', '__record'], leading: `${label('__scan_file')} AS __file, __record, ` }
        : { relation: (scan) => scan, added: [], leading: 'filename AS __file, ' },
    });

  /** A reject of a field read in a wider type, told in the declared type (the reader names the one it read). */
  const declaredReason = (reject: RejectedRow): RejectedRow => {
    const i = reject.column === null ? -1 : headerNames.indexOf(reject.column);
    const wider = exact[i]?.read;
    return wider ? { ...reject, reason: reject.reason.replaceAll(`'${wider}'`, `'${columns[i]!.type}'`) } : reject;
  };

  /** No file to read (every one was quarantined whole): the declared columns, no rows. */
  const noRows = (located: boolean) =>
    `(SELECT NULL::VARCHAR AS __file, ${located ? 'NULL::BIGINT AS __record, ' : ''}${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false)`;

  return {
    files,
    bytes,
    columns,
    hasParseError,
    // Each row carries the file it was read from (its read name), so a load reads again only the files holding failing rows.
    labelsFiles: true,
    relation({ located, files: only, shapeOnly } = {}) {
      if (!located && !shapeOnly) scanned = true;
      const wanted = located && only ? new Set(only) : undefined;
      // A few files of each layout have the shape of them all (only bound, never scanned).
      const reading = (of: readonly string[]) => (shapeOnly ? filesOfEveryPartitionValue(of) : wanted ? of.filter((f) => wanted.has(f)) : of);
      const parts = [
        ...typedReads.flatMap((call) => {
          const typed = reading(call.files);
          return typed.length ? [typedRelation(typed, call, Boolean(located))] : [];
        }),
        ...mappedReads.flatMap((g) =>
          g.reads.flatMap((call) => {
            const groupFiles = reading(call.files);
            return groupFiles.length ? [mappedLayoutRelation({ layout: g.layout, files: groupFiles }, call, Boolean(located))] : [];
          }),
        ),
      ];
      if (parts.length <= 1) return parts[0] ?? noRows(Boolean(located));
      return `(${parts.map((p) => `SELECT * FROM ${p}`).join(' UNION ALL BY NAME ')})`;
    },
    async rejects(): Promise<RejectedRow[]> {
      if (!scanned) return quarantined;
      const read = await Promise.all(rejectTables.map((t) => readRejects(context.engine, t.rejects, t.scans, label, `sources.${context.name}.csv.maxLineBytes`)));
      return [...read.flat().map(declaredReason), ...quarantined];
    },
    async reconcile(yielded, rejects): Promise<Repair | undefined> {
      // A value the typed reader refused that a declared cast reads (a decimal comma past the
      // first lines): its file is read through the mapping instead, and the load runs again.
      const misread = drift ? [...castRefusals(rejects, drift.options)].filter((known) => !drift.plan.mapped.has(known)) : [];
      if (drift && misread.length) {
        const example = rejects.find((r) => r.file === misread[0]);
        context.log(
          `source '${context.name}': the typed reader refused values a declared cast reads in ${misread.length} file(s), e.g. ${example?.file}:${example?.line} (${example?.reason}); reading them through the mapping`,
        );
        const plan: DriftPlan = { ...drift.plan, mapped: new Map([...drift.plan.mapped, ...misread.map((known) => [known, { delimiter: config.csv?.delimiter ?? ',', header: headerNames }] as const)]) };
        return { scan: openScan({ ...read, drift: { ...drift, plan } }), setAside: [] };
      }
      const perFile = await physical();
      const header = (config.csv?.header ?? true) ? 1 : 0;
      const lines = perFile.reduce((s, f) => s + Math.max(0, f.lines - (f.lines ? header : 0)), 0);
      // Rows of unmappable files were counted from their lines, not read: they are not the reader's.
      const records = yielded + rejects.length - quarantined.length;
      if (lines === records) return undefined;
      // The slow path: find the records that span lines, and the quotes that never closed.
      const runaway = new Map<string, MultiLineRecord[]>();
      let extra = 0;
      for (const file of files) {
        const fields = fieldsOf(file).length;
        const scan = await scanCsvRecords(file, dialect(file), { fields });
        multiLine.set(file, scan.multiLine);
        const broken = scan.multiLine.filter((m) => m.unclosed || m.fields !== fields || m.bytes > (config.csv?.maxLineBytes ?? DEFAULT_MAX_LINE) || swallowsRecords(m));
        if (broken.length) runaway.set(file, broken);
        extra += scan.multiLine.filter((m) => !broken.includes(m)).reduce((s, m) => s + m.span - 1, 0);
      }
      if (!runaway.size) {
        if (lines === records + extra) return undefined; // quoted values holding line breaks
        throw new TributaryError(
          `counts do not reconcile: the file(s) hold ${lines.toLocaleString('en-US')} data lines, ${extra} of them inside multi-line values, but the reader produced ${records.toLocaleString('en-US')} records; nothing was committed`,
          { place: { file: original.get(files[0]!) }, hint: 'check the file for unusual line endings or a delimiter inside unquoted values, and report it if the file looks sound' },
        );
      }
      // Set each runaway line aside and read the files again without them.
      const setAside: RejectedRow[] = [];
      const repairedFiles: string[] = [];
      const names = new Map(original);
      for (const file of files) {
        const broken = runaway.get(file);
        if (!broken) {
          repairedFiles.push(file);
          continue;
        }
        const starts = new Set(broken.map((m) => m.line));
        const text = await readLines(file, starts);
        const fields = fieldsOf(file);
        for (const m of broken) {
          const column = fields[Math.min(m.openField, fields.length) - 1] ?? null;
          setAside.push({
            file: original.get(file)!,
            line: m.line,
            column,
            reason: `unbalanced quote: the quoted value that opens in column ${column ?? m.openField} ${m.unclosed ? 'never closes before the end of the file' : `does not close on its line but ${(m.span - 1).toLocaleString('en-US')} line(s) later`}, so the reader took the next ${(m.span - 1).toLocaleString('en-US')} line(s) into it; this line was set aside and the lines after it were read as their own records`,
            raw: text.get(m.line) ?? null,
          });
        }
        const repaired = path.join(context.scratchDir, `repaired-${repairedFiles.length}-${path.basename(file).replace(/\.gz$/i, '')}`);
        await blankLines(file, starts, repaired);
        names.set(repaired, original.get(file)!);
        repairedFiles.push(repaired);
      }
      const first = setAside[0]!;
      context.log(`source '${context.name}': ${setAside.length} line(s) with an unbalanced quote set aside, e.g. ${first.file}:${first.line}; reading the rest again`);
      return { scan: openScan({ ...read, files: repairedFiles, original: names }), setAside };
    },
    async recover(error) {
      // DuckDB's strict reader stops at the first line whose ending differs from the file's first,
      // and at a carriage return that ends no line.
      if (!/state machine reached an invalid state/i.test(error.message)) return undefined;
      const unified: string[] = [];
      const names = new Map(original);
      const setAside: RejectedRow[] = [];
      let mixed = 0;
      for (const file of files) {
        const known = original.get(file)!;
        const copy = await readableCopy(file, known, (step) => path.join(context.scratchDir, `${step}-${unified.length}-${path.basename(file).replace(/\.gz$/i, '')}`), dialect(file));
        unified.push(copy.read);
        names.set(copy.read, known);
        if (copy.crlf && copy.lf) {
          mixed++;
          context.log(`source '${context.name}': ${known} mixes line endings (${copy.crlf.toLocaleString('en-US')} CRLF, ${copy.lf.toLocaleString('en-US')} LF); reading it with LF endings`);
        }
        if (copy.stray[0]?.line === 1 && dialect(file).header) {
          throw new TributaryError('the header line holds a carriage return that ends no line (a stray byte, or binary data); nothing was committed', {
            place: { file: known, line: 1 },
            hint: 'remove the character from the header (e.g. `sed -i "1s/\\r//" FILE` on the uncompressed file), then re-run',
          });
        }
        for (const { line, text } of copy.stray) {
          setAside.push({
            file: known,
            line,
            column: null,
            reason: 'a carriage return that ends no line, outside quotes (a stray byte, or binary data): the reader cannot read past it; this line was set aside and the lines after it were read',
            raw: text,
          });
        }
      }
      if (setAside.length) {
        const first = setAside[0]!;
        context.log(`source '${context.name}': ${setAside.length} line(s) with a stray carriage return set aside, e.g. ${first.file}:${first.line}; reading the rest again`);
      }
      if (mixed || setAside.length) return { scan: openScan({ ...read, files: unified, original: names }), setAside };
      const file = /^\s*file = (.+)$/m.exec(error.message)?.[1]?.trim();
      throw new TributaryError(`the CSV reader stopped: ${error.message.split('\n')[0]}; nothing was committed`, {
        place: file ? { file: names.get(file) ?? file } : undefined,
        hint: 'look for a character the file’s dialect does not allow where it stands (csv.delimiter, csv.quote, csv.escape in the source), fix the file or the dialect, then re-run',
      });
    },
    async locate(file, records, rejects) {
      // The file this scan reads under that name: after a repair, the repaired copy (`original`
      // still names the file as found too, which holds what the repair took out).
      const readFile = files.find((f) => original.get(f) === file) ?? file;
      const places: Map<number, RecordPlace> = await locateRecords({ read: readFile, known: file, records, rejects, counted: lineCounts?.find((c) => c.file === readFile), multiLine: multiLine.get(readFile), dialect: dialect(readFile) });
      // The record as the file has it, not as typed: a value that failed its type reads NULL or
      // rounded in the row, and the quarantine is for seeing what to fix.
      const spans = new Map((multiLine.get(readFile) ?? []).map((m) => [m.line, m.span]));
      const linesOf = (first: number) => Array.from({ length: spans.get(first) ?? 1 }, (_, i) => first + i);
      const located = [...places.values()].filter((p): p is RecordPlace & { line: number } => p.line !== null);
      const texts = await readLines(readFile, new Set(located.flatMap((p) => linesOf(p.line))));
      for (const place of located) {
        const lines = linesOf(place.line).map((line) => texts.get(line));
        if (lines.every((line) => line !== undefined)) place.text = lines.join('\n');
      }
      return places;
    },
    async close() {
      await context.engine.run(rejectTables.map((t) => `DROP TABLE IF EXISTS ${t.rejects}; DROP TABLE IF EXISTS ${t.scans}`).join('; '));
    },
  };
}
