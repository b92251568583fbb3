import { randomUUID } from 'node:crypto';
import type avro from 'avsc';
import type { ColumnInfo, LiveFile, Metastore, TableExport, TableExportFormat } from '../catalog/index.js';
import { TributaryError } from '../core/errors.js';
import type { LakeStorage } from './storage.js';

/**
 * A lake table as other engines read it without Tributary: the exact files one snapshot commits,
 * written beside the table as Iceberg v2 metadata (metadata JSON, manifest list, manifest) or as
 * Hive symlink manifests (one text file per partition listing its files). A folder of Parquet
 * alone would not do: it also holds files no commit references (a dead run's, retired ones kept
 * for readers in other processes), and a reader listing it would read those too.
 *
 * Tributary's files carry no partition columns (their values are in the folder names) and no
 * Parquet field ids. Iceberg allows both: a reader takes an identity partition's values from the
 * manifest, and maps columns by name through `schema.name-mapping.default`, as for a Hive table
 * migrated in place.
 *
 * What is written is never overwritten (every name is new) and never changes the catalog. The
 * export names files where they are now: a later commit that retires them moves them into the
 * lake's history (readers of the export then fail on a missing file rather than read other rows),
 * so export again after a commit, or keep files in place (a shared catalog does).
 */

export interface ExportOptions {
  format: TableExportFormat;
  /** The snapshot to export; the table's latest by default. */
  snapshot?: number;
  /** Where the other engine finds the table's folder, when not where Tributary writes it (a copy of a local lake on S3). */
  location?: string;
}

/** Writes what another engine needs to read `table` at a snapshot, and says where it is. */
export async function exportTable(metastore: Metastore, storage: LakeStorage, table: string, options: ExportOptions): Promise<TableExport> {
  const info = await metastore.table(table);
  if (!info) throw new TributaryError(`there is no table '${table}' in the catalog`, { hint: 'tributary catalog lists them' });
  if (info.kind !== 'lake') {
    throw new TributaryError(`'${table}' is a ${info.kind}, not a lake table: only lake tables are files other engines can read`, {
      hint: 'export a lake table (tributary catalog lists the kinds)',
    });
  }
  const snapshotId = options.snapshot ?? info.updated_snapshot ?? 0;
  const snapshot = await metastore.snapshot(snapshotId);
  if (!snapshot) throw new TributaryError(`there is no snapshot ${snapshotId} in the catalog`, { hint: '`tributary snapshots` lists them' });
  const { files, missing } = await metastore.snapshotFiles(table, snapshotId);
  if (missing) {
    throw new TributaryError(`snapshot ${snapshotId} of '${table}' is no longer kept (${missing} of its files left history after lakeHistoryHours)`, {
      hint: 'export a later snapshot (`tributary snapshots` lists them)',
    });
  }
  if (!files.length) {
    throw new TributaryError(`'${table}' had no committed files at snapshot ${snapshotId}`, { hint: 'export a snapshot that wrote the table (`tributary snapshots` lists what each changed)' });
  }
  // A table's folder is the lake key named like the table (the lake's layout).
  const place = placeFor(storage, table, options.location);
  const base = { table, snapshot: snapshotId, columns: info.columns, partitionBy: info.partition_by, location: place(table) };
  if (options.format === 'symlink') return { ...base, format: 'symlink', ...(await writeSymlinks(storage, table, snapshotId, files, info.partition_by, place)) };
  const metadataFile = await writeIceberg(storage, table, { id: snapshotId, committedMs: snapshot.committed_ms }, files, info.columns, info.partition_by, place);
  return { ...base, format: 'iceberg', metadataFile };
}

/**
 * Where the other engine finds a lake key. With a `location` for the table's folder, only keys in
 * that folder can be placed: a file of an earlier snapshot may be in the lake's history, elsewhere.
 */
