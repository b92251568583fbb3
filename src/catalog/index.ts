export {
  Metastore,
  CatalogTransaction,
  diffColumns,
  partitionKey,
  capText,
  RAW_KEEP_CHARS,
  REASON_KEEP_CHARS,
  type TableKind,
  type TableInfo,
  type TableRegistration,
  type ColumnInfo,
  type ColumnStats,
  type DataFile,
  type LiveFile,
  type RunStart,
  type RunTrigger,
  type RunCounts,
  type RunPhase,
  type RunRecord,
  type QuarantineRow,
  type QuarantineRecord,
  type DeadLetterRecord,
  type SchemaDrift,
  type SchemaVersion,
  type SnapshotInfo,
  type Committed,
  type RetiredFiles,
} from './metastore.js';
export { MIGRATIONS, openSchema, type Migration, type MigrateOptions, type OpenedSchema } from './migrations.js';
export { METASTORE_VERSION } from './schema.js';
export { GroupMembership, SharedCatalog } from './shared.js';
export { WorkQueue, type WorkState, type WorkStatus, type TakenWork } from './work-queue.js';
export { crawl, type CrawlReport } from './crawl.js';
export { exportDdl, type ExportDialect, type TableExport, type TableExportFormat } from './export.js';
export { DuckDBSchedulerStore, type AttemptRecord } from './scheduler-store.js';
export { NotLeading } from './scheduler-store.js';
export { SchedulerLease, fenceStatement, isFenced, FENCED, type Leadership, type LeaderInfo } from './scheduler-lease.js';
