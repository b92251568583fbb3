import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import type { ColumnInfo } from '../../catalog/index.js';
import { defineComponent } from '../../core/component.js';
import { TributaryError } from '../../core/errors.js';
import { declaredColumns } from '../../core/schemas.js';
import { columnsStruct, quoteList, quoteLiteral } from '../../engine/index.js';
import { blankLines, scanCsvRecords, unifyLineEndings, type CsvDialect, type MultiLineRecord } from './csv-records.js';
import { firstLine, resolveFiles, splitHeader } from './files.js';
import { countLines, type LineCount } from './line-count.js';
import { locateRecords, numberedInFileOrder, readRejects } from './located.js';
import { sourceBase, type RejectedRow, type Repair, type SourceContext, type SourceScan } from './types.js';

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

const schema = z.object({ format: z.literal('csv'), ...sourceBase, csv: csvOptions.optional() }).strict();
type CsvConfig = z.output<typeof schema>;

/** Reader options that pin the dialect, so nothing is guessed differently from one file to the next. */
function readerOptions(csv: CsvConfig['csv'] = {}): string {
  const parts = [
    `delim = ${quoteLiteral(csv.delimiter ?? ',')}`,
    `quote = ${quoteLiteral(csv.quote ?? '"')}`,
    `escape = ${quoteLiteral(csv.escape ?? csv.quote ?? '"')}`,
    `header = ${csv.header ?? true}`,
    `max_line_size = ${csv.maxLineBytes ?? DEFAULT_MAX_LINE}`,
    'auto_detect = false',
    'strict_mode = true',
  ];
  if (csv.timestampFormat) parts.push(`timestampformat = ${quoteLiteral(csv.timestampFormat)}`);
  if (csv.dateFormat) parts.push(`dateformat = ${quoteLiteral(csv.dateFormat)}`);
  if (csv.nullString !== undefined) parts.push(`nullstr = ${quoteLiteral(csv.nullString)}`);
  return parts.join(', ');
}

function dialectOf(csv: CsvConfig['csv'] = {}): CsvDialect {
  return { delimiter: csv.delimiter ?? ',', quote: csv.quote ?? '"', escape: csv.escape ?? csv.quote ?? '"', header: csv.header ?? true };
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
    const rows = await context.engine.queryJson<{ name: string; type: string }>(
      `SELECT c.name, c.type FROM (SELECT unnest(Columns) AS c FROM sniff_csv(${quoteLiteral(file)}, ${options.join(', ')}))`,
    );
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
  for (const file of files) {
    const found = splitHeader(await firstLine(file), delimiter, config.csv?.quote ?? '"');
    if (found.length !== expected.length || found.some((f, i) => f !== expected[i])) {
      const hint =
        found.length === 1 && expected.length > 1
          ? `the header does not split on '${delimiter}': if the file uses another delimiter, set sources.${name}.csv.delimiter`
          : `make the file's header match sources.${name}.columns, or declare the columns the file really has`;
      throw new TributaryError(`header has ${found.length} column(s) [${found.join(', ')}], expected [${expected.join(', ')}]`, {
        place: { file, line: 1 },
        hint,
      });
    }
  }
}