function placeFor(storage: LakeStorage, tableKey: string, location: string | undefined): (key: string) => string {
  if (location === undefined) return (key) => storage.readPath(key);
  const root = location.replace(/\/+$/, '');
  return (key) => {
    if (key === tableKey) return root;
    if (key.startsWith(`${tableKey}/`)) return `${root}/${key.slice(tableKey.length + 1)}`;
    throw new TributaryError(`the file ${key} of this snapshot is in the lake's history, outside the table's folder, so --location cannot say where it is`, {
      hint: 'export without --location from a lake the other engine reads itself (e.g. the lake on S3), or export the current snapshot',
    });
  };
}

/** One text file per partition listing that partition's files (Hive's SymlinkTextInputFormat). */
async function writeSymlinks(
  storage: LakeStorage,
  tableKey: string,
  snapshot: number,
  files: readonly LiveFile[],
  partitionBy: readonly string[],
  place: (key: string) => string,
): Promise<{ symlinkLocation: string; partitions: { values: Record<string, string | null>; location: string }[] }> {
  const root = `${tableKey}/_symlink/${snapshot}-${randomUUID()}`;
  const groups = new Map<string, { values: Record<string, string | null>; paths: string[] }>();
  for (const file of files) {
    // The folder's name only has to be unique: each partition's location is given explicitly.
    const folder = partitionBy.map((p) => `${p}=${encodeURIComponent(file.partition[p] ?? '__HIVE_DEFAULT_PARTITION__')}`).join('/');
    const group = groups.get(folder) ?? { values: file.partition, paths: [] };
    group.paths.push(place(file.path));
    groups.set(folder, group);
  }
  const partitions: { values: Record<string, string | null>; location: string }[] = [];
  for (const [folder, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const key = folder ? `${root}/${folder}` : root;
    await storage.writeNew(`${key}/manifest`, Buffer.from(group.paths.map((p) => `${p}\n`).join('')));
    partitions.push({ values: group.values, location: place(key) });
  }
  return { symlinkLocation: place(root), partitions };
}

// ── Iceberg ──────────────────────────────────────────────────────────────────────────────────

/** DuckDB's types as Iceberg's, for the types Tributary's Parquet files hold as Iceberg expects them. */
function icebergType(column: ColumnInfo): string {
  const t = column.type.toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return `decimal(${decimal[1]}, ${decimal[2]})`;
  const map: Record<string, string> = {
    BOOLEAN: 'boolean', TINYINT: 'int', SMALLINT: 'int', INTEGER: 'int', BIGINT: 'long', FLOAT: 'float', DOUBLE: 'double',
    DATE: 'date', TIME: 'time', TIMESTAMP: 'timestamp', 'TIMESTAMP WITH TIME ZONE': 'timestamptz', VARCHAR: 'string', UUID: 'uuid', BLOB: 'binary',
  };
  const found = map[t];
  if (!found) throw new TributaryError(`column ${column.name} is ${column.type}, which has no Iceberg type`, { hint: 'cast the column in its model to a common type (BIGINT, DOUBLE, DECIMAL, VARCHAR, DATE, TIMESTAMP…)' });
  return found;
}

/** An identity partition's value as its Avro field holds it, and as a manifest-list bound's bytes (Iceberg's single-value serialisation). */
function partitionValue(column: ColumnInfo, type: string, text: string): { avro: number | string | boolean; bound: Buffer } {
  const int = (n: number) => Buffer.from(new Int32Array([n]).buffer);
  switch (type) {
    case 'date': {
      const days = Date.parse(`${text}T00:00:00Z`) / 86_400_000;
      return { avro: days, bound: int(days) };
    }
    case 'int':
      return { avro: Number(text), bound: int(Number(text)) };
    case 'long':
      return { avro: Number(text), bound: Buffer.from(new BigInt64Array([BigInt(text)]).buffer) };
    case 'string':
      return { avro: text, bound: Buffer.from(text) };
    case 'boolean':
      return { avro: text === 'true', bound: Buffer.from([text === 'true' ? 1 : 0]) };
    default:
      throw unsupportedPartition(column);
  }
}

function unsupportedPartition(column: ColumnInfo): TributaryError {
  return new TributaryError(`partition column ${column.name} is ${column.type}: an Iceberg export takes DATE, integer, VARCHAR or BOOLEAN partitions`, {
    hint: 'export with --table-format symlink, or partition the model by a DATE, integer or string expression',
  });
}

const AVRO_PARTITION_TYPE: Record<string, unknown> = { date: { type: 'int', logicalType: 'date' }, int: 'int', long: 'long', string: 'string', boolean: 'boolean' };

/** Writes the metadata JSON, manifest list and manifest of one snapshot; returns the metadata file as the other engine finds it. */
async function writeIceberg(
  storage: LakeStorage,
  tableKey: string,
  snapshot: { id: number; committedMs: number },
  files: readonly LiveFile[],
  columns: readonly ColumnInfo[],
  partitionBy: readonly string[],
  place: (key: string) => string,
): Promise<string> {
  const fields = columns.map((c, i) => ({ id: i + 1, name: c.name, required: false, type: icebergType(c) }));
  const schema = { type: 'struct', 'schema-id': 0, fields };
  const parts = partitionBy.map((name, i) => {
    const field = fields.find((f) => f.name === name)!;
    const column = columns.find((c) => c.name === name)!;
    if (!(field.type in AVRO_PARTITION_TYPE)) throw unsupportedPartition(column);
    return { name, type: field.type, column, spec: { name, transform: 'identity', 'source-id': field.id, 'field-id': 1000 + i } };
  });
  const specFields = parts.map((p) => p.spec);

  const id = randomUUID();
  const metadata = `${tableKey}/metadata`;
  const manifestKey = `${metadata}/${id}-m0.avro`;
  const listKey = `${metadata}/snap-${snapshot.id}-1-${id}.avro`;
  const metadataKey = `${metadata}/${String(snapshot.id).padStart(5, '0')}-${id}.metadata.json`;

  const entries = files.map((file) => ({
    status: 1, // added
    snapshot_id: snapshot.id,
    sequence_number: 1,
    file_sequence_number: 1,
    data_file: {
      content: 0, // data
      file_path: place(file.path),
      file_format: 'PARQUET',
      partition: Object.fromEntries(parts.map((p) => [p.name, file.partition[p.name] == null ? null : partitionValue(p.column, p.type, file.partition[p.name]!).avro])),
      record_count: file.rows,
      file_size_in_bytes: file.bytes,
    },
  }));
  // Per partition field, the bounds of its values: readers skip the manifest for a filter outside them.
  const summaries = parts.map((p) => {
    const values = [...new Set(files.map((f) => f.partition[p.name] ?? null))];
    const present = values.filter((v): v is string => v !== null).sort((a, b) => compareValues(p.type, a, b));
    const bound = (text: string | undefined) => (text === undefined ? null : partitionValue(p.column, p.type, text).bound);
    return { contains_null: values.includes(null), contains_nan: false, lower_bound: bound(present[0]), upper_bound: bound(present.at(-1)) };
  });
  const manifest = await avroFile(manifestSchema(parts), entries, {
    schema: JSON.stringify(schema),
    'schema-id': '0',
    'partition-spec': JSON.stringify(specFields),
    'partition-spec-id': '0',
    'format-version': '2',
    content: 'data',
  });
  await storage.writeNew(manifestKey, manifest);

  const rows = files.reduce((sum, f) => sum + f.rows, 0);
  const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
  const list = await avroFile(
    MANIFEST_LIST_SCHEMA,
    [
      {
        manifest_path: place(manifestKey),
        manifest_length: manifest.length,
        partition_spec_id: 0,
        content: 0,
        sequence_number: 1,
        min_sequence_number: 1,
        added_snapshot_id: snapshot.id,
        added_files_count: files.length,
        existing_files_count: 0,
        deleted_files_count: 0,
        added_rows_count: rows,
        existing_rows_count: 0,
        deleted_rows_count: 0,
        partitions: summaries,
      },
    ],
    { 'snapshot-id': String(snapshot.id), 'parent-snapshot-id': 'null', 'sequence-number': '1', 'format-version': '2' },
  );
  await storage.writeNew(listKey, list);

  const document = {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: place(tableKey),
    'last-sequence-number': 1,
    'last-updated-ms': snapshot.committedMs,
    'last-column-id': fields.length,
    'current-schema-id': 0,
    schemas: [schema],
    'default-spec-id': 0,
    'partition-specs': [{ 'spec-id': 0, fields: specFields }],
    'last-partition-id': specFields.length ? 999 + specFields.length : 999,
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: {
      // The files carry no field ids: readers map their columns by name.
      'schema.name-mapping.default': JSON.stringify(fields.map((f) => ({ 'field-id': f.id, names: [f.name] }))),
      'write.format.default': 'parquet',
      'tributary.snapshot': String(snapshot.id),
    },
    'current-snapshot-id': snapshot.id,
    refs: { main: { 'snapshot-id': snapshot.id, type: 'branch' } },
    snapshots: [
      {
        'snapshot-id': snapshot.id,
        'sequence-number': 1,
        'timestamp-ms': snapshot.committedMs,
        'manifest-list': place(listKey),
        'schema-id': 0,
        summary: {
          operation: 'append',
          'added-data-files': String(files.length),
          'added-records': String(rows),
          'added-files-size': String(bytes),
          'total-data-files': String(files.length),
          'total-records': String(rows),
          'total-files-size': String(bytes),
          'total-delete-files': '0',
          'total-position-deletes': '0',
          'total-equality-deletes': '0',
        },
      },
    ],
    'snapshot-log': [{ 'timestamp-ms': snapshot.committedMs, 'snapshot-id': snapshot.id }],
    'metadata-log': [],
  };
  await storage.writeNew(metadataKey, Buffer.from(JSON.stringify(document, null, 2)));
  return place(metadataKey);
}

function compareValues(type: string, a: string, b: string): number {
  if (type === 'int' || type === 'long') return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The manifest entry of format v2 (Iceberg's spec, "Manifests"), field ids as the spec numbers them. */
function manifestSchema(parts: readonly { name: string; type: string }[]): object {
  const optional = (name: string, type: unknown, id: number) => ({ name, type: ['null', type], default: null, 'field-id': id });
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      optional('snapshot_id', 'long', 1),
      optional('sequence_number', 'long', 3),
      optional('file_sequence_number', 'long', 4),
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            {
              name: 'partition',
              'field-id': 102,
              type: { type: 'record', name: 'r102', fields: parts.map((p, i) => optional(p.name, AVRO_PARTITION_TYPE[p.type], 1000 + i)) },
            },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
          ],
        },
      },
    ],
  };
}

