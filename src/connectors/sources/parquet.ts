import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { declaredColumns } from '../../core/schemas.js';
import { quoteIdent, quoteList, quoteLiteral } from '../../engine/index.js';
import { castsExactly, exactValue } from '../../quality/json.js';
import { PARSE_ERROR } from '../../quality/rules.js';
import { resolveFiles } from './files.js';
import { defineSource, sourceBase, type SourceContext, type SourceScan } from './types.js';

const schema = z.object({ format: z.literal('parquet'), ...sourceBase }).strict();

/**
 * Each file must hold every declared column: read by name across files, a column one file lacks
 * would load as NULL for all its rows, with no reason anywhere (a renamed column, a file of another
 * table). Each file's top-level columns come from its footer's schema, a tree listed depth first.
 */
async function refuseMissingColumns(context: SourceContext, files: readonly string[], keys: readonly string[]): Promise<void> {
  const rows = await context.engine.queryJson<{ file_name: string; name: string; num_children: number | null }>(
    `SELECT file_name, name, num_children FROM parquet_schema(${quoteList(files)})`,
  );
  const byFile = new Map<string, typeof rows>();
  for (const row of rows) {
    const tree = byFile.get(row.file_name);
    if (tree) tree.push(row);
    else byFile.set(row.file_name, [row]);
  }
  for (const [file, tree] of byFile) {
    let at = 1;
    const skip = (): void => {
      const children = tree[at++]!.num_children ?? 0;
      for (let k = 0; k < children; k++) skip();
    };
    const names: string[] = [];
    for (let k = 0; k < (tree[0]!.num_children ?? 0); k++) {
      names.push(tree[at]!.name);
      skip();
    }
    // Names bind as DuckDB binds them, whatever their case: a file's `Name` is the declared `name`.
    const found = new Set(names.map((n) => n.toLowerCase()));
    const missing = keys.filter((key) => !found.has(key.toLowerCase()));
    if (missing.length) {
      throw new TributaryError(`the file has no column ${missing.map((m) => `'${m}'`).join(', ')} of sources.${context.name}.columns; its columns: ${names.join(', ')}`, {
        place: { file, field: `sources.${context.name}.columns` },
        hint: 'declare only the columns every file has (a model can add one that later files have from a source of their own), or correct the file',
      });
    }
  }
}

/**
 * A file the reader cannot take for Parquet (no `PAR1` mark at its end: another format, or a file
 * cut short), named, where DuckDB's error quotes its own SQL.
 */
function notParquet(error: Error, source: string): TributaryError | undefined {
  if (!/No magic bytes|too small to be a Parquet file/i.test(error.message)) return undefined;
  const file = /file '([^']+)'/i.exec(error.message)?.[1];
  return new TributaryError(`the file is not Parquet: ${error.message.split('\n')[0]}`, {
    place: file ? { file } : {},
    hint: `a file of another format (CSV, JSON) or one cut short while it was written: make sources.${source}.path match only whole Parquet files, or declare the format the files have`,
  });
}

/**
 * Parquet files. A declared schema is enforced value by value: a value that does not convert is a
 * quarantined row with its reason, not a failed load. The independent count is the files' own
 * row counts from their footers.
 */
export const parquetSource = defineSource({
  kind: 'parquet',
  description: 'Parquet files (globs), with their own or a declared schema',
  config: schema,
  async create(config: z.output<typeof schema>, context: SourceContext): Promise<SourceScan> {
    const { files, bytes } = await resolveFiles(context.name, config.path, context.baseDir, context.scratchDir, context.interval);
    const read = `read_parquet(${quoteList(files)}, union_by_name = true)`;
    const stored = await context.engine.describe(`SELECT * FROM ${read}`).catch((error: Error) => {
      throw notParquet(error, context.name) ?? error;
    });
    const declared = config.columns ? declaredColumns(config.columns) : undefined;
    if (declared) await refuseMissingColumns(context, files, declared.map((c) => c.key));
    const columns = declared ? declared.map((c) => ({ name: c.name, type: c.type, key: c.key })) : stored.map((c) => ({ ...c, key: c.name }));
    // A stored type that converts exactly is cast (an overflow is the value's problem); any other
    // value is typed from its text, as a CSV or JSON value is, so 1.5 is no INTEGER here either.
    const storedTypes = new Map(stored.map((c) => [c.name.toLowerCase(), c.type]));
    const typed = columns.map((c) => {
      const field = quoteIdent(c.key);
      const from = storedTypes.get(c.key.toLowerCase());
      if (!declared || from === undefined) return { value: field, problem: 'NULL' };
      if (!castsExactly(from, c.type)) return exactValue(c, `CAST(${field} AS VARCHAR)`);
      const value = `TRY_CAST(${field} AS ${c.type})`;
      return { value, problem: `CASE WHEN ${field} IS NOT NULL AND ${value} IS NULL THEN ${quoteLiteral(`${c.name}: expected ${c.type}, got `)} || left(CAST(${field} AS VARCHAR), 100) END` };
    });
    const projection = typed.map((t, i) => `${t.value} AS ${quoteIdent(columns[i]!.name)}`).join(', ');
    const checks = typed.map((t) => t.problem).filter((p) => p !== 'NULL');
    const problems = checks.length ? `nullif(concat_ws('; ', ${checks.join(', ')}), '')` : 'NULL::VARCHAR';
    return {
      files,
      bytes,
      columns: columns.map((c) => ({ name: c.name, type: c.type })),
      hasParseError: true,
      // A located row carries the record as the file stores it, for the quarantine: the typed row
      // has NULL where a value failed.
      relation: ({ located } = {}) =>
        `(SELECT ${located ? 'filename AS __file, file_row_number + 1 AS __record, to_json(__stored)::VARCHAR AS __stored_row, ' : ''}${projection}, ${problems} AS ${PARSE_ERROR} FROM ${read} __stored)`,
      rawColumn: '__stored_row',
      rejects: async () => [],
      async reconcile(yielded, rejects) {
        const stored = Number(await context.engine.scalar<bigint>(`SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(${quoteList(files)})`));
        if (stored !== yielded + rejects.length) {
          throw new TributaryError(`counts do not reconcile: the files' footers say ${stored} rows but the reader produced ${yielded}; nothing was committed`, {
            hint: 'a file may have changed during the run; run again',
          });
        }
        return undefined;
      },
      locate: async (_file, records) => new Map(records.map((r) => [r, { line: null, record: r }])),
      close: async () => undefined,
    };
  },
});
