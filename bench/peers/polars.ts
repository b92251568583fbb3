/**
 * Peer "nodejs-polars": the clickstream batch job with nodejs-polars' lazy, streaming engine.
 * Same rules as the example project: rows that fail the source's declared rules are dropped; department = first segment of category_code, product =
 * last segment, a missing value (null, empty or blank, or the text 'nan' in any case) becomes
 * 'other' (also for brand in operations), revenue = price for purchases else 0. Events go to a
 * Parquet lake partitioned by date (Hive layout dt=YYYY-MM-DD); the four dashboard tables are
 * computed from the lake and written as Parquet.
 *
 * Polars has no partitioned sink in the Node binding, so events are streamed once to a staging
 * Parquet file and then split per day (the file is in time order, so each day reads only its
 * own row groups, found by the staging file's statistics). Every query runs on polars' streaming
 * engine (the in-memory default needs ~15 GB at full size). Parquet is compressed as the project
 * declares its lake's. Prices are Float64: polars' CSV reader has no DECIMAL.
 *
 *   node --import tsx bench/peers/polars.ts --input FILE.csv --out DIR --spec spec.json
 */
import pl from 'nodejs-polars';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsePeerArgs, type ClickstreamSpec, type PeerKpis } from './spec.js';

const args = parsePeerArgs(process.argv.slice(2));
const spec = JSON.parse(readFileSync(args.spec, 'utf8')) as ClickstreamSpec;
const out = resolve(args.out);
const lake = join(out, 'lake', 'events');
const tables = join(out, 'tables');
mkdirSync(lake, { recursive: true });
mkdirSync(tables, { recursive: true });

const started = performance.now();
/** polars' streaming engine for every query: bounded memory, like the other peers. */
const streaming = { engine: 'streaming' } as const;
/**
 * Streams a query into a Parquet file. The binding's sinkParquet (0.24) returns its native lazy
 * frame, whose collectSync takes the engine's name, not the options object its type declares;
 * order, folders and syncing are sink options, not top-level ones.
 */