/** The text of some physical lines of a file (for a quarantined runaway-quote line). */
async function readLines(file: string, wanted: ReadonlySet<number>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const raw = createReadStream(file);
  const lines = createInterface({ input: /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (wanted.has(n)) out.set(n, line);
    if (out.size === wanted.size) break;
  }
  raw.destroy();
  return out;
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
 */
export const csvSource = defineComponent({
  kind: 'csv',
  description: 'CSV files (globs, .gz, .zip) with a declared or inferred schema',
  config: schema,
  async create(config: CsvConfig, context: SourceContext): Promise<SourceScan> {
    const { files, bytes } = await resolveFiles(context.name, config.path, context.baseDir, context.scratchDir, context.interval);
    const declared = config.columns ? declaredColumns(config.columns) : undefined;
    if (declared?.some((c) => c.from)) {
      throw new TributaryError(`source '${context.name}': \`from\` (epoch timestamps) applies to JSON sources`, {
        place: { field: `sources.${context.name}.columns` },
        hint: 'read the column as a number and convert it in the model, e.g. to_timestamp(ts / 1000)',
      });
    }
    const columns = declared ?? (await inferColumns(context, config, files));
    const headerNames = declared ? declared.map((c) => c.key) : columns.map((c) => c.name);
    await checkHeaders(context.name, config, files, headerNames);
    return openScan(config, context, files, bytes, columns, headerNames, new Map(files.map((f) => [f, f])));
  },
});

function openScan(
  config: CsvConfig,
  context: SourceContext,
  files: string[],
  bytes: number,
  columns: ColumnInfo[],
  headerNames: string[],
  /** File read → the file people know it by (a repaired copy names its original). */
  original: Map<string, string>,
): SourceScan {
  const suffix = `${context.runId}_${original.size}_${files.length}`.replace(/[^a-z0-9]/gi, '_');
  const rejectsTable = `tributary_rejects_${suffix}`;
  const scansTable = `tributary_reject_scans_${suffix}`;
  // read_csv's `columns` names the header's fields; a declared key renames one to its column.
  const struct = columnsStruct(Object.fromEntries(columns.map((c, i) => [headerNames[i]!, c.type])));
  const renames = columns.map((c, i) => (headerNames[i] === c.name ? `"${c.name}"` : `"${headerNames[i]!.replace(/"/g, '""')}" AS "${c.name}"`)).join(', ');
  const options = readerOptions(config.csv);
  const dialect = dialectOf(config.csv);
  const label = (sql: string) => `CASE ${sql} ${[...original].map(([read, known]) => `WHEN ${quoteLiteral(read)} THEN ${quoteLiteral(known)}`).join(' ')} ELSE ${sql} END`;
  const counts = countLines(files).then(
    (c) => ({ ok: true as const, counts: c }),
    (error: Error) => ({ ok: false as const, error }),
  );
  let scanned = false;
  /** Per file, what the slow path learned: where records span lines. */
  const multiLine = new Map<string, MultiLineRecord[]>();
  let lineCounts: LineCount[] | undefined;

  const physical = async (): Promise<LineCount[]> => {
    const outcome = await counts;
    if (!outcome.ok) {
      const gz = /gz|gunzip|unexpected end|incorrect header/i.test(outcome.error.message);
      throw new TributaryError(`cannot read ${gz ? 'the .gz file (truncated or corrupt)' : 'an input file'}: ${outcome.error.message}; nothing was committed`, {
        place: { file: files.length === 1 ? original.get(files[0]!) : undefined },
        hint: gz ? 'fetch or copy the file again, then re-run' : 'check the files the source matches',
      });
    }
    lineCounts = outcome.counts;
    return outcome.counts;
  };

  return {
    files,
    bytes,
    columns,
    hasParseError: false,
    relation({ located } = {}) {
      if (located) {
        // One thread in file order, so row_number() is the record number within each file.
        return `(SELECT ${label('__scan_file')} AS __file, __record, ${renames}
                 FROM ${numberedInFileOrder(`read_csv(${quoteList(files)}, columns = ${struct}, ${options}, parallel = false, ignore_errors = true)`)})`;
      }
      scanned = true;
      const read = `read_csv(${quoteList(files)}, columns = ${struct}, ${options}, store_rejects = true, rejects_table = '${rejectsTable}', rejects_scan = '${scansTable}')`;
      return headerNames.every((h, i) => h === columns[i]!.name) ? read : `(SELECT ${renames} FROM ${read})`;
    },
    async rejects(): Promise<RejectedRow[]> {
      return scanned ? readRejects(context.engine, rejectsTable, scansTable, label) : [];
    },
    async reconcile(yielded, rejects): Promise<Repair | undefined> {
      const perFile = await physical();
      const header = dialect.header ? 1 : 0;
      const lines = perFile.reduce((s, f) => s + Math.max(0, f.lines - (f.lines ? header : 0)), 0);
      const records = yielded + rejects.length;
      if (lines === records) return undefined;
      // The slow path: find the records that span lines, and the quotes that never closed.
      const runaway = new Map<string, MultiLineRecord[]>();
      let extra = 0;
      for (const file of files) {
        const scan = await scanCsvRecords(file, dialect, { fields: columns.length });
        multiLine.set(file, scan.multiLine);
        const broken = scan.multiLine.filter((m) => m.unclosed || m.fields !== columns.length || m.bytes > (config.csv?.maxLineBytes ?? DEFAULT_MAX_LINE) || swallowsRecords(m));
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
        for (const m of broken) {
          const column = columns[Math.min(m.openField, columns.length) - 1]?.name ?? null;
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
      return { scan: openScan(config, context, repairedFiles, bytes, columns, headerNames, names), setAside };
    },
    async recover(error) {
      // DuckDB's strict reader stops at the first line whose ending differs from the file's first.
      if (!/state machine reached an invalid state/i.test(error.message)) return undefined;
      const unified: string[] = [];
      const names = new Map(original);
      let mixed = 0;
      for (const file of files) {
        const copy = path.join(context.scratchDir, `lf-${unified.length}-${path.basename(file).replace(/\.gz$/i, '')}`);
        const endings = await unifyLineEndings(file, copy);
        if (endings.crlf && endings.lf) {
          mixed++;
          context.log(`source '${context.name}': ${original.get(file)} mixes line endings (${endings.crlf.toLocaleString('en-US')} CRLF, ${endings.lf.toLocaleString('en-US')} LF); reading it with LF endings`);
        }
        names.set(copy, original.get(file)!);
        unified.push(copy);
      }
      return mixed ? { scan: openScan(config, context, unified, bytes, columns, headerNames, names), setAside: [] } : undefined;
    },
    async locate(file, records, rejects) {
      const read = [...original].find(([, known]) => known === file)?.[0] ?? file;
      return locateRecords({ read, known: file, records, rejects, counted: lineCounts?.find((c) => c.file === read), multiLine: multiLine.get(read), dialect });
    },
    async close() {
      await context.engine.run(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}`);
    },
  };
}
