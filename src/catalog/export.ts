import { TributaryError } from '../core/errors.js';
import { shellQuoted } from '../core/shell.js';
import type { ColumnInfo } from './metastore.js';

export type ExportDialect = 'athena' | 'spark' | 'trino';
export type TableExportFormat = 'iceberg' | 'symlink';

/** What the lake wrote for another engine to read a table at one snapshot (src/lake/export.ts), every location as that engine sees it. */
export type TableExport = {
  table: string;
  snapshot: number;
  columns: ColumnInfo[];
  partitionBy: string[];
  /** The table's folder. */
  location: string;
} & (
  | { format: 'iceberg'; metadataFile: string }
  | { format: 'symlink'; symlinkLocation: string; partitions: { values: Record<string, string | null>; location: string }[] }
);

/** DuckDB types as Hive-metastore engines spell them. */
function hiveType(duck: string): string {
  const t = duck.toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return `decimal(${decimal[1]},${decimal[2]})`;
  const map: Record<string, string> = {
    BIGINT: 'bigint', INTEGER: 'int', SMALLINT: 'smallint', TINYINT: 'tinyint', HUGEINT: 'decimal(38,0)',
    DOUBLE: 'double', FLOAT: 'float', BOOLEAN: 'boolean', DATE: 'date', TIMESTAMP: 'timestamp',
    'TIMESTAMP WITH TIME ZONE': 'timestamp', VARCHAR: 'string', UUID: 'string', BLOB: 'binary',
  };
  const found = map[t];
  if (!found) throw new TributaryError(`no Hive type for DuckDB type ${duck}`, { hint: 'cast the column in its model to a common type' });
  return found;
}

const sqlText = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * The statements that register an exported table in another engine, reading exactly the files of
 * its snapshot. Iceberg: each engine's documented registration of an existing metadata file
 * (Glue's `metadata_location` for Athena, `register_table` for Spark and Trino). Symlink: a Hive
 * table of SymlinkTextInputFormat whose partitions are the folders of manifests, added one by one
 * (a repair would list folders, which is what the export avoids).
 */
export function exportDdl(exported: TableExport, dialect: ExportDialect, options: { database?: string } = {}): string {
  const database = options.database ?? 'default';
  const name = exported.table;
  if (exported.format === 'iceberg') {
    const file = exported.metadataFile;
    if (dialect === 'athena') {
      const input = {
        Name: name,
        TableType: 'EXTERNAL_TABLE',
        Parameters: { table_type: 'ICEBERG', metadata_location: file },
        StorageDescriptor: { Location: exported.location, Columns: exported.columns.map((c) => ({ Name: c.name, Type: hiveType(c.type) })) },
      };
      return [
        `-- Athena reads Iceberg tables of the Glue Data Catalog; Glue registers this one by its metadata file, as Iceberg's Glue catalog does:`,
        `aws glue create-table --database-name ${shellQuoted(database)} --table-input ${shellQuoted(JSON.stringify(input))}`,
      ].join('\n');
    }
    if (dialect === 'spark') {
      return [
        `-- spark_catalog: the Iceberg catalog of your session (spark.sql.catalog.<name>); Iceberg's procedure registers the metadata file as it is.`,
        `CALL spark_catalog.system.register_table(table => ${sqlText(`${database}.${name}`)}, metadata_file => ${sqlText(file)});`,
      ].join('\n');
    }
    const slash = file.lastIndexOf('/');
    return [
      `-- iceberg: your Iceberg catalog in Trino; the procedure needs iceberg.register-table-procedure.enabled=true.`,
      `CALL iceberg.system.register_table(schema_name => ${sqlText(database)}, table_name => ${sqlText(name)}, table_location => ${sqlText(file.slice(0, slash).replace(/\/metadata$/, ''))}, metadata_file_name => ${sqlText(file.slice(slash + 1))});`,
    ].join('\n');
  }
  const quoted = `\`${database}\`.\`${name}\``;
  const data = exported.columns.filter((c) => !exported.partitionBy.includes(c.name));
  const parts = exported.columns.filter((c) => exported.partitionBy.includes(c.name));
  const statements = [
    [
      `CREATE EXTERNAL TABLE ${quoted} (`,
      data.map((c) => `  \`${c.name}\` ${hiveType(c.type)}`).join(',\n'),
      ')',
      ...(parts.length ? [`PARTITIONED BY (${parts.map((c) => `\`${c.name}\` ${hiveType(c.type)}`).join(', ')})`] : []),
      `ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'`,
      `STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'`,
      `OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'`,
      `LOCATION ${sqlText(exported.symlinkLocation)};`,
    ].join('\n'),
    ...(parts.length
      ? [
          `ALTER TABLE ${quoted} ADD\n${exported.partitions
            .map((p) => `  PARTITION (${parts.map((c) => `\`${c.name}\` = ${sqlText(p.values[c.name] ?? '__HIVE_DEFAULT_PARTITION__')}`).join(', ')}) LOCATION ${sqlText(p.location)}`)
            .join('\n')};`,
        ]
      : []),
  ];
  const preface =
    dialect === 'spark'
      ? ['-- Spark reads the manifests through Hive\'s input format only when it does not convert the table to its own Parquet reader:', 'SET spark.sql.hive.convertMetastoreParquet=false;']
      : dialect === 'trino'
        ? ["-- Trino's Hive connector reads symlink tables but cannot create them: run these in Hive or Spark SQL on the metastore Trino uses."]
        : [];
  return [...preface, ...statements].join('\n');
}
