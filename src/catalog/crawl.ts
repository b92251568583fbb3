import { statSync } from 'node:fs';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { TributaryError } from '../core/errors.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent, quoteList } from '../engine/index.js';
import { diffColumns, type ColumnInfo, type DataFile, type Metastore, type SchemaDrift } from './metastore.js';

export interface CrawlReport {
  table: string;
  format: 'csv' | 'json' | 'parquet';
  files: number;
  rows: number;
  columns: ColumnInfo[];
  partitionBy: string[];
  partitions: number;
  /** Differences between consecutive drops (partitions), oldest first. */
  dropDrift: { partition: string; drift: SchemaDrift }[];
  /** Differences from the schema the previous crawl registered. */
  sinceLastCrawl?: SchemaDrift;
}

function formatOf(file: string): CrawlReport['format'] {
  if (/\.parquet$/i.test(file)) return 'parquet';
  if (/\.(jsonl|ndjson|json)(\.gz)?$/i.test(file)) return 'json';
  return 'csv';
}

function reader(format: CrawlReport['format'], files: string[], hive: boolean): string {
  const list = quoteList(files);
  switch (format) {
    case 'parquet':
      return `read_parquet(${list}, union_by_name = true, hive_partitioning = ${hive})`;
    case 'json':
      return `read_json(${list}, format = 'newline_delimited', union_by_name = true, sample_size = -1, hive_partitioning = ${hive})`;
    case 'csv':
      return `read_csv(${list}, union_by_name = true, sample_size = -1, hive_partitioning = ${hive})`;
  }
}

/**
 * The Glue crawler's job: infer the schema of files dropped under a folder (reading every row, so
 * a late odd value cannot mistype a column), register them as a table with their Hive-style
 * partitions, and report how the schema drifted from drop to drop and since the last crawl.
 */
export async function crawl(engine: Engine, metastore: Metastore, root: string, table: string): Promise<CrawlReport> {
  const base = path.resolve(root);
  const pattern = statSafe(base)?.isFile() ? base : `${base}/**/*.{csv,tsv,txt,csv.gz,jsonl,ndjson,json,jsonl.gz,parquet}`;
  const files = (await glob(pattern, { absolute: true, onlyFiles: true })).sort();
  if (!files.length) {
    throw new TributaryError(`nothing to crawl: no data files under ${base}`, {
      hint: 'point crawl at a folder of .csv, .jsonl or .parquet files (optionally in key=value folders)',
    });
  }
  const format = formatOf(files[0]!);
  const mixed = files.find((f) => formatOf(f) !== format);
  if (mixed) {
    throw new TributaryError(`the folder mixes formats (${format} and ${formatOf(mixed)})`, {
      place: { file: mixed },
      hint: 'crawl each format into its own table',
    });
  }
  const partitionOf = (file: string) =>
    Object.fromEntries(
      path
        .relative(statSafe(base)?.isFile() ? path.dirname(base) : base, path.dirname(file))
        .split(path.sep)
        .filter((s) => s.includes('='))
        .map((s) => [s.slice(0, s.indexOf('=')), decodeURIComponent(s.slice(s.indexOf('=') + 1))]),
    ) as Record<string, string>;
  const partitionBy = Object.keys(partitionOf(files[0]!));
  const hive = partitionBy.length > 0;

  // One schema per drop, to see drift as it arrived.
  const drops = new Map<string, string[]>();
  for (const f of files) {
    const key = JSON.stringify(partitionOf(f));
    drops.set(key, [...(drops.get(key) ?? []), f]);
  }
  const dropDrift: CrawlReport['dropDrift'] = [];
  let previous: ColumnInfo[] | undefined;
  const committed: DataFile[] = [];
  for (const [key, dropFiles] of drops) {
    const columns = (await engine.describe(`SELECT * FROM ${reader(format, dropFiles, false)}`)).map((c) => ({ name: c.name, type: c.type }));
    if (previous) {
      const drift = diffColumns(previous, columns);
      if (!drift.unchanged) dropDrift.push({ partition: Object.entries(JSON.parse(key) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join('/') || '(root)', drift });
    }
    previous = columns;
    for (const file of dropFiles) {
      const rows = Number(await engine.scalar<bigint>(`SELECT count(*) FROM ${reader(format, [file], false)}`));
      committed.push({ path: file, partition: partitionOf(file), rows, bytes: statSync(file).size });
    }
  }
  const all = `SELECT * FROM ${reader(format, files, hive)}`;
  const columns = await engine.describe(all);
  let sinceLastCrawl: SchemaDrift | undefined;
  await metastore.commit(engine, { operation: 'crawl', summary: `${files.length} file(s) under ${base}` }, async (tx) => {
    const previous = await metastore.columns(table);
    sinceLastCrawl = previous.length ? diffColumns(previous, columns) : undefined;
    await tx.registerTable({ name: table, kind: 'external', location: base, format, partitionBy, columns });
    await tx.retireFiles(table, 'all');
    await tx.addFiles(table, committed, null);
    await tx.run(`CREATE OR REPLACE VIEW main.${quoteIdent(table)} AS ${all}`);
  });
  return {
    table,
    format,
    files: files.length,
    rows: committed.reduce((s, f) => s + f.rows, 0),
    columns,
    partitionBy,
    partitions: drops.size,
    dropDrift,
    sinceLastCrawl,
  };
}

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}
