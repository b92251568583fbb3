import type { ColumnInfo } from '../../catalog/index.js';
import type { SourceConfig } from '../../core/config.js';
import { TributaryError } from '../../core/errors.js';
import { columnsStruct, quoteList, quoteLiteral } from '../../engine/index.js';
import { declaredColumns, type RejectedRow, type SourceConnector, type SourceContext, type SourceScan } from '../types.js';
import { firstLine, resolveFiles, splitHeader } from './resolve.js';

const DEFAULT_MAX_LINE = 2_000_000;

/** Reader options that pin the dialect, so nothing is guessed differently from one file to the next. */
function dialect(config: SourceConfig): string {
  const csv = config.csv ?? {};
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

async function inferColumns(context: SourceContext, name: string, config: SourceConfig, files: string[]): Promise<ColumnInfo[]> {
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
  context.log(`source '${name}': no columns declared; inferred from every row of ${files.length} file(s): ${result.map((c) => `${c.name} ${c.type}`).join(', ')}`);
  return result;
}

async function checkHeaders(name: string, config: SourceConfig, files: string[], columns: ColumnInfo[]): Promise<void> {
  if (config.csv?.header === false) return;
  const delimiter = config.csv?.delimiter ?? ',';
  const expected = columns.map((c) => c.name);
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

export const csvConnector: SourceConnector = {
  format: 'csv',
  async open(name, config, context): Promise<SourceScan> {
    const { files, bytes, verified } = await resolveFiles(name, config.path, context.baseDir, context.scratchDir, context.date);
    const columns = declaredColumns(config) ?? (await inferColumns(context, name, config, files));
    await checkHeaders(name, config, files, columns);
    const suffix = context.runId.replace(/[^a-z0-9]/gi, '_');
    const rejectsTable = `tributary_rejects_${suffix}`;
    const scansTable = `tributary_reject_scans_${suffix}`;
    const declared = columnsStruct(Object.fromEntries(columns.map((c) => [c.name, c.type])));
    const options = dialect(config);
    let scanned = false;
    return {
      files,
      bytes,
      verified,
      columns,
      hasParseError: false,
      relation({ located } = {}) {
        if (located) {
          // One thread in file order, so row_number() is the record number within each file.
          return `(SELECT filename AS __file, row_number() OVER (PARTITION BY filename) AS __record, *
                   FROM read_csv(${quoteList(files)}, columns = ${declared}, ${options}, parallel = false, ignore_errors = true))`;
        }
        scanned = true;
        return `read_csv(${quoteList(files)}, columns = ${declared}, ${options},
                  store_rejects = true, rejects_table = '${rejectsTable}', rejects_scan = '${scansTable}')`;
      },
      async rejects(): Promise<RejectedRow[]> {
        if (!scanned) return [];
        const exists = await context.engine.scalar<number>(
          `SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = '${rejectsTable}'`,
        );
        if (!exists) return [];
        // One line may fail in several columns; it is one rejected row with every reason.
        return context.engine.queryJson<RejectedRow>(
          `SELECT s.file_path AS file, e.line::DOUBLE AS line,
                  string_agg(DISTINCT e.column_name, ', ') AS column,
                  string_agg(DISTINCT e.error_type || ': ' || e.error_message, '; ') AS reason,
                  any_value(e.csv_line) AS raw
           FROM ${rejectsTable} e JOIN ${scansTable} s USING (scan_id, file_id)
           GROUP BY ALL ORDER BY file, line`,
        );
      },
      lineOf(file, record, rejects) {
        let line = record + (config.csv?.header === false ? 0 : 1);
        for (const reject of rejects) {
          if (reject.file === file && reject.line !== null && reject.line <= line) line++;
        }
        return line;
      },
      async close() {
        await context.engine.run(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}`);
      },
    };
  },
};
