import { z } from 'zod';
import { defineComponent } from '../../core/component.js';
import { TributaryError } from '../../core/errors.js';
import { quoteList } from '../../engine/index.js';
import { typeJson } from '../../quality/json.js';
import { resolveFiles } from './files.js';
import { jsonColumns, jsonOptions } from './json-options.js';
import { countLines, type LineCount } from './line-count.js';
import { locateRecords, numberedInFileOrder, readRejects } from './located.js';
import { sourceBase, type SourceContext, type SourceScan } from './types.js';

const schema = z.object({ format: z.literal('jsonl'), ...sourceBase, json: jsonOptions.optional() }).strict();

/** Lines are read as text, with no quoting: a line is a record, and a bad one is quarantined, never fatal. */
const LINES = `header = false, delim = '\\x01', quote = '', escape = '', auto_detect = false, strict_mode = true`;
const PLAIN_LINES = { delimiter: '\x01', quote: '', escape: '', header: false };

/** JSON lines: one object a line, typed exactly by the declared columns. */
export const jsonlSource = defineComponent({
  kind: 'jsonl',
  description: 'JSON lines (one object a line; .gz too), typed exactly',
  config: schema,
  async create(config: z.output<typeof schema>, context: SourceContext): Promise<SourceScan> {
    const { files, bytes } = await resolveFiles(context.name, config.path, context.baseDir, context.scratchDir, context.interval);
    const columns = await jsonColumns(context, config.columns, config.json, (engine) =>
      engine.describe(`SELECT * FROM read_json(${quoteList(files)}, format = 'newline_delimited', sample_size = -1, union_by_name = true)`),
    );
    const maxBytes = config.json?.maxRecordBytes ?? 16_000_000;
    const suffix = context.runId.replace(/[^a-z0-9]/gi, '_');
    const rejectsTable = `tributary_rejects_${suffix}`;
    const scansTable = `tributary_reject_scans_${suffix}`;
    const counts = countLines(files).then((c) => ({ c }), (error: Error) => ({ error }));
    let lineCounts: LineCount[] | undefined;
    let scanned = false;
    const lines = (located: boolean) => {
      if (!located) scanned = true;
      const read = `read_csv(${quoteList(files)}, columns = {'__line': 'VARCHAR'}, ${LINES}, max_line_size = ${maxBytes},
                      ${located ? 'parallel = false, ignore_errors = true' : `store_rejects = true, rejects_table = '${rejectsTable}', rejects_scan = '${scansTable}'`})`;
      return located ? `(SELECT __scan_file AS __file, __record, __line FROM ${numberedInFileOrder(read)})` : `(SELECT __line FROM ${read})`;
    };
    return {
      files,
      bytes,
      columns: columns.map((c) => ({ name: c.name, type: c.type })),
      hasParseError: true,
      relation: ({ located } = {}) => typeJson(lines(Boolean(located)), '__line', columns, located ? ['__file', '__record'] : [], config.json),
      rejects: async () => (scanned ? readRejects(context.engine, rejectsTable, scansTable, (sql) => sql) : []),
      async reconcile(yielded, rejects) {
        const outcome = await counts;
        if ('error' in outcome) {
          throw new TributaryError(`cannot read an input file (a truncated or corrupt .gz?): ${outcome.error.message}; nothing was committed`, {
            hint: 'fetch or copy the file again, then re-run',
          });
        }
        lineCounts = outcome.c;
        const physical = outcome.c.reduce((s, f) => s + f.lines, 0);
        if (physical !== yielded + rejects.length) {
          throw new TributaryError(`counts do not reconcile: the files hold ${physical} lines but the reader produced ${yielded + rejects.length} records; nothing was committed`, {
            place: { file: files[0] },
            hint: 'report this with the file: every line of a JSON-lines file should be one record',
          });
        }
        return undefined;
      },
      locate: async (file, records, rejects) =>
        locateRecords({ read: file, known: file, records, rejects, counted: lineCounts?.find((c) => c.file === file), multiLine: undefined, dialect: PLAIN_LINES }),
      async close() {
        await context.engine.run(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}`);
      },
    };
  },
});
