import { TributaryError } from '../core/errors.js';
import type { ColumnInfo, TableInfo } from './metastore.js';

export type ExportDialect = 'athena' | 'spark' | 'trino';

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

/**
 * The DDL that registers a lake table in another engine's metastore (Athena, Spark, Trino), so
 * they read the same Hive-partitioned Parquet. Partitions are then discovered with MSCK REPAIR
 * TABLE (Athena, Spark) or system.sync_partition_metadata (Trino).
 */
export function exportDdl(table: TableInfo & { columns: ColumnInfo[] }, dialect: ExportDialect, location?: string): string {
  if (table.kind !== 'lake') {
    throw new TributaryError(`'${table.name}' is a ${table.kind}, not a lake table: only lake tables are files other engines can read`, {
      hint: 'export a lake table (tributary catalog lists the kinds)',
    });
  }
  const where = location ?? table.location ?? '';
  const data = table.columns.filter((c) => !table.partition_by.includes(c.name));
  const parts = table.columns.filter((c) => table.partition_by.includes(c.name));
  if (dialect === 'trino') {
    const columns = table.columns.map((c) => `  ${c.name} ${hiveType(c.type).replace('string', 'varchar').replace(/^int$/, 'integer')}`);
    return [
      `CREATE TABLE ${table.name} (`,
      columns.join(',\n'),
      `) WITH (`,
      `  format = 'PARQUET',`,
      `  external_location = '${where}'${parts.length ? `,\n  partitioned_by = ARRAY[${parts.map((p) => `'${p.name}'`).join(', ')}]` : ''}`,
      `);`,
      ...(parts.length ? [`CALL system.sync_partition_metadata(current_schema, '${table.name}', 'ADD');`] : []),
    ].join('\n');
  }
  return [
    `CREATE EXTERNAL TABLE ${dialect === 'athena' ? `\`${table.name}\`` : table.name} (`,
    data.map((c) => `  \`${c.name}\` ${hiveType(c.type)}`).join(',\n'),
    ')',
    ...(parts.length ? [`PARTITIONED BY (${parts.map((c) => `\`${c.name}\` ${hiveType(c.type)}`).join(', ')})`] : []),
    'STORED AS PARQUET',
    `LOCATION '${where}';`,
    ...(parts.length ? [`MSCK REPAIR TABLE ${dialect === 'athena' ? `\`${table.name}\`` : table.name};`] : []),
  ].join('\n');
}
