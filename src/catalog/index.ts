export { Catalog, diffColumns } from './catalog.js';
export type { TableKind, TableInfo, ColumnInfo, CommittedFile, RunCounts, RunRecord, QuarantineRecord, SchemaDrift, SchemaVersion } from './catalog.js';
export { crawl, type CrawlReport } from './crawl.js';
export { exportDdl, type ExportDialect } from './export.js';
