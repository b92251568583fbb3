import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStreams, runModels, tempDir, type Workspace } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOrders } from '../generators/orders.js';
import {
  CUSTOMERS_CSV,
  READ,
  STATIC_MODELS,
  asJson,
  byCustomer,
  customers,
  deadLetterLines,
  drop,
  loyaltyByDay,
  openLoyalty,
  orderFiles,
  recount,
  sortLoyalty,
  transactionLine,
  unix,
  workdir,
} from './harness.js';
import { countByGender, countNamesNeedingTrim, customerPoints, customerTiers, readCustomers, unixSecondsToTimestamp, type LoyaltyRow, type TransactionRow } from './reference.js';

/**
 * System D end to end on the real customer file and generated order lines. Every expected number
 * comes from test/reference.ts, which parses the CSV and the order files itself and applies the
 * programme's rules a second time in plain TypeScript, without DuckDB.
 */

const DAY_SECONDS = 86_400;

describe('batch layer: customers_cln', () => {
  it('holds every row of the customer file, cleaned and typed as an independent reading of the CSV says', async () => {
    const work = workdir('loyalty-customers-');
    const ws = await openLoyalty(work);
    try {
      const [load] = await runModels(ws, { models: ['customers_cln'] });
      const source = readCustomers(CUSTOMERS_CSV);
      expect(load).toMatchObject({ model: 'customers_cln', read: source.length, written: source.length, quarantined: 0 });

      const types = await ws.engine.queryJson<{ column_name: string; column_type: string }>('SELECT column_name, column_type FROM (DESCRIBE customers_cln)');
      expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
        cust_id: 'BIGINT',
        cust_nm: 'VARCHAR',
        cust_email: 'VARCHAR',
        cust_strt_dt: 'DATE',
        cust_member_card_no: 'VARCHAR',
        cust_birth_dt: 'DATE',
        cust_birth_yr: 'INTEGER',
        cust_gender: 'VARCHAR',
        home_store: 'INTEGER',
      });

      const rows = await ws.engine.queryJson<Record<string, unknown>>(
        `SELECT cust_id, cust_nm, cust_email, strftime(cust_strt_dt, '%Y-%m-%d') AS cust_strt_dt, cust_member_card_no,
                strftime(cust_birth_dt, '%Y-%m-%d') AS cust_birth_dt, cust_birth_yr, cust_gender, home_store
         FROM customers_cln ORDER BY cust_id`,
      );
      expect(rows).toEqual(asJson(byCustomer(customers)));

      // What the real file holds (README, "Data"), counted by the reference.
      expect(rows).toHaveLength(2246);
      expect(countByGender(customers)).toEqual({ FEMALE: 977, MALE: 726, NA: 543 });
      const genders = await ws.engine.queryJson<{ g: string; n: string }>('SELECT cust_gender AS g, count(*) AS n FROM customers_cln GROUP BY 1');
      expect(Object.fromEntries(genders.map((r) => [r.g, Number(r.n)]))).toEqual(countByGender(customers));
      expect(countNamesNeedingTrim(source)).toBe(0);
      expect(source.every((c) => c.loyalty_card_number !== null && /^\d{3}-\d{3}-\d{4}$/.test(c.loyalty_card_number))).toBe(true);
      expect(readFileSync(CUSTOMERS_CSV, 'utf8').split('\n')[0]).toContain('"908-424-2890"');
      expect(rows[0]).toMatchObject({ cust_id: '1', cust_nm: 'Kelly Key', cust_member_card_no: '908-424-2890', cust_gender: 'MALE', cust_strt_dt: '2017-01-04' });
    } finally {
      await ws.close();
    }
  });
});

