/**
 * The metastore's tables, in schema `tributary` of the project's warehouse. Shaped after DuckLake's
 * catalog under Tributary's own names: every commit is a snapshot with a monotonic id and a list
 * of changes; a data file records the snapshot that added it and the one that removed it, its
 * partition values and its column statistics, so any snapshot's table is a query away.
 *
 * The state records its schema version in `tributary.metastore` (one row). A state created by this
 * release is at METASTORE_VERSION; an older one is brought here on open by the steps in
 * migrations.ts, which `tributary.migrations` records. Changing the DDL below means a new version:
 * bump METASTORE_VERSION, add the step from the previous one and the new version's shape below.
 *
 * 1: the first catalog (tributary.files, no version row); no migration reads it.
 * 2: the metastore (snapshots, data files, runs, …), to the release at commit 3ce1686.
 * 3: tributary.migrations, recording each migration with the release that ran it and when.
 * 4: data_files.schema_version, the table's schema version a file was written with.
 * 5: tables.definition (a view's SQL, which every process derives its view from), runs.host
 *    (with pid, which process on which machine runs it: the catalog may be shared), and no
 *    default for tables.partition_by (PostgreSQL, where a shared catalog lives, takes no `[]`).
 * 6: model_batches, the batches of a microbatch model that are processed (committed with its rows).
 * 7: runs.timing, where a run's time went, phase by phase (a load's read and write, its line count…).
 */
export const METASTORE_VERSION = 7;

export const METASTORE_DDL = `
CREATE SCHEMA IF NOT EXISTS tributary;
CREATE TABLE IF NOT EXISTS tributary.metastore (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tributary.migrations (
  version INTEGER NOT NULL, from_version INTEGER, description VARCHAR NOT NULL, release VARCHAR,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tributary.snapshots (
  snapshot_id BIGINT PRIMARY KEY, committed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  run_id VARCHAR, operation VARCHAR NOT NULL, summary VARCHAR);
CREATE TABLE IF NOT EXISTS tributary.snapshot_changes (
  snapshot_id BIGINT NOT NULL, table_name VARCHAR NOT NULL, change VARCHAR NOT NULL, detail VARCHAR);
CREATE TABLE IF NOT EXISTS tributary.tables (
  name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, store VARCHAR, location VARCHAR, format VARCHAR,
  partition_by VARCHAR[] NOT NULL, time_column VARCHAR, lookup_key VARCHAR, description VARCHAR,
  created_snapshot BIGINT, updated_snapshot BIGINT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), definition VARCHAR);
CREATE TABLE IF NOT EXISTS tributary.columns (
  table_name VARCHAR NOT NULL, position INTEGER NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
  PRIMARY KEY (table_name, position));
CREATE TABLE IF NOT EXISTS tributary.schema_versions (
  table_name VARCHAR NOT NULL, version INTEGER NOT NULL, columns JSON NOT NULL, snapshot_id BIGINT,
  detected_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (table_name, version));
CREATE TABLE IF NOT EXISTS tributary.data_files (
  file_id BIGINT PRIMARY KEY, table_name VARCHAR NOT NULL, path VARCHAR NOT NULL, rows BIGINT NOT NULL,
  bytes BIGINT NOT NULL, run_id VARCHAR, begin_snapshot BIGINT NOT NULL, end_snapshot BIGINT,
  staged_path VARCHAR, history_path VARCHAR, schema_version INTEGER);
CREATE TABLE IF NOT EXISTS tributary.file_partition_values (
  file_id BIGINT NOT NULL, position INTEGER NOT NULL, key VARCHAR NOT NULL, value VARCHAR);
CREATE TABLE IF NOT EXISTS tributary.file_column_stats (
  file_id BIGINT NOT NULL, column_name VARCHAR NOT NULL, min_value VARCHAR, max_value VARCHAR, null_count BIGINT);
CREATE TABLE IF NOT EXISTS tributary.runs (
  run_id VARCHAR PRIMARY KEY, run_group VARCHAR NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
  trigger VARCHAR NOT NULL, kind VARCHAR NOT NULL, target VARCHAR NOT NULL, status VARCHAR NOT NULL,
  params VARCHAR, pid INTEGER, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ,
  read BIGINT, written BIGINT NOT NULL DEFAULT 0, quarantined BIGINT NOT NULL DEFAULT 0,
  error VARCHAR, snapshot_id BIGINT, host VARCHAR, timing VARCHAR);
CREATE TABLE IF NOT EXISTS tributary.lineage (
  model VARCHAR NOT NULL, upstream VARCHAR NOT NULL, upstream_kind VARCHAR NOT NULL,
  PRIMARY KEY (model, upstream));
CREATE TABLE IF NOT EXISTS tributary.quarantine (
  run_id VARCHAR NOT NULL, model VARCHAR NOT NULL, source VARCHAR NOT NULL, file VARCHAR, line BIGINT, record BIGINT,
  column_name VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR, raw_bytes BIGINT,
  quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tributary.dead_letters (
  origin VARCHAR NOT NULL, partition INTEGER, "offset" BIGINT, reason VARCHAR NOT NULL, raw VARCHAR,
  raw_bytes BIGINT, received_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tributary.stream_offsets (
  job VARCHAR NOT NULL, sink VARCHAR NOT NULL, partition INTEGER NOT NULL, next_offset BIGINT NOT NULL,
  PRIMARY KEY (job, sink, partition));
CREATE TABLE IF NOT EXISTS tributary.stream_state (
  job VARCHAR NOT NULL, sink VARCHAR NOT NULL, key VARCHAR NOT NULL, value DOUBLE,
  PRIMARY KEY (job, sink, key));
CREATE TABLE IF NOT EXISTS tributary.model_batches (
  model VARCHAR NOT NULL, batch_start VARCHAR NOT NULL, batch_end VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
  processed_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (model, batch_start));
`;