/** The manifest file entry of format v2 (Iceberg's spec, "Manifest Lists"). */
const MANIFEST_LIST_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      'field-id': 507,
      default: null,
      type: [
        'null',
        {
          type: 'array',
          'element-id': 508,
          items: {
            type: 'record',
            name: 'r508',
            fields: [
              { name: 'contains_null', type: 'boolean', 'field-id': 509 },
              { name: 'contains_nan', type: ['null', 'boolean'], default: null, 'field-id': 518 },
              { name: 'lower_bound', type: ['null', 'bytes'], default: null, 'field-id': 510 },
              { name: 'upper_bound', type: ['null', 'bytes'], default: null, 'field-id': 511 },
            ],
          },
        },
      ],
    },
  ],
};

/** An Avro object container file (what Iceberg's manifests are), its metadata in the header. */
async function avroFile(schema: object, records: readonly unknown[], metadata: Record<string, string>): Promise<Buffer> {
  // avsc takes header metadata, and keeps Iceberg's field-id attributes in the header's schema, though its typings know neither.
  const options = { codec: 'null', metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v)])) };
  // Loaded here: only an export to Iceberg writes Avro.
  const { default: avsc } = await import('avsc');
  const encoder = new avsc.streams.BlockEncoder(schema as avro.Schema, options);
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    encoder.once('end', resolve);
    encoder.once('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}