describe('speed and serving layers, in process', () => {
  const work = workdir('loyalty-pipeline-');
  let ws: Workspace;
  let expected: ReturnType<typeof recount>;
  let loyaltyBefore: LoyaltyRow[];
  let oddLines = 0;

  /** Runs the orders stream until the spool has nothing more. */
  async function drainOrders(): Promise<void> {
    const streams = await openStreams(ws);
    try {
      await streams.drain();
    } finally {
      await streams.close();
    }
  }

  beforeAll(async () => {
    // Three days of orders, 12 files a day, every 29th line malformed, plus a till's own file:
    // an id that is no customer, drinks in other spellings, a blank line, two regulars who drink a
    // lot (Gold and Platinum), and a few orders weeks later, when the others have lapsed.
    await generateOrders({ customersCsv: CUSTOMERS_CSV, spoolDir: work.incoming, seed: 5, files: 36, linesPerFile: 40, startUnixSeconds: unix('2024-03-01'), spacingSeconds: 7200, malformedEvery: 29 });
    const odd = [
      '424242|latte|1709290000',
      '117| Latte |1709290001',
      '5012|ESPRESSO|1709290002',
      '',
      ...Array.from({ length: 40 }, (_, i) => `8001|cappucino|${unix('2024-03-02') + 600 * i}`),
      ...Array.from({ length: 90 }, (_, i) => `5001|cappucino|${unix('2024-03-01') + 900 * i}`),
      `117|latte|${unix('2024-03-20') + 3600}`,
      `2|mocha|${unix('2024-04-15') + 7200}`,
    ];
    oddLines = odd.filter((line) => line !== '').length;
    const staged = path.join(tempDir('loyalty-odd-'), 'orders-odd.txt');
    writeFileSync(staged, `${odd.join('\n')}\n`);
    drop(staged, work);
    expected = recount(orderFiles(work.incoming));

    ws = await openLoyalty(work);
    await runModels(ws, { models: STATIC_MODELS });
    await drainOrders();
    await runModels(ws, { models: ['loyalty', 'customer_tiers', 'customer_offers'] });
    loyaltyBefore = loyaltyByDay(expected.transactions);
  });
  afterAll(async () => {
    await ws?.close();
  });

  it('transactions_cln holds every order line once, priced and named; refused lines are dead letters, each once', async () => {
    const rows = await ws.engine.queryJson<TransactionRow & { cust_id: string }>(READ.transactions);
    expect(rows.map(transactionLine).sort()).toEqual(expected.transactions.map(transactionLine).sort());
    expect(rows.length).toBe(1440 + oddLines - expected.rejected.length);
    // The drink off the menu is kept, priced NULL; the unknown id is kept, named NULL.
    expect(rows.filter((r) => r.odr_menu === 'frappuccino').every((r) => r.odr_prc === null && r.odr_pts === null)).toBe(true);
    expect(rows.filter((r) => r.odr_menu === 'frappuccino').length).toBeGreaterThan(0);
    expect(rows.find((r) => r.cust_id === '424242')).toMatchObject({ cust_name: null, odr_prc: 70 });
    expect(rows.find((r) => r.cust_id === '117' && r.odr_tms === unixSecondsToTimestamp(1709290001))).toMatchObject({ odr_menu: 'latte', odr_prc: 70 });
    expect(rows.find((r) => r.cust_id === '5012' && r.odr_tms === unixSecondsToTimestamp(1709290002))).toMatchObject({ odr_menu: 'espresso', odr_prc: 65 });

    expect(await deadLetterLines(ws)).toEqual(expected.rejected.map((r) => r.line).sort());
    expect(expected.rejected.length).toBeGreaterThan(30);
  });

  it('customer_points is every order, merged micro-batch by micro-batch into one row per customer', async () => {
    const rows = await ws.engine.queryJson(READ.points);
    expect(rows).toEqual(asJson(byCustomer(customerPoints(expected.transactions))));
  });

  it('loyalty per day, the tiers as of each day and the current offers equal the reference', async () => {
    expect(await ws.engine.queryJson(READ.loyalty())).toEqual(sortLoyalty(loyaltyBefore));
    const days = [...new Set(loyaltyBefore.map((l) => l.data_dt))].sort();
    expect(days).toEqual(['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-20', '2024-04-15']);
    const tiers = await ws.engine.queryJson<Record<string, unknown>>(
      `SELECT cust_id, cust_name, cust_member_card_no, total_points::INTEGER AS total_points, total_spend::INTEGER AS total_spend,
              strftime(last_order_dt, '%Y-%m-%d') AS last_order_dt, days_since_last_order::INTEGER AS days_since_last_order,
              tier, segment, offer_code, offer, strftime(as_of_dt, '%Y-%m-%d') AS as_of_dt
       FROM customer_tiers ORDER BY as_of_dt, cust_id`,
    );
    const reference = days.flatMap((day) => asJson(byCustomer(customerTiers(customers, loyaltyBefore, day))));
    expect(tiers).toEqual(reference);
    // The data reaches every tier and every recency segment.
    expect(new Set(reference.map((r) => r.tier))).toEqual(new Set(['Bronze', 'Silver', 'Gold', 'Platinum']));
    expect(new Set(reference.map((r) => `${r.as_of_dt} ${r.segment}`))).toEqual(
      new Set(['2024-03-01 new', '2024-03-01 active', '2024-03-02 new', '2024-03-02 active', '2024-03-03 new', '2024-03-03 active', '2024-03-20 new', '2024-03-20 active', '2024-03-20 lapsing', '2024-04-15 new', '2024-04-15 active', '2024-04-15 lapsing', '2024-04-15 lapsed']),
    );
    const latest = reference.filter((r) => r.as_of_dt === '2024-04-15');

    const offers = await ws.engine.queryJson<{ cust_id: string; tier: string; offer_code: string }>('SELECT cust_id, tier, offer_code FROM customer_offers ORDER BY cust_id');
    expect(offers).toEqual(latest.map((r) => ({ cust_id: r.cust_id, tier: r.tier, offer_code: r.offer_code })));
  });

  it('a run for one day overwrites that day of loyalty and no other', async () => {
    // A till's late file: more orders of 2024-03-02 and of 2024-03-03.
    const late = await generateOrders({ customersCsv: CUSTOMERS_CSV, spoolDir: tempDir('loyalty-late-'), seed: 6, files: 2, linesPerFile: 30, startUnixSeconds: unix('2024-03-02'), spacingSeconds: DAY_SECONDS });
    late.files.forEach((file, i) => {
      const named = path.join(path.dirname(file), `orders-late-${i}.txt`);
      renameSync(file, named);
      drop(named, work);
    });
    await drainOrders();
    const all = recount([...orderFiles(work.incoming), ...orderFiles(work.done)]);
    expect(all.transactions.length).toBe(expected.transactions.length + 60);

    const [run] = await runModels(ws, { models: ['loyalty'], date: '2024-03-02' });
    expect(run!.model).toBe('loyalty');
    const after = loyaltyByDay(all.transactions);
    // 2024-03-02 has the late orders; 2024-03-03 still shows the day as it was built before them.
    expect(await ws.engine.queryJson(READ.loyalty("data_dt = DATE '2024-03-02'"))).toEqual(sortLoyalty(after.filter((l) => l.data_dt === '2024-03-02')));
    expect(await ws.engine.queryJson(READ.loyalty("data_dt <> DATE '2024-03-02'"))).toEqual(sortLoyalty(loyaltyBefore.filter((l) => l.data_dt !== '2024-03-02')));
    expect(after.filter((l) => l.data_dt === '2024-03-03')).not.toEqual(loyaltyBefore.filter((l) => l.data_dt === '2024-03-03'));
  });
});