/** Tables of the catalog before the metastore (schema version 1), whose state no migration reads. */
export const LEGACY_TABLES = ['files'];

/**
 * The tables and columns each schema version has in schema `tributary`, as far as opening a state
 * relies on them: a state without a version row (one whose creator stopped between creating the
 * tables and recording the version) is identified by them, and a state is checked against its
 * version's before anything reads it. Extra tables and columns are allowed. The scheduler's
 * tables (job_state, job_run_log, task_instance_log, task_attempts) are created by its store
 * when first opened, so they are not required; a migration that changes them must allow for
 * their absence.
 */
const SHAPE_V2: Readonly<Record<string, readonly string[]>> = {
  metastore: ['version'],
  snapshots: ['snapshot_id', 'committed_at', 'run_id', 'operation', 'summary'],
  snapshot_changes: ['snapshot_id', 'table_name', 'change', 'detail'],
  tables: [
    'name', 'kind', 'store', 'location', 'format', 'partition_by', 'time_column', 'lookup_key', 'description',
    'created_snapshot', 'updated_snapshot', 'created_at', 'updated_at',
  ],
  columns: ['table_name', 'position', 'name', 'type'],
  schema_versions: ['table_name', 'version', 'columns', 'snapshot_id', 'detected_at'],
  data_files: ['file_id', 'table_name', 'path', 'rows', 'bytes', 'run_id', 'begin_snapshot', 'end_snapshot', 'staged_path', 'history_path'],
  file_partition_values: ['file_id', 'position', 'key', 'value'],
  file_column_stats: ['file_id', 'column_name', 'min_value', 'max_value', 'null_count'],
  runs: [
    'run_id', 'run_group', 'attempt', 'trigger', 'kind', 'target', 'status', 'params', 'pid', 'started_at', 'finished_at',
    'read', 'written', 'quarantined', 'error', 'snapshot_id',
  ],
  lineage: ['model', 'upstream', 'upstream_kind'],
  quarantine: ['run_id', 'model', 'source', 'file', 'line', 'record', 'column_name', 'reason', 'raw', 'raw_bytes', 'quarantined_at'],
  dead_letters: ['origin', 'partition', 'offset', 'reason', 'raw', 'raw_bytes', 'received_at'],
  stream_offsets: ['job', 'sink', 'partition', 'next_offset'],
  stream_state: ['job', 'sink', 'key', 'value'],
};

const SHAPE_V3 = { ...SHAPE_V2, migrations: ['version', 'from_version', 'description', 'release', 'applied_at'] };
const SHAPE_V4 = { ...SHAPE_V3, data_files: [...SHAPE_V2.data_files!, 'schema_version'] };
const SHAPE_V5 = { ...SHAPE_V4, tables: [...SHAPE_V2.tables!, 'definition'], runs: [...SHAPE_V2.runs!, 'host'] };

const SHAPE_V6 = { ...SHAPE_V5, model_batches: ['model', 'batch_start', 'batch_end', 'run_id', 'processed_at'] };

export const METASTORE_SHAPES: Readonly<Record<number, Readonly<Record<string, readonly string[]>>>> = {
  2: SHAPE_V2,
  3: SHAPE_V3,
  4: SHAPE_V4,
  5: SHAPE_V5,
  6: SHAPE_V6,
  7: { ...SHAPE_V6, runs: [...SHAPE_V6.runs!, 'timing'] },
};
