import { defineJob, defineProject } from 'tributary';
import { totalsMatch } from './components/totals-match.js';

/**
 * System B of the product brief: a toy retailer. Stores drop a CSV file a day under
 * `drops/dt=YYYY-MM-DD/`; the drift rules map the stores' drifted exports onto `sales_lines` and
 * quarantine incomplete records; SQL models give daily and weekly sales by store, region, category
 * and brand, the brand-client report (row-scoped tokens: LEGO sees LEGO) and an item-to-item
 * recommender rebuilt at midnight. The web shop's access log is read from a spool folder, its
 * online orders from a topic that two consumer groups read independently, and till events from a
 * store-keyed topic whose hot stores get partitions of their own.
 *
 * RETAIL_DATA points at another generated folder (the benchmark's month); the default is the
 * committed 3-day sample. RETAIL_ACCESS_LOGS is the folder the access-log spool reads.
 */
const data = process.env.RETAIL_DATA ?? 'data/sample';
const accessLogs = process.env.RETAIL_ACCESS_LOGS ?? `${data}/streams/access_log/dt=2024-12-06`;
/**
 * The online orders: the collector's embedded log on a laptop; at scale the broker topic the
 * workers share, by URL (RETAIL_ORDERS_INPUT=kafka://host:9092/online_orders).
 */
const ordersInput = process.env.RETAIL_ORDERS_INPUT ?? { kind: 'log' as const, topic: 'online_orders' };

