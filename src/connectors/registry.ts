import type { SourceConfig } from '../core/config.js';
import { csvConnector } from './files/csv.js';
import { jsonlConnector } from './files/jsonl.js';
import { parquetConnector } from './files/parquet.js';
import type { SourceConnector } from './types.js';

/** Every source connector, by the `format` a source declares. New connectors register here. */
export const sourceConnectors: Record<SourceConfig['format'], SourceConnector> = {
  csv: csvConnector,
  jsonl: jsonlConnector,
  parquet: parquetConnector,
};