function sinkParquet(query: pl.LazyDataFrame, file: string, maintainOrder: boolean): void {
  const sink = query.sinkParquet(file, {
    compression: spec.compression,
    statistics: true,
    sinkOptions: { maintainOrder, mkdir: true, syncOnClose: 'none' },
  }) as unknown as { collectSync(engine: 'streaming'): unknown };
  sink.collectSync(streaming.engine);
}
const step = (label: string) => console.error(`[polars] ${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);

/** The example's column types, in polars terms; timestamps are parsed after reading. */
function polarsType(type: string) {
  const t = type.toUpperCase();
  if (t === 'BIGINT') return pl.Int64;
  if (t === 'INTEGER') return pl.Int32;
  if (t === 'DOUBLE' || t.startsWith('DECIMAL')) return pl.Float64;
  return pl.Utf8; // VARCHAR, and TIMESTAMP before strptime
}
const schema = Object.fromEntries(Object.entries(spec.columns).map(([name, type]) => [name, polarsType(type)]));
const timestampColumns = Object.entries(spec.columns)
  .filter(([, type]) => type.toUpperCase() === 'TIMESTAMP')
  .map(([name]) => name);

const isMissing = (e: pl.Expr) => e.isNull().or(e.str.stripChars(' \t').eq(pl.lit(''))).or(e.str.stripChars(' \t').str.toLowerCase().eq(pl.lit('nan')));
const orOther = (e: pl.Expr) => pl.when(isMissing(e)).then(pl.lit('other')).otherwise(e);

/** The source's declared rules (only notNull rejects a null), as one filter. */
const passesRules = spec.rules
  .flatMap((r) => {
    const c = pl.col(r.column);
    return [
      ...(r.notNull ? [c.isNotNull()] : []),
      ...(r.accepted ? [c.isNull().or(c.isIn(r.accepted))] : []),
      ...(r.min !== undefined ? [c.isNull().or(c.gtEq(pl.lit(r.min)))] : []),
      ...(r.max !== undefined ? [c.isNull().or(c.ltEq(pl.lit(r.max)))] : []),
    ];
  })
  .reduce((all, condition) => all.and(condition), pl.lit(true));

const events = pl
  .scanCSV(resolve(args.input), { hasHeader: true, schema, quoteChar: '"' })
  .withColumns(...timestampColumns.map((name) => pl.col(name).str.strptime(pl.Datetime('ms'), spec.timestampFormat)))
  .filter(passesRules)
  .withColumns(
    orOther(pl.col('category_code').str.split('.').lst.first()).alias('department'),
    orOther(pl.col('category_code').str.split('.').lst.last()).alias('product'),
    pl.when(pl.col('event_type').eq(pl.lit('purchase'))).then(pl.col('price')).otherwise(pl.lit(0)).alias('revenue'),
    pl.col('event_time').cast(pl.Date).alias('dt'),
  );

// 1. Events → staging Parquet (streaming), then one Parquet file per day.
const staging = join(out, 'events-staging.parquet');
sinkParquet(events, staging, true);
step('events → staging parquet');
const days = pl.scanParquet(staging).select(pl.col('dt').unique()).collectSync(streaming).getColumn('dt').toArray() as unknown as Date[];
for (const day of days.sort((a, b) => a.getTime() - b.getTime())) {
  const name = day.toISOString().slice(0, 10);
  const dir = join(lake, `dt=${name}`);
  sinkParquet(pl.scanParquet(staging).filter(pl.col('dt').eq(pl.lit(day).cast(pl.Date))).drop('dt'), join(dir, 'part-0.parquet'), false);
}
rmSync(staging);
step(`lake: ${days.length} partitions`);

// 2. operations over the lake, then the four dashboard tables.
const operations = pl
  .scanParquet(join(lake, '*', '*.parquet'))
  .select('event_time', 'event_type', 'category_code', orOther(pl.col('brand')).alias('brand'), 'price', 'department', 'product', 'revenue');
const is = (type: string) => pl.col('event_type').eq(pl.lit(type)).cast(pl.Int64).sum();
const counters = [pl.col('revenue').sum().alias('revenue'), is('purchase').alias('purchases'), is('view').alias('views'), is('cart').alias('carts')];

const kpis = operations.select(pl.len().alias('operations'), ...counters).collectSync(streaming);
kpis.writeParquet(join(tables, 'kpis.parquet'));
step('kpis');
const perMinute = operations
  .groupBy([pl.col('event_time').dt.truncate('1m').alias('minute'), pl.col('event_type')])
  .agg(pl.len().alias('operations'))
  .collectSync(streaming);
perMinute.writeParquet(join(tables, 'operations_per_minute.parquet'));
step('operations_per_minute');
// Per day, department and brand, as models/by_department_brand.sql.
const byDepartmentBrand = operations
  .groupBy([pl.col('event_time').cast(pl.Date).alias('dt'), pl.col('department'), pl.col('brand')])
  .agg(...counters)
  .collectSync(streaming);
byDepartmentBrand.writeParquet(join(tables, 'by_department_brand.parquet'));
step('by_department_brand');
const byProduct = operations.groupBy(['product']).agg(...counters).collectSync(streaming);
byProduct.writeParquet(join(tables, 'by_product.parquet'));
step('by_product');

const k = kpis.toRecords()[0] as Record<string, number | bigint>;
const result: PeerKpis = {
  operations: Number(k.operations),
  revenue: Number(k.revenue),
  purchases: Number(k.purchases),
  views: Number(k.views),
  carts: Number(k.carts),
  minuteRows: perMinute.height,
  departmentBrandRows: byDepartmentBrand.height,
  productRows: byProduct.height,
};
writeFileSync(join(out, 'kpis.json'), `${JSON.stringify(result, null, 2)}\n`);