const SALES_COLUMNS = {
  sale_id: 'VARCHAR',
  sold_at: 'TIMESTAMP',
  store_id: 'INTEGER',
  sku: 'VARCHAR',
  quantity: 'INTEGER',
  unit_price: 'DECIMAL(10,2)',
  discount: 'DECIMAL(10,2)',
  customer_id: 'BIGINT',
  payment_type: 'VARCHAR',
} as const;
/** Required values: an empty one quarantines the line. `customer_id` is empty for sales without a loyalty card. */
const REQUIRED = ['sale_id', 'sold_at', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'];

const ORDER_COLUMNS = { order_id: 'VARCHAR', ordered_at: 'TIMESTAMP', customer_id: 'BIGINT', channel: 'VARCHAR', total: 'DECIMAL(10,2)', lines: 'JSON' } as const;

/** The models whose tables the streams and dashboards join, built before the streams start. */
const referenceModels = ['stores', 'products', 'customers'];
/** The recommender and its hold-out evaluation: what the midnight job rebuilds. */
const recommenderModels = [
  'rec_holdout_cutoff',
  'rec_training_events',
  'rec_interactions',
  'rec_item_similarity',
  'rec_item_popularity',
  'rec_customers',
  'rec_popularity_recommendations',
  'rec_recommendations',
  'rec_holdout_truth',
  'rec_evaluation',
];

export default defineProject({
  name: 'retail_sales',
  description: 'A toy retailer: daily store drops with schema drift, sales for the retailer and its brand clients, web-shop streams, a recommender',
  sources: {
    store_drops: {
      format: 'csv',
      path: `${data}/drops/dt=*/store_*.csv`,
      description: "One CSV file per store and day (Hive partition dt); some stores' exports drift",
      columns: SALES_COLUMNS,
      rules: REQUIRED.map((column) => ({ column, notNull: true })),
      // #region drift
      drift: {
        renames: { qty: 'quantity' },
        ignore: ['promo_code'],
        defaults: { discount: '0.00' },
        casts: { unit_price: { decimalSeparator: ',' }, discount: { decimalSeparator: ',' }, quantity: { integral: true } },
        delimiter: 'sniff',
      },
      // #endregion drift
    },
    stores_csv: {
      format: 'csv',
      path: `${data}/reference/stores.csv`,
      columns: { store_id: 'INTEGER', name: 'VARCHAR', region: 'VARCHAR', state: 'VARCHAR', city: 'VARCHAR', format: 'VARCHAR', opened_on: 'DATE' },
      rules: [{ column: 'store_id', notNull: true }],
    },
    products_csv: {
      format: 'csv',
      path: `${data}/reference/products.csv`,
      columns: { sku: 'VARCHAR', name: 'VARCHAR', category: 'VARCHAR', brand: 'VARCHAR', manufacturer: 'VARCHAR', theme: 'VARCHAR', age_group: 'VARCHAR', list_price: 'DECIMAL(10,2)' },
      rules: [{ column: 'sku', notNull: true }, { column: 'brand', notNull: true }],
    },
    customers_csv: {
      format: 'csv',
      path: `${data}/reference/customers.csv`,
      columns: { customer_id: 'BIGINT', home_store_id: 'INTEGER', state: 'VARCHAR', joined_on: 'DATE', loyalty_tier: 'VARCHAR', child_age_group: 'VARCHAR' },
      rules: [{ column: 'customer_id', notNull: true }],
    },
    behaviour_events: {
      format: 'jsonl',
      path: `${data}/streams/behaviour/dt=*/behaviour.ndjson`,
      description: "Logged-in shoppers' views, cart adds and purchases (what the access log and the orders imply)",
      columns: { customer_id: 'BIGINT', sku: 'VARCHAR', action: 'VARCHAR', at: 'TIMESTAMP' },
      rules: [{ column: 'customer_id', notNull: true }, { column: 'sku', notNull: true }],
    },
  },
  models: {
    sales_lines: {
      // dt is the drop's folder (dt=YYYY-MM-DD), typed as the day it is.
      sql: "SELECT * EXCLUDE (dt), CAST(dt AS DATE) AS dt FROM {{ source('store_drops') }}",
      materialize: 'lake',
      partitionBy: { dt: 'dt' },
      description: 'every valid sales line of the drops, drift mapped; a partition per day',
    },
    stores: { sql: "SELECT * FROM {{ source('stores_csv') }}", materialize: 'table', description: 'stores: region, state, format' },
    products: { sql: "SELECT * FROM {{ source('products_csv') }}", materialize: 'table', description: 'products: category, brand, theme' },
    customers: { sql: "SELECT * FROM {{ source('customers_csv') }}", materialize: 'table', description: 'loyalty customers' },
    behaviour: { sql: "SELECT * FROM {{ source('behaviour_events') }}", materialize: 'table', description: 'behaviour events for the recommender' },
    sales_enriched: { sql: 'models/sales_enriched.sql', materialize: 'lake', partitionBy: { dt: 'dt' }, description: 'sales lines with store and product attributes, gross and net' },
    daily_sales_by_store: { sql: 'models/daily_sales_by_store.sql', materialize: 'table', description: 'per day and store' },
    weekly_sales_by_region: { sql: 'models/weekly_sales_by_region.sql', materialize: 'table', description: 'per Monday-based week and region' },
    daily_sales_by_category_brand: { sql: 'models/daily_sales_by_category_brand.sql', materialize: 'table', description: 'per day, category and brand' },
    brand_daily_sales: { sql: 'models/brand_daily_sales.sql', materialize: 'table', description: 'brand report: per brand and day (row-scoped by brand)' },
    brand_weekly_sales: { sql: 'models/brand_weekly_sales.sql', materialize: 'table', description: 'brand report: per brand and week, with the change on the previous week' },
    brand_top_skus: { sql: 'models/brand_top_skus.sql', materialize: 'table', description: "brand report: each brand's top 20 SKUs per week" },
    brand_sales_by_region: { sql: 'models/brand_sales_by_region.sql', materialize: 'table', description: 'brand report: per brand, week and region, with shares' },
    brand_category_share: { sql: 'models/brand_category_share.sql', materialize: 'table', description: "brand report: the brand's share of each category" },
    store_skew: { sql: 'models/store_skew.sql', materialize: 'table', description: 'lines per store and the hot stores (≥ 5 % of lines)' },
    ...Object.fromEntries(recommenderModels.map((name) => [name, { sql: `models/${name}.sql`, materialize: 'table' as const }])),
    // Run by the streams on each micro-batch, never by `tributary run`.
    order_archive: { sql: "SELECT order_id, ordered_at, customer_id, channel, total, lines FROM {{ source('online_orders') }}", materialize: 'ephemeral' },
    order_lines: {
      sql: `SELECT order_id, ordered_at, customer_id, l.sku, l.quantity, l.unit_price, channel
            FROM (SELECT order_id, ordered_at, customer_id, channel, unnest(from_json(lines, '[{"sku":"VARCHAR","quantity":"INTEGER","unit_price":"DECIMAL(10,2)"}]')) AS l FROM {{ source('online_orders') }})`,
      materialize: 'ephemeral',
    },
    web_requests: { sql: "SELECT * FROM {{ source('access_log') }}", materialize: 'ephemeral' },
    till_lines: { sql: "SELECT store_id, sale_id, sku, quantity, net_sales FROM {{ source('till_sales') }}", materialize: 'ephemeral' },
  },
  topics: {
    // Keyed by order id; both consumer groups below read every order.
    online_orders: { partitions: 3, keyField: 'order_id' },
    // Till events keyed by store: the flagships (each ≥ 5 % of the lines in sales_lines) get a
    // partition of their own, learned from the table and relearned whenever it changes.
    till_sales: { partitions: 8, keyField: 'store_id', hotKeys: { from: { table: 'sales_lines', column: 'store_id' }, share: 0.05, max: 4 } },
  },
  streams: {
    access_log: {
      input: { kind: 'spool', dir: accessLogs, pattern: 'access_log*', format: { kind: 'combined-log', dashAsNull: true } },
      binds: 'access_log',
      // remote_user is the logged-in shopper's customer id.
      columns: {
        remote_host: 'VARCHAR', ident: 'VARCHAR', remote_user: 'BIGINT', time: 'TIMESTAMP', method: 'VARCHAR', path: 'VARCHAR',
        protocol: 'VARCHAR', status: 'SMALLINT', bytes: 'BIGINT', referrer: 'VARCHAR', user_agent: 'VARCHAR',
      },
      triggerMs: 1000,
      sinks: { serving: { kind: 'duckdb', tables: { web_requests: { model: 'web_requests' } } } },
    },
    // The original's two Kafka consumer groups on the orders topic, each with offsets of its own.
    orders_archive: {
      input: ordersInput,
      group: 'lake-archive',
      binds: 'online_orders',
      columns: ORDER_COLUMNS,
      rules: [{ column: 'order_id', notNull: true }],
      triggerMs: 1000,
      sinks: { archive: { kind: 'lake', tables: { online_orders_archive: { model: 'order_archive', partitionBy: { dt: 'CAST(ordered_at AS DATE)' } } } } },
    },
    orders_live: {
      input: ordersInput,
      group: 'live-sales',
      binds: 'online_orders',
      columns: ORDER_COLUMNS,
      rules: [{ column: 'order_id', notNull: true }],
      triggerMs: 1000,
      sinks: { sales: { kind: 'duckdb', tables: { online_order_lines: { model: 'order_lines' } } } },
    },
    till_sales: {
      input: { kind: 'log', topic: 'till_sales' },
      binds: 'till_sales',
      columns: { store_id: 'INTEGER', sale_id: 'VARCHAR', sku: 'VARCHAR', quantity: 'INTEGER', net_sales: 'DECIMAL(14,2)' },
      triggerMs: 1000,
      sinks: { serving: { kind: 'duckdb', tables: { live_till_lines: { model: 'till_lines' } } } },
    },
  },
  jobs: {
    // The day's drops land overnight: at midnight UTC the ETL loads them and rebuilds the sales
    // models, then the checks.
    daily_sales: defineJob({
      description: 'loads the drops into sales_lines (drift mapped, incomplete lines quarantined), rebuilds the sales and brand models, runs the checks',
      schedule: '@daily',
      tasks: {
        reference: { kind: 'models', select: referenceModels },
        sales: { kind: 'models', select: ['sales_lines+'], after: ['reference'], retries: 2, retryDelaySeconds: 60 },
        checks: { kind: 'checks', after: ['sales'] },
      },
    }),
    // The recommender is rebuilt from the day's behaviour at midnight, with its hold-out evaluation.
    recommender: defineJob({
      description: 'rebuilds the item-to-item recommender and its evaluation against popularity from all behaviour',
      schedule: '0 0 * * *',
      tasks: {
        behaviour: { kind: 'models', select: ['behaviour', 'customers'] },
        recommender: { kind: 'models', select: recommenderModels, after: ['behaviour'] },
      },
    }),
  },
  dashboards: { retailer: 'dashboards/retailer.ts', brand: 'dashboards/brand.ts' },
  replayers: {
    online_orders: { module: 'replayers/online-orders.ts', topic: 'online_orders', description: "the sample's online orders, replayed now with fresh order ids" },
  },
  demo: { runBatch: true, replay: 'online_orders' },
  // #region access
  access: {
    clients: {
      // The LEGO brand client: brand_* rows of LEGO only, the store list, the brand dashboard.
      lego: { tokenEnv: 'LEGO_TOKEN', rows: { brand: 'LEGO' }, public: ['stores'], dashboards: ['brand'] },
    },
  },
  // #endregion access
  lab: {
    examples: [
      { title: 'Net sales per day', sql: 'SELECT dt, sum(net_sales) AS net_sales, sum(lines) AS lines FROM daily_sales_by_store GROUP BY dt ORDER BY dt' },
      { title: 'The hot stores', sql: 'SELECT * FROM store_skew WHERE is_hot ORDER BY rank' },
      { title: 'LEGO by region this week', sql: "SELECT * FROM brand_sales_by_region WHERE brand = 'LEGO' ORDER BY week DESC, net_sales DESC" },
      { title: 'Recommender vs popularity', sql: 'SELECT * FROM rec_evaluation ORDER BY metric, model' },
    ],
  },
  checks: [
    { table: 'sales_lines', column: 'sku', test: 'not_null' },
    { table: 'sales_lines', test: 'sql', sql: 'SELECT sale_id, sku FROM sales_lines GROUP BY ALL HAVING count(*) > 1' },
    { table: 'sales_enriched', column: 'brand', test: 'not_null' },
    { table: 'daily_sales_by_store', column: 'store_id', test: 'relationships', to: { table: 'stores', column: 'store_id' } },
    // The left joins keep every line: the enriched net sales equal the loaded lines'.
    totalsMatch.configure({ table: 'sales_enriched', measure: 'sum(net_sales)', against: { table: 'sales_lines', measure: 'sum(quantity * unit_price - discount)' } }),
    // The store rollup drops no store and doubles no line.
    totalsMatch.configure({ table: 'daily_sales_by_store', measure: 'sum(net_sales)', against: { table: 'sales_enriched', measure: 'sum(net_sales)' } }),
  ],
  // A check of the project's own (components/totals-match.ts): `totals_match` is then a test the checks may name.
  components: [totalsMatch],
});
