import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, quoteLiteral } from '../src/engine/index.js';
import { ECOMMERCE_HEADER, generateEcommerce } from '../examples/ecommerce-clickstream/generators/ecommerce.js';
import { ECOMMERCE_SAMPLE } from './helpers.js';

const samplePath = ECOMMERCE_SAMPLE;
const ROWS = 200_000;
const TWO_POW_53 = 9_007_199_254_740_992n;

const typed = (path: string) =>
  `read_csv(${quoteLiteral(path)}, header = true, columns = {
    'event_time': 'VARCHAR', 'event_type': 'VARCHAR', 'product_id': 'BIGINT', 'category_id': 'BIGINT',
    'category_code': 'VARCHAR', 'brand': 'VARCHAR', 'price': 'DECIMAL(12,2)', 'user_id': 'BIGINT', 'user_session': 'VARCHAR'})`;

interface Mix {
  n: bigint;
  view: number;
  cart: number;
  purchase: number;
  empty_code: number;
  empty_brand: number;
}

const mixSql = (source: string) => `
  SELECT count(*) AS n,
         avg((event_type = 'view')::INT) AS view, avg((event_type = 'cart')::INT) AS cart, avg((event_type = 'purchase')::INT) AS purchase,
         avg((category_code IS NULL)::INT) AS empty_code, avg((brand IS NULL)::INT) AS empty_brand
  FROM ${source}`;

describe('generateEcommerce', () => {
  let dir: string;
  let file: string;
  let engine: Engine;
  let text: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-generate-test-'));
    file = join(dir, 'clicks.csv');
    const progress: number[] = [];
    const result = await generateEcommerce({ rows: ROWS, out: file, samplePath, seed: 7, onProgress: (p) => progress.push(p.fraction) });
    expect(result.rows).toBe(ROWS);
    expect(result.bytes).toBeGreaterThan(ROWS * 80);
    expect(progress.at(-1)).toBe(1);
    text = readFileSync(file, 'utf8');
    engine = await Engine.open();
  }, 120_000);

  afterAll(() => {
    engine?.closeAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the real file header, row count, time format and order', () => {
    const lines = text.split('\n');
    expect(lines[0]).toBe(ECOMMERCE_HEADER);
    expect(lines.at(-1)).toBe('');
    const rows = lines.slice(1, -1);
    expect(rows).toHaveLength(ROWS);
    const format = /^2019-11-(0[1-9]|[12]\d|30) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC,/;
    let previous = '';
    const badFormat: string[] = [];
    let outOfOrder = 0;
    for (const line of rows) {
      if (!format.test(line)) badFormat.push(line);
      const time = line.slice(0, 23);
      if (time < previous) outOfOrder++;
      previous = time;
    }
    expect(badFormat.slice(0, 3)).toEqual([]);
    expect(outOfOrder).toBe(0);
    // Missing values are written as "" exactly like the sample.
    expect(text).toMatch(/,"",/);
    expect(text).not.toMatch(/,,/);
  });

  it('keeps the sample event mix and empty rates', async () => {
    const [generated] = await engine.query<Mix & Record<string, unknown>>(mixSql(typed(file)));
    const [sample] = await engine.query<Mix & Record<string, unknown>>(mixSql(typed(samplePath)));
    expect(generated!.n).toBe(BigInt(ROWS));
    for (const key of ['view', 'cart', 'purchase'] as const) expect(Math.abs(generated![key] - sample![key])).toBeLessThan(0.01);
    expect(Math.abs(generated!.empty_code - sample!.empty_code)).toBeLessThan(0.03);
    expect(Math.abs(generated!.empty_brand - sample!.empty_brand)).toBeLessThan(0.03);
    const nan = await engine.scalar<bigint>(`SELECT count(*) FROM ${typed(file)} WHERE brand = 'nan'`);
    expect(nan).toBeGreaterThan(0n);
  });

  it('writes category ids above 2^53 that read back exactly as BIGINT', async () => {
    const [row] = await engine.query<{ min_id: bigint; inexact: bigint; unknown: bigint }>(`
      WITH raw AS (SELECT category_id AS text FROM read_csv(${quoteLiteral(file)}, header = true, all_varchar = true))
      SELECT min(text::BIGINT) AS min_id,
             count(*) FILTER (WHERE text::BIGINT::VARCHAR <> text) AS inexact,
             count(*) FILTER (WHERE text::BIGINT NOT IN (SELECT category_id FROM ${typed(samplePath)})) AS unknown
      FROM raw`);
    expect(typeof row!.min_id).toBe('bigint');
    expect(row!.min_id).toBeGreaterThan(TWO_POW_53);
    expect(row!.inexact).toBe(0n);
    // At this size every category is one of the sample's, id for id.
    expect(row!.unknown).toBe(0n);
  });

  it('keeps product → category stable while prices vary', async () => {
    const [row] = await engine.query<{ unstable: bigint; several_prices: bigint; products: bigint }>(`
      SELECT count(*) FILTER (WHERE categories > 1) AS unstable, count(*) FILTER (WHERE prices > 1) AS several_prices, count(*) AS products
      FROM (SELECT product_id, count(DISTINCT category_id) AS categories, count(DISTINCT price) AS prices FROM ${typed(file)} GROUP BY 1)`);
    expect(row!.unstable).toBe(0n);
    expect(row!.several_prices).toBeGreaterThan(row!.products / 10n);
  });

  it('has exact duplicate rows and non-negative prices with some zeros', async () => {
    const duplicates = await engine.scalar<bigint>(
      `SELECT (SELECT count(*) FROM ${typed(file)}) - (SELECT count(*) FROM (SELECT DISTINCT * FROM ${typed(file)}))`,
    );
    expect(duplicates).toBeGreaterThan(0n);
    const [prices] = await engine.query<{ negative: bigint; zero: bigint }>(
      `SELECT count(*) FILTER (WHERE price < 0) AS negative, count(*) FILTER (WHERE price = 0) AS zero FROM ${typed(file)}`,
    );
    expect(prices!.negative).toBe(0n);
    expect(prices!.zero).toBeGreaterThan(0n);
  });

  it('is deterministic for a seed', async () => {
    const digest = async (seed: number, name: string) => {
      const out = join(dir, name);
      await generateEcommerce({ rows: 30_000, out, samplePath, seed });
      return createHash('sha256').update(readFileSync(out)).digest('hex');
    };
    const a = await digest(11, 'a.csv');
    const b = await digest(11, 'b.csv');
    const c = await digest(12, 'c.csv');
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  }, 120_000);
});
