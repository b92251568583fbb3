import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { Engine, defineGenerator, quoteLiteral } from 'tributary';

/**
 * A full-size stand-in for the public "eCommerce behavior data from multi category store"
 * November 2019 file, learned from the real 10,034-row sample and scaled to the published
 * figures of the 67,501,979-row original.
 *
 * How it is built (all inside DuckDB; JavaScript only computes a handful of constants):
 * - Every generated row copies its attributes (category, category_code, brand, price) from a
 *   template: a row of the sample drawn uniformly. Row-level mixes (empty category_code,
 *   empty brand, `nan` brands, price 0, price spread, brand and category shares) are therefore
 *   the sample's.
 * - Products that occur at least twice in the sample are the popular products and keep their
 *   real ids. Each product seen once stands for a family of tail products (same category,
 *   brand and price level, new ids) sized so that the product count scales with the rows to
 *   190,662 at full size (never below the sample's 5,937 products); some of them move to extra
 *   category ids (684 in all, children of sample categories with the same code, ids kept exact
 *   as BIGINT) or extra brands (4,200 in all, names spliced from two sample names). Product →
 *   category is stable by construction; 37 % of products change price on some days. Users and
 *   sessions scale with the rows; category ids and brands only appear as products need them.
 * - Event types follow the published mix (94.2 % view, 4.5 % cart, 1.4 % purchase); empty
 *   category_code and brand, `nan` brands and zero prices follow the sample.
 * - Rows are numbered in time order: the month is cut into 720 hourly buckets sized by the
 *   sample's day and hour-of-day shape, and a row's second is a monotone function of its
 *   number, so the output is ordered by event_time without sorting.
 * - A session is a set of rows within a ~30-minute block of the timeline (~4.9 rows each, three
 *   products of interest); users own several sessions.
 * - Duplicates are whole rows written twice, spaced evenly, topping up those that arise by
 *   themselves to the published 100,519 at full size; 10 events per 67.5 M have no session.
 * - Joins in DuckDB do not keep row order across threads, so the rows are written in segments,
 *   each by a single-threaded engine, with one engine per core, and appended in order.
 * Randomness is `hash(…, seed)`, so a seed always yields the same bytes.
 */

export interface GenerateEcommerceOptions {
  rows: number;
  out: string;
  samplePath: string;
  seed?: number;
  onProgress?: (p: { rows: number; bytes: number; fraction: number }) => void;
}

export interface GenerateResult {
  rows: number;
  bytes: number;
  seconds: number;
}

/** Published figures of the full November 2019 file. */
export const NOVEMBER_2019 = {
  rows: 67_501_979,
  views: 63_556_110,
  carts: 3_028_930,
  purchases: 916_939,
  users: 3_696_117,
  products: 190_662,
  categories: 684,
  brands: 4_200,
  sessions: 13_776_050,
  nullCategoryCode: 21_898_171,
  nullBrand: 9_224_078,
  nullSession: 10,
  duplicates: 100_519,
  productsWithSeveralPrices: 70_684,
} as const;

export const ECOMMERCE_HEADER = 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session';

/**
 * Some duplicates arise by themselves (two events of one session on the same product, with the
 * same type, in the same second), more often the denser the timeline. Measured: 46,011 at full
 * size (6.8e-4 of rows), 145 at 1 M rows (1.45e-4); the generator writes the rest on purpose.
 */
const accidentalDuplicates = (rows: number) => rows * 6.816e-4 * Math.pow(rows / NOVEMBER_2019.rows, 0.368);
/** Products whose price changes on some days (70,684 / 190,662). */
const MULTI_PRICE_SHARE = NOVEMBER_2019.productsWithSeveralPrices / NOVEMBER_2019.products;
/** Products a session is interested in. */
const SESSION_SLOTS = 3;
/** Session blocks per month: one per ~30 minutes. */
const SESSION_BLOCKS = 1440;

