import { quoteList } from '../../engine/index.js';
import { declaredColumns, type SourceConnector, type SourceScan } from '../types.js';
import { resolveFiles } from './resolve.js';

export const parquetConnector: SourceConnector = {
  format: 'parquet',
  async open(name, config, context): Promise<SourceScan> {
    const { files, bytes, verified } = await resolveFiles(name, config.path, context.baseDir, context.scratchDir, context.date);
    const read = `read_parquet(${quoteList(files)}, union_by_name = true)`;
    const stored = await context.engine.describe(`SELECT * FROM ${read}`);
    const columns = declaredColumns(config) ?? stored;
    // A declared schema is enforced by casting; a value that does not fit fails the load loudly.
    const projection = config.columns ? columns.map((c) => `CAST("${c.name}" AS ${c.type}) AS "${c.name}"`).join(', ') : '*';
    return {
      files,
      bytes,
      verified,
      columns,
      hasParseError: false,
      relation: ({ located } = {}) =>
        located
          ? `(SELECT filename AS __file, file_row_number + 1 AS __record, ${projection} FROM ${read})`
          : `(SELECT ${projection} FROM ${read})`,
      rejects: async () => [],
      lineOf: (_file, record) => record,
      close: async () => undefined,
    };
  },
};
