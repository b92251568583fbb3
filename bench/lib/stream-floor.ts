import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stamp, type SampleEvent } from '../../examples/ecommerce-clickstream/replayers/sample.js';

/**
 * The engine's floor for the stream job: bare DuckDB (no Tributary) doing the clickstream job's
 * engine work on the same NDJSON micro-batches. Per batch: read it with the declared types, write
 * the raw rows to Parquet partitioned by date and hour, insert the processed rows and merge the
 * four aggregates into a database file. No offsets, no rules, no dead letters, no transaction
 * spanning the sinks: what the job cannot go below. Returns events/s over the batches' SQL (the
 * files are written before the clock starts).
 */
export async function streamEngineFloor(dir: string, sample: SampleEvent[], events: number, batchSize: number, columns: Record<string, string>): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'lake'), { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < events; i += batchSize) {
    const file = join(dir, `batch-${files.length}.ndjson`);
    const lines: string[] = [];
    for (let k = i; k < Math.min(events, i + batchSize); k++) lines.push(stamp(sample[k % sample.length]!));
    writeFileSync(file, `${lines.join('\n')}\n`);
    files.push(file);
  }
  const instance = await DuckDBInstance.create(join(dir, 'serving.duckdb'), { threads: '2' });
  const db = await instance.connect();
  const struct = `{${Object.entries(columns).map(([name, type]) => `'${name}': '${type}'`).join(', ')}}`;
  const other = (x: string) => `coalesce(nullif(nullif(lower(${x}), 'nan'), ''), 'other')`;
  await db.run(`
    CREATE TABLE operations (id UUID, event_time TIMESTAMP, event_type VARCHAR, category_code VARCHAR, brand VARCHAR, price DECIMAL(12,2), department VARCHAR, product VARCHAR, revenue DECIMAL(12,2));
    CREATE TABLE kpis (k INTEGER PRIMARY KEY, operations BIGINT, revenue DECIMAL(18,2), purchases BIGINT, views BIGINT, carts BIGINT);
    CREATE TABLE per_minute (minute TIMESTAMP, event_type VARCHAR, operations BIGINT, PRIMARY KEY (minute, event_type));
    CREATE TABLE by_department_brand (dt DATE, department VARCHAR, brand VARCHAR, revenue DECIMAL(18,2), purchases BIGINT, views BIGINT, carts BIGINT, PRIMARY KEY (dt, department, brand));
    CREATE TABLE by_product (product VARCHAR PRIMARY KEY, revenue DECIMAL(18,2), purchases BIGINT, views BIGINT, carts BIGINT);`);
  const counts = `sum(revenue), count(*) FILTER (WHERE event_type = 'purchase'), count(*) FILTER (WHERE event_type = 'view'), count(*) FILTER (WHERE event_type = 'cart')`;
  const add = (...names: string[]) => names.map((n) => `${n} = ${n} + excluded.${n}`).join(', ');
  const started = performance.now();
  for (const file of files) {
    await db.run(`
      CREATE OR REPLACE TEMP TABLE batch AS
        SELECT *, ${other("split_part(category_code, '.', 1)")} AS department, ${other("split_part(category_code, '.', -1)")} AS product,
               CASE WHEN event_type = 'purchase' THEN price ELSE 0 END AS revenue
        FROM read_ndjson('${file}', columns = ${struct});
      COPY (SELECT * EXCLUDE (department, product, revenue), CAST(event_time AS DATE) AS dt, hour(event_time) AS hour FROM batch)
        TO '${join(dir, 'lake')}' (FORMAT parquet, PARTITION_BY (dt, hour), APPEND true, COMPRESSION lz4);
      BEGIN;
      INSERT INTO operations SELECT id, event_time, event_type, category_code, ${other('brand')}, price, department, product, revenue FROM batch;
      INSERT INTO per_minute SELECT date_trunc('minute', event_time), event_type, count(*) FROM batch GROUP BY ALL ON CONFLICT DO UPDATE SET ${add('operations')};
      INSERT INTO by_department_brand SELECT CAST(event_time AS DATE), department, ${other('brand')}, ${counts} FROM batch GROUP BY ALL ON CONFLICT DO UPDATE SET ${add('revenue', 'purchases', 'views', 'carts')};
      INSERT INTO by_product SELECT product, ${counts} FROM batch GROUP BY ALL ON CONFLICT DO UPDATE SET ${add('revenue', 'purchases', 'views', 'carts')};
      INSERT INTO kpis SELECT 1, count(*), ${counts} FROM batch ON CONFLICT DO UPDATE SET ${add('operations', 'revenue', 'purchases', 'views', 'carts')};
      COMMIT;`);
  }
  const seconds = (performance.now() - started) / 1000;
  db.closeSync();
  instance.closeSync();
  return events / seconds;
}
