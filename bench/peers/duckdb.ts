/**
 * Peer "duckdb (bare)": the clickstream batch job with @duckdb/node-api alone, no Tributary
 * code. The SQL is the example project's own files, with `{{ source() }}` and `{{ ref() }}`
 * replaced by the CSV scan, the lake's Parquet files and the view name.
 *
 *   node --import tsx bench/peers/duckdb.ts --input FILE.csv --out DIR --spec spec.json
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { clickstreamSourceSql, parsePeerArgs, type ClickstreamSpec, type PeerKpis } from './spec.js';

const lit = (value: string) => `'${value.replace(/'/g, "''")}'`;

const args = parsePeerArgs(process.argv.slice(2));
const spec = JSON.parse(readFileSync(args.spec, 'utf8')) as ClickstreamSpec;
const out = resolve(args.out);
const lake = join(out, 'lake', 'events');
mkdirSync(join(out, 'lake'), { recursive: true });

const instance = await DuckDBInstance.create(join(out, 'warehouse.duckdb'), {
  memory_limit: spec.memoryLimit,
  temp_directory: join(out, 'tmp'),
});
const db = await instance.connect();
await db.run('SET preserve_insertion_order = false');
await db.run(readFileSync(spec.macrosFile, 'utf8'));

const source = clickstreamSourceSql(spec, resolve(args.input));
const eventsScan = `read_parquet(${lit(join(lake, '*', '*.parquet'))}, hive_partitioning = true)`;

const model = (name: string) =>
  readFileSync(join(spec.modelsDir, `${name}.sql`), 'utf8')
    .replace(/\{\{\s*source\(\s*'clickstream'\s*\)\s*\}\}/g, source)
    .replace(/\{\{\s*ref\(\s*'(\w+)'\s*\)\s*\}\}/g, (_, ref: string) => (ref === 'events' ? eventsScan : ref));

const step = async (label: string, sql: string) => {
  const started = performance.now();
  await db.run(sql);
  console.error(`[duckdb] ${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
};

await step('events → lake', `COPY (SELECT *, CAST(event_time AS DATE) AS dt FROM (\n${model('events')}\n)) TO ${lit(lake)} (FORMAT parquet, COMPRESSION ${spec.compression}, PARQUET_VERSION ${spec.parquetVersion.toUpperCase()}, PARTITION_BY (dt))`);
await step('operations view', `CREATE VIEW operations AS ${model('operations')}`);
// In dependency order: kpis adds up by_department_brand.
for (const table of ['operations_per_minute', 'by_department_brand', 'by_product', 'kpis']) {
  await step(table, `CREATE TABLE ${table} AS ${model(table)}`);
}

const one = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJson()[0]!;
const k = await one('SELECT * FROM kpis');
const counts = await one(
  'SELECT (SELECT count(*) FROM operations_per_minute) AS m, (SELECT count(*) FROM by_department_brand) AS d, (SELECT count(*) FROM by_product) AS p',
);
const kpis: PeerKpis = {
  operations: Number(k.operations),
  revenue: Number(k.revenue),
  purchases: Number(k.purchases),
  views: Number(k.views),
  carts: Number(k.carts),
  minuteRows: Number(counts.m),
  departmentBrandRows: Number(counts.d),
  productRows: Number(counts.p),
};
writeFileSync(join(out, 'kpis.json'), `${JSON.stringify(kpis, null, 2)}\n`);
db.closeSync();
instance.closeSync();
