import { defineJob, defineProject } from 'tributary';

/**
 * System D of the product brief: a beverage shop's loyalty programme as a Lambda architecture.
 * - Batch layer: the real customer file, cleaned into `customers_cln` (lake).
 * - Speed layer: order lines `customer_id|menu|unix_seconds` dropped into a spool folder (by the
 *   shop's tills; here by `generators/orders.ts`), one micro-batch at a time, priced into the
 *   lake table `transactions_cln` and merged into the live `customer_points` (the original's HBase
 *   lookup), with exactly-once commits.
 * - Serving layer: `loyalty` (a partition per day, overwritten by a run for that day), the tier
 *   history `customer_tiers` and the current `customer_offers`, rebuilt from the two layers by jobs.
 */

/**
 * The spool: order files land in `incoming` and move to `done` once every line of theirs is
 * committed. LOYALTY_SPOOL puts it elsewhere (the tests and the benchmark use folders of their own).
 */
const spool = process.env.LOYALTY_SPOOL ?? 'spool';
const incoming = `${spool}/incoming`;

/** The models the orders stream joins: built before the stream starts (`tributary run` them first). */
const staticModels = ['customers_cln', 'menu', 'loyalty_rules', 'loyalty_offers'];

export default defineProject({
  name: 'customer_loyalty',
  description: "A beverage shop's loyalty programme: customers (batch), orders from a spool folder (speed), points, tiers and offers (serving)",
  // The refresh job rewrites loyalty and the tiers after each stream commit: an hour of replaced
  // files is history enough.
  lakeHistoryHours: 1,
  sources: {
    customers: {
      format: 'csv',
      path: 'data/customer.csv',
      description: 'The loyalty customers, 2,246 real rows, no header; card numbers in quotes',
      csv: { header: false },
      columns: {
        customer_id: 'BIGINT',
        home_store: 'INTEGER',
        customer_name: 'VARCHAR',
        email: 'VARCHAR',
        customer_since: 'DATE',
        loyalty_card_number: 'VARCHAR',
        birthdate: 'DATE',
        gender: 'VARCHAR',
        birth_year: 'INTEGER',
      },
      rules: [{ column: 'customer_id', notNull: true }],
    },
  },
  models: {
    customers_cln: { sql: 'models/customers_cln.sql', materialize: 'lake', description: 'the customers, cleaned (batch layer)' },
    menu: { sql: 'models/menu.sql', materialize: 'table', description: 'the six drinks and their prices' },
    loyalty_rules: { sql: 'models/loyalty_rules.sql', materialize: 'table', description: 'the programme: points per spend, tier and recency thresholds' },
    loyalty_offers: { sql: 'models/loyalty_offers.sql', materialize: 'table', description: 'the offer for each tier and recency segment' },
    // Run by the orders stream on each micro-batch (below), never by `tributary run`.
    transactions: { sql: 'models/transactions.sql', materialize: 'ephemeral' },
    customer_points: { sql: 'models/customer_points.sql', materialize: 'ephemeral' },
    loyalty: { sql: 'models/loyalty.sql', materialize: 'lake', partitionBy: { data_dt: 'data_dt' }, description: 'spend and points per customer and day' },
    customer_tiers: { sql: 'models/customer_tiers.sql', materialize: 'lake', partitionBy: { as_of_dt: 'as_of_dt' }, description: 'each customer’s tier, segment and offer as of each day with orders' },
    customer_offers: { sql: 'models/customer_offers.sql', materialize: 'table', lookup: { key: 'cust_id' }, description: 'each customer’s tier and offer now, by key' },
  },
  streams: {
    orders: {
      input: {
        kind: 'spool',
        dir: incoming,
        pattern: 'orders-*.txt',
        format: { delimiter: '|', fields: ['customer_id', 'menu', 'unix_seconds'] },
        // Writers rename complete files into place; ten quiet seconds also cover a plain copy.
        completed: { action: 'move', to: `${spool}/done`, quietSeconds: 10 },
      },
      binds: 'orders',
      columns: { customer_id: 'BIGINT', menu: 'VARCHAR', ordered_at: { type: 'TIMESTAMP', key: 'unix_seconds', from: 'epoch_s' } },
      triggerMs: 500,
      sinks: {
        lake: {
          kind: 'lake',
          tables: { transactions_cln: { model: 'transactions', partitionBy: { odr_dt: 'CAST(odr_tms AS DATE)' } } },
        },
        serving: {
          kind: 'duckdb',
          tables: {
            customer_points: {
              model: 'customer_points',
              materialize: { kind: 'merge', keys: ['cust_id'], merge: { points: 'sum', spend: 'sum', orders: 'sum', last_order_at: 'max' } },
              lookup: { key: 'cust_id' },
            },
          },
        },
      },
    },
  },
  jobs: {
    // The batch layer's recompute (the original's daily overwrite): at midnight UTC, yesterday's
    // loyalty partition and tiers from every order of the day, then the offers and the checks.
    daily: defineJob({
      description: "rebuilds yesterday's loyalty partition, the tiers as of yesterday and the current offers, then checks them",
      schedule: '@daily',
      tasks: {
        serving: { kind: 'models', select: ['loyalty+'], retries: 2, retryDelaySeconds: 30 },
        checks: { kind: 'checks', after: ['serving'] },
      },
    }),
    // The dashboard's batch views follow the day: after the orders stream commits, everything
    // downstream of its orders is rebuilt (runs coalesce while one is queued).
    refresh: defineJob({
      description: 'rebuilds loyalty, the tiers and the offers whole after the orders stream commits',
      schedule: { onTablesChanged: ['transactions_cln'] },
      tasks: { serving: { kind: 'models', select: ['loyalty+'], fullRefresh: true } },
    }),
  },
  dashboards: { loyalty: 'dashboards/loyalty.ts' },
  generators: {
    orders: { module: 'generators/orders.ts', description: 'order lines for the real customers into the spool folder; live in the demo (a file every 30 s, or --rate N a second)' },
  },
  demo: { runBatch: staticModels, writer: { generator: 'orders', out: incoming } },
  lab: {
    examples: [
      { title: 'A customer’s points now', sql: 'SELECT * FROM customer_points WHERE cust_id = 5012' },
      { title: 'Spend per day', sql: 'SELECT data_dt, sum(spnd_amt) AS spend, sum(points) AS points, count(*) AS customers\nFROM loyalty\nGROUP BY 1\nORDER BY 1' },
      { title: 'Offers to send', sql: 'SELECT tier, segment, offer_code, count(*) AS customers\nFROM customer_offers\nGROUP BY ALL\nORDER BY customers DESC' },
      { title: 'Revenue per drink', sql: 'SELECT odr_menu, count(*) AS orders, sum(odr_prc) AS revenue\nFROM transactions_cln\nGROUP BY 1\nORDER BY 3 DESC NULLS LAST' },
    ],
  },
  checks: [
    { table: 'customers_cln', column: 'cust_id', test: 'unique' },
    { table: 'customers_cln', column: 'cust_gender', test: 'accepted_values', values: ['MALE', 'FEMALE', 'NA'] },
    { table: 'customer_points', column: 'cust_id', test: 'unique' },
    { table: 'customer_offers', column: 'offer_code', test: 'not_null' },
    { table: 'loyalty', test: 'sql', sql: 'SELECT cust_id, data_dt FROM loyalty GROUP BY ALL HAVING count(*) > 1' },
    {
      table: 'loyalty',
      test: 'sql',
      // Each finished day up to the last one built: loyalty's spend is the spend of the day's orders.
      // A late file for a built day shows here until that day is rebuilt (`tributary run loyalty+
      // --date DAY`); days after the last one built are not built yet, not wrong.
      sql: `SELECT coalesce(l.data_dt, t.odr_dt) AS day, l.spend AS loyalty_spend, t.spend AS order_spend
            FROM (SELECT data_dt, sum(spnd_amt) AS spend FROM loyalty GROUP BY 1) AS l
            FULL JOIN (SELECT odr_dt, coalesce(sum(odr_prc), 0) AS spend FROM transactions_cln GROUP BY 1) AS t ON t.odr_dt = l.data_dt
            WHERE coalesce(l.data_dt, t.odr_dt) < current_date
              AND coalesce(l.data_dt, t.odr_dt) <= (SELECT max(data_dt) FROM loyalty)
              AND l.spend IS DISTINCT FROM t.spend`,
    },
  ],
});