/** Solves (1 - e^-x) / x = ratio for x > 0 (occupancy of hashed slots), by bisection. */
function occupancy(ratio: number): number {
  if (ratio >= 1) return 1e-9;
  let lo = 1e-9;
  let hi = 1000;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    const value = (1 - Math.exp(-mid)) / mid;
    if (value > ratio) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export async function generateEcommerce(options: GenerateEcommerceOptions): Promise<GenerateResult> {
  const started = performance.now();
  if (!Number.isFinite(options.rows) || options.rows < 0) throw new Error(`rows must be a non-negative number, got ${options.rows}`);
  const N = Math.trunc(options.rows);
  const seed = Math.trunc(options.seed ?? 42) >>> 0;
  const out = resolve(options.out);
  mkdirSync(dirname(out), { recursive: true });
  const scale = N / NOVEMBER_2019.rows;

  // Duplicates: D events written twice, every (q+1)-th output row repeats its predecessor.
  const D = Math.min(Math.floor(N / 2), Math.max(0, Math.round(NOVEMBER_2019.duplicates * scale - accidentalDuplicates(N))));
  const E = N - D; // distinct events
  const q = D > 0 ? Math.floor(E / D) : 1;

  // Sessions: SESSION_BLOCKS blocks of B events, K session slots per block.
  const B = Math.max(1, Math.round(E / SESSION_BLOCKS));
  const sessionRatio = NOVEMBER_2019.sessions / (NOVEMBER_2019.rows - NOVEMBER_2019.duplicates);
  const K = Math.max(1, Math.round(B / occupancy(sessionRatio)));
  const sessionsExpected = Math.max(1, Math.ceil(E / B) * K * (1 - Math.exp(-B / K)));
  // Users: sessions hashed onto U slots.
  const userRatio = NOVEMBER_2019.users / NOVEMBER_2019.sessions;
  const U = Math.max(1, Math.round(sessionsExpected / occupancy(userRatio)));
  const productsTarget = Math.round(NOVEMBER_2019.products * scale);
  const nullSessions = Math.min(E, Math.round(NOVEMBER_2019.nullSession * scale));
  const nullSessionEvents = Array.from({ length: nullSessions }, (_, k) => Math.floor(((k + 0.5) * E) / nullSessions));
  const pView = NOVEMBER_2019.views / NOVEMBER_2019.rows;
  const pCart = NOVEMBER_2019.carts / NOVEMBER_2019.rows;

  const plan: Plan = { N, D, E, q, B, K, U, seed, productsTarget, nullSessionEvents, pView, pCart, samplePath: options.samplePath };

  // DuckDB's joins do not keep row order across threads, and the file must come out in time
  // order without a sort. So each worker is its own single-threaded engine that writes whole
  // segments of the timeline in order; workers run side by side, and the segments are appended
  // to the output in sequence as they complete.
  // Segments live next to the output (same disk; /tmp may be memory).
  const work = await mkdtemp(join(dirname(out), '.tributary-generate-'));
  const partial = `${out}.partial`;
  const cores = Math.max(1, availableParallelism());
  const segmentRows = Math.max(50_000, Math.min(2_000_000, Math.ceil(N / (cores * 4))));
  const segments = Math.max(1, Math.ceil(N / segmentRows));
  const workerCount = Math.min(cores, segments, 8);
  const engines: Engine[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    for (let w = 0; w < workerCount; w++) {
      engines.push(await Engine.open({ threads: 1, memoryLimit: '512MB', tempDirectory: join(work, `spill-${w}`) }));
    }
    const queries = await Promise.all(engines.map((engine) => prepare(engine, plan)));

    const segmentFile = (s: number) => join(work, `segment-${s}.csv`);
    const rangeOf = (s: number): [number, number] => [Math.floor((s * N) / segments), Math.floor(((s + 1) * N) / segments)];
    const written = Array.from({ length: segments }, () => deferred<void>());
    const appended = Array.from({ length: segments }, () => deferred<void>());
    const running = new Map<number, Engine>();
    let appendedRows = 0;
    let appendedBytes = 0;
    let failed = false;

    if (options.onProgress) {
      const onProgress = options.onProgress;
      timer = setInterval(() => {
        let rows = appendedRows;
        for (const [s, engine] of running) {
          const [lo, hi] = rangeOf(s);
          const p = engine.progress();
          if (p.percentage > 0) rows += ((hi - lo) * Math.min(100, p.percentage)) / 100;
        }
        onProgress({ rows: Math.round(rows), bytes: appendedBytes, fraction: N > 0 ? Math.min(1, rows / N) : 1 });
      }, 250);
    }

    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      for (const engine of engines) engine.interrupt();
      for (const d of [...written, ...appended]) d.reject(error);
    };
    let next = 0;
    const workers = engines.map(async (engine, index) => {
      const query = queries[index]!;
      while (!failed && next < segments) {
        const s = next++;
        // Stay at most a few segments ahead of the appender (bounded temporary disk).
        if (s >= workerCount * 3) await appended[s - workerCount * 3]!.promise;
        const [lo, hi] = rangeOf(s);
        running.set(s, engine);
        try {
          await engine.run(
            `COPY (${query(lo, hi)}) TO ${quoteLiteral(segmentFile(s))} (FORMAT csv, HEADER ${s === 0}, DELIMITER ',')`,
          );
        } catch (error) {
          fail(error);
          throw error;
        } finally {
          running.delete(s);
        }
        written[s]!.resolve();
      }
    });
    const output = createWriteStream(partial, { highWaterMark: 1 << 20 });
    const appender = (async () => {
      try {
        for (let s = 0; s < segments; s++) {
          await written[s]!.promise;
          for await (const chunk of createReadStream(segmentFile(s), { highWaterMark: 1 << 20 })) {
            if (!output.write(chunk)) await once(output, 'drain');
          }
          appendedBytes += (await stat(segmentFile(s))).size;
          appendedRows += rangeOf(s)[1] - rangeOf(s)[0];
          await rm(segmentFile(s), { force: true });
          appended[s]!.resolve();
        }
      } catch (error) {
        fail(error);
        throw error;
      } finally {
        await new Promise<void>((done, fail) => output.end((error?: Error | null) => (error ? fail(error) : done())));
      }
    })();
    // A failure rejects every pending hand-over, so all of them settle before the engines close.
    for (const d of [...written, ...appended]) d.promise.catch(() => undefined);
    const settled = await Promise.allSettled([...workers, appender]);
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    if (timer) clearInterval(timer);
    timer = undefined;
    await rename(partial, out);
    const bytes = (await stat(out)).size;
    options.onProgress?.({ rows: N, bytes, fraction: 1 });
    return { rows: N, bytes, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  } finally {
    if (timer) clearInterval(timer);
    for (const engine of engines) engine.closeAll();
    await rm(work, { recursive: true, force: true });
  }
}

interface Plan {
  N: number;
  D: number;
  E: number;
  q: number;
  B: number;
  K: number;
  U: number;
  seed: number;
  productsTarget: number;
  nullSessionEvents: number[];
  pView: number;
  pCart: number;
  samplePath: string;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Builds the lookup tables (from the sample) on one engine and returns the SELECT that yields
 * output rows [lo, hi) in order.
 */
async function prepare(engine: Engine, plan: Plan): Promise<(lo: number, hi: number) => string> {
  const { D, E, q, B, K, U, seed, productsTarget, nullSessionEvents, pView, pCart } = plan;
  const M = 1_000_000_000;
  // One thread, rows stream through the lookups in order: keep the row stream on the probe
  // side of every join and the joins in the written order.
  await engine.run('SET preserve_insertion_order = true');
  await engine.run("SET disabled_optimizers = 'join_order,build_side_probe_side'");

  // 1. The sample, numbered in a stable order.
  await engine.run(`
    CREATE TABLE sample AS
    SELECT (row_number() OVER (ORDER BY event_time, user_session, product_id, event_type, price, user_id, brand, category_code) - 1)::BIGINT AS t, *
    FROM read_csv(${quoteLiteral(plan.samplePath)}, header = true, columns = {
      'event_time': 'TIMESTAMP', 'event_type': 'VARCHAR', 'product_id': 'BIGINT', 'category_id': 'BIGINT',
      'category_code': 'VARCHAR', 'brand': 'VARCHAR', 'price': 'DECIMAL(12,2)', 'user_id': 'BIGINT', 'user_session': 'VARCHAR'},
      timestampformat = '%Y-%m-%d %H:%M:%S UTC')`);
  const sampleRows = Number(await engine.scalar<bigint>('SELECT count(*) FROM sample'));
  if (sampleRows === 0) throw new Error(`The sample ${plan.samplePath} has no rows`);
  const maxPrice = await engine.scalar<string>('SELECT max(price)::VARCHAR FROM sample');

  // 2. Popular products (seen at least twice) keep their identity; products seen once are
  // templates of tail-product families.
  await engine.run(`
    CREATE TABLE sample_products AS
    SELECT product_id, count(*) AS f, min(category_id) AS category_id, min(category_code) AS category_code,
           mode(brand ORDER BY brand) AS brand, min(t) AS first_t
    FROM sample GROUP BY product_id`);
  await engine.run(`
    CREATE TABLE popular AS
    SELECT (row_number() OVER (ORDER BY f DESC, product_id) - 1)::BIGINT AS pkey, *
    FROM sample_products WHERE f >= 2`);
  const nPopular = Number(await engine.scalar<bigint>('SELECT count(*) FROM popular'));
  await engine.run(`
    CREATE TABLE tail AS
    SELECT (row_number() OVER (ORDER BY product_id) - 1)::BIGINT AS k, *
    FROM sample_products WHERE f = 1`);
  const nTail = Number(await engine.scalar<bigint>('SELECT count(*) FROM tail'));
  const tailProducts = Math.max(nTail, productsTarget - nPopular);
  await engine.run(`
    CREATE TABLE tail_families AS
    SELECT k, product_id, category_id, category_code, brand, first_t,
           ${nPopular} + (k * ${tailProducts}) // ${Math.max(1, nTail)} AS pk_base,
           ((k + 1) * ${tailProducts}) // ${Math.max(1, nTail)} - (k * ${tailProducts}) // ${Math.max(1, nTail)} AS pk_count
    FROM tail`);

  // 3. Categories: the sample's, plus extra ids (children of busy sample categories, same code)
  // up to the published 684.
  const sampleCategories = Number(await engine.scalar<bigint>('SELECT count(DISTINCT category_id) FROM sample'));
  const extraCategories = Math.max(0, NOVEMBER_2019.categories - sampleCategories);
  await engine.run(`
    CREATE TABLE category_bases AS
    SELECT (row_number() OVER (ORDER BY count(*) DESC, category_id) - 1)::BIGINT AS rb, category_id, count(*) AS n
    FROM tail_families GROUP BY category_id`);
  const nBases = Number(await engine.scalar<bigint>('SELECT count(*) FROM category_bases'));
  await engine.run(`
    CREATE TABLE extra_categories AS
    SELECT j, b.category_id AS base_id, j // ${Math.max(1, nBases)} AS child,
           b.category_id + (j + 1) * 1000003 + (hash(j, ${seed}, 1) % 997)::BIGINT AS category_id
    FROM range(${nBases > 0 ? extraCategories : 0}) r(j)
    JOIN category_bases b ON b.rb = j % ${Math.max(1, nBases)}`);
  const clash = Number(
    await engine.scalar<bigint>(
      `SELECT count(*) FROM extra_categories WHERE category_id IN (SELECT category_id FROM sample WHERE category_id IS NOT NULL)
       OR category_id IN (SELECT category_id FROM extra_categories GROUP BY 1 HAVING count(*) > 1)`,
    ),
  );
  if (clash > 0) throw new Error('generator: synthetic category ids collide; choose another seed');
  await engine.run(`
    CREATE TABLE category_children AS
    SELECT base_id, count(*) AS n_children, list(category_id ORDER BY child) AS children
    FROM extra_categories GROUP BY base_id`);

  // 4. Extra brands, named by splicing two sample brand names, up to the published 4,200.
  await engine.run(`
    CREATE TABLE sample_brands AS
    SELECT DISTINCT brand FROM sample WHERE brand IS NOT NULL AND lower(trim(brand)) <> 'nan' AND length(brand) >= 2`);
  const sampleBrandCount = Number(await engine.scalar<bigint>('SELECT count(DISTINCT brand) FROM sample WHERE brand IS NOT NULL'));
  const extraBrands = Math.max(0, NOVEMBER_2019.brands - sampleBrandCount);
  await engine.run(`
    CREATE TABLE extra_brands AS
    WITH candidates AS (
      SELECT DISTINCT left(a.brand, greatest(2, ceil(length(a.brand) / 2)::INT)) || right(b.brand, greatest(2, (length(b.brand) // 2)::INT)) AS brand
      FROM sample_brands a, sample_brands b
      WHERE a.brand <> b.brand
    )
    SELECT (row_number() OVER (ORDER BY hash(brand, ${seed}, 2), brand) - 1)::BIGINT AS bi, brand
    FROM candidates
    WHERE brand NOT IN (SELECT brand FROM sample WHERE brand IS NOT NULL) AND brand NOT LIKE '%,%' AND brand NOT LIKE '%"%'
    ORDER BY bi
    LIMIT ${extraBrands}`);
  const nExtraBrands = Number(await engine.scalar<bigint>('SELECT count(*) FROM extra_brands'));

  // 5. Products: popular ones as they are; tail families unfolded.
  await engine.run(`
    CREATE TABLE tail_products AS
    WITH unfolded AS (
      SELECT f.*, v, f.pk_base + v AS pkey
      FROM tail_families f, (SELECT unnest(range(f.pk_count)) AS v)
    ), moved AS (
      SELECT u.*,
        CASE WHEN v >= 1 AND v % 2 = 1 AND c.n_children > 0 THEN c.children[(((v - 1) // 2) % c.n_children) + 1] ELSE u.category_id END AS new_category_id,
        (v >= 1 AND v % 8 = 6 AND u.brand IS NOT NULL AND lower(trim(u.brand)) <> 'nan' AND ${nExtraBrands} > 0) AS new_brand
      FROM unfolded u LEFT JOIN category_children c ON c.base_id = u.category_id
    ), branded AS (
      SELECT m.*, CASE WHEN new_brand THEN (row_number() OVER (PARTITION BY new_brand ORDER BY pkey) - 1) % ${Math.max(1, nExtraBrands)} END AS bi,
             CASE WHEN v = 0 THEN product_id ELSE product_id + v * 1009 END AS candidate_id
      FROM moved m
    )
    SELECT b.pkey, b.first_t, b.v, b.candidate_id, b.new_category_id AS category_id, b.category_code,
           CASE WHEN b.new_brand THEN x.brand ELSE b.brand END AS brand,
           CASE WHEN b.v = 0 THEN 1.0 ELSE 0.85 + (hash(b.pkey, ${seed}, 3) % 31)::DOUBLE / 100 END AS factor
    FROM branded b LEFT JOIN extra_brands x ON x.bi = b.bi`);
  await engine.run(`
    CREATE TABLE products AS
    WITH all_products AS (
      SELECT pkey, product_id AS candidate_id, true AS real_id, category_id, category_code, brand, 1.0 AS factor FROM popular
      UNION ALL
      SELECT pkey, candidate_id, v = 0 AS real_id, category_id, category_code, brand, factor FROM tail_products
    ), ranked AS (
      SELECT *, row_number() OVER (PARTITION BY candidate_id ORDER BY real_id DESC, pkey) AS nth FROM all_products
    )
    SELECT pkey,
           CASE WHEN nth = 1 THEN candidate_id ELSE 150000000 + pkey END AS product_id,
           category_id, coalesce(category_code, '') AS category_code, coalesce(brand, '') AS brand, factor,
           (hash(pkey, ${seed}, 4) % 1000000) < ${Math.round(MULTI_PRICE_SHARE * 1e6)} AS multi,
           0.95 - 0.05 * (hash(pkey, ${seed}, 5) % 4)::DOUBLE AS discount
    FROM ranked`);

  // 6. Templates: sample row → the product family it stands for, with its price.
  await engine.run(`
    CREATE TABLE templates AS
    SELECT s.t, s.price, coalesce(p.pkey, f.pk_base) AS pk_base, coalesce(CASE WHEN p.pkey IS NOT NULL THEN 1 END, f.pk_count) AS pk_count
    FROM sample s LEFT JOIN popular p USING (product_id) LEFT JOIN tail_families f USING (product_id)`);

  // 7. The timeline: 720 hourly buckets sized by the sample's day × hour-of-day shape.
  await engine.run(`
    CREATE TABLE buckets AS
    WITH days AS (
      SELECT d, (SELECT count(*) FROM sample WHERE day(event_time) = d + 1 AND month(event_time) = 11) + 1 AS w FROM range(30) r(d)
    ), hours AS (
      SELECT h, (SELECT count(*) FROM sample WHERE hour(event_time) = h) + 1 AS w FROM range(24) r(h)
    ), weights AS (
      SELECT d * 24 + h AS b, days.w * hours.w AS w, TIMESTAMP '2019-11-01' + to_days(d::INT) + to_hours(h::INT) AS hour_start
      FROM days, hours
    ), cum AS (
      SELECT *, sum(w) OVER (ORDER BY b) AS c1, sum(w) OVER () AS total FROM weights
    )
    SELECT b, hour_start, epoch(hour_start)::BIGINT AS prefix,
           round(${E} * (c1 - w) / total)::BIGINT AS lo, round(${E} * c1 / total)::BIGINT AS hi
    FROM cum`);
  await engine.run(`
    CREATE TABLE nonempty AS
    SELECT (row_number() OVER (ORDER BY b) - 1)::BIGINT AS nb, b, prefix, lo, hi - lo AS cnt, (b // 24)::INT AS day FROM buckets WHERE hi > lo`);
  const G = Math.max(1, Number((await engine.scalar<bigint | null>('SELECT min(cnt) FROM nonempty')) ?? 1));
  // Grid cells of G events meet at most two buckets: the one holding the cell's first event and the next.
  await engine.run(`
    CREATE TABLE grid AS
    SELECT g, a.prefix AS p0, a.lo AS lo0, a.cnt AS cnt0, a.day AS day0,
           coalesce(n.lo, 9223372036854775807) AS lo1, n.prefix AS p1, n.cnt AS cnt1, n.day AS day1
    FROM range((${E} + ${G} - 1) // ${G}) r(g)
    ASOF JOIN nonempty a ON g * ${G} >= a.lo
    LEFT JOIN nonempty n ON n.nb = a.nb + 1`);

  const nullList = nullSessionEvents.length ? `[${nullSessionEvents.join(', ')}]` : '[]::BIGINT[]';
  return (lo: number, hi: number) => `
    WITH r AS (
      SELECT CASE WHEN j < ${D} * ${q + 1} THEN (j // ${q + 1}) * ${q} + least(j % ${q + 1}, ${q - 1})
                  ELSE ${D} * ${q} + (j - ${D} * ${q + 1}) END AS e
      FROM range(${lo}, ${hi}) b(j)
    ), s AS (
      SELECT e,
             (e // ${B}) * ${K} + (hash(e, ${seed}, 10) % ${K})::BIGINT AS sess,
             (hash(e, ${seed}, 11) % ${SESSION_SLOTS})::BIGINT AS slot,
             (hash(e, ${seed}, 12) % ${M})::BIGINT AS u_type
      FROM r
    ), h AS (
      SELECT *, hash(sess, slot, ${seed}) AS hp FROM s
    ), x AS (
      SELECT h.*, (hp % ${sampleRows})::BIGINT AS t, ((hp // ${sampleRows}) % 1000003)::BIGINT AS v FROM h
    ), joined AS (
      SELECT x.e, x.sess, x.u_type, tp.price AS base_price, tp.pk_base + x.v % tp.pk_count AS pkey,
             CASE WHEN x.e >= gr.lo1 THEN gr.p1 ELSE gr.p0 END AS prefix,
             CASE WHEN x.e >= gr.lo1 THEN ((x.e - gr.lo1) * 3600) // gr.cnt1 ELSE ((x.e - gr.lo0) * 3600) // gr.cnt0 END AS sec,
             CASE WHEN x.e >= gr.lo1 THEN gr.day1 ELSE gr.day0 END AS day
      FROM x
      JOIN templates tp ON tp.t = x.t
      JOIN grid gr ON gr.g = x.e // ${G}
    )
    SELECT
      strftime(make_timestamp((prefix + sec) * 1000000), '%Y-%m-%d %H:%M:%S UTC') AS event_time,
      CASE WHEN u_type < ${Math.round(pView * M)} THEN 'view' WHEN u_type < ${Math.round((pView + pCart) * M)} THEN 'cart' ELSE 'purchase' END AS event_type,
      p.product_id,
      p.category_id,
      p.category_code,
      p.brand,
      least(CAST(j2.base_price * p.factor * CASE WHEN p.multi AND hash(j2.pkey, j2.day, ${seed}) % 4 = 0 THEN p.discount ELSE 1.0 END AS DECIMAL(12,2)), ${maxPrice}::DECIMAL(12,2)) AS price,
      200000000 + (hash(j2.sess, ${seed}, 13) % ${U})::BIGINT * 100 + (hash(hash(j2.sess, ${seed}, 13) % ${U}, ${seed}, 14) % 100)::BIGINT AS user_id,
      CASE WHEN list_contains(${nullList}, j2.e) THEN '' ELSE
        format('{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}',
          hash(j2.sess, ${seed}, 15) >> 32, (hash(j2.sess, ${seed}, 15) >> 16) & 65535, hash(j2.sess, ${seed}, 15) & 4095,
          ((hash(j2.sess, ${seed}, 16) >> 48) & 16383) | 32768, hash(j2.sess, ${seed}, 16) & 281474976710655)
      END AS user_session
    FROM joined j2
    JOIN products p ON p.pkey = j2.pkey`;

}

/** The real sample this example ships with, relative to the example's folder. */
export const SAMPLE = 'data/2019-Nov-sample.csv';

export default defineGenerator({
  description: 'the November 2019 clickstream at any size (the full file: 67,501,979 rows, 9 GB), learned from the real sample',
  unit: 'rows',
  defaultOut: 'data/2019-Nov.csv',
  defaultSize: NOVEMBER_2019.rows,
  options: { sample: `the real rows the data is learned from (default: ${SAMPLE})` },
  async run(context) {
    const out = resolve(context.out);
    const result = await generateEcommerce({
      rows: context.size ?? NOVEMBER_2019.rows,
      out,
      samplePath: resolve(context.projectDir, context.options.sample ?? SAMPLE),
      seed: context.seed,
      onProgress: (p) => context.progress(p),
    });
    return { files: [out], rows: result.rows, bytes: result.bytes };
  },
});
