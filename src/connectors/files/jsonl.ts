import type { ColumnInfo } from '../../catalog/index.js';
import { quoteList } from '../../engine/index.js';
import { typeJson } from '../../quality/json.js';
import { declaredColumns, type SourceConnector, type SourceScan } from '../types.js';
import { resolveFiles } from './resolve.js';

/** JSON lines, one object a line. Lines are read as text so that a bad one is quarantined, not fatal. */
export const jsonlConnector: SourceConnector = {
  format: 'jsonl',
  async open(name, config, context): Promise<SourceScan> {
    const { files, bytes, verified } = await resolveFiles(name, config.path, context.baseDir, context.scratchDir, context.date);
    let columns: ColumnInfo[] | undefined = declaredColumns(config);
    if (!columns) {
      columns = await context.engine.describe(
        `SELECT * FROM read_json(${quoteList(files)}, format = 'newline_delimited', sample_size = -1, union_by_name = true)`,
      );
      context.log(`source '${name}': no columns declared; inferred from every line of ${files.length} file(s): ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
    }
    const lines = (located: boolean) =>
      `(SELECT ${located ? 'filename AS __file, row_number() OVER (PARTITION BY filename) AS __record, ' : ''}__line
        FROM read_csv(${quoteList(files)}, columns = {'__line': 'VARCHAR'}, header = false, delim = '\x01', quote = '', escape = '',
                      auto_detect = false, max_line_size = ${config.csv?.maxLineBytes ?? 16_000_000}${located ? ', parallel = false' : ''}))`;
    const declared = Object.fromEntries(columns.map((c) => [c.name, c.type]));
    const select = (located: boolean) => typeJson(lines(located), '__line', declared, located ? ['__file', '__record'] : []);
    return {
      files,
      bytes,
      verified,
      columns,
      hasParseError: true,
      relation: ({ located } = {}) => select(Boolean(located)),
      rejects: async () => [],
      lineOf: (_file, record) => record,
      close: async () => undefined,
    };
  },
};
