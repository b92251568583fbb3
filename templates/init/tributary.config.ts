import { defineProject } from 'tributary';

export default defineProject({
  name: 'my_project',
  sources: {
    orders: {
      format: 'csv', // csv | jsonl | json | parquet; .gz and .zip too
      path: 'data/orders*.csv', // globs; {date} is replaced by the run's date
      columns: { order_id: 'BIGINT', ordered_at: 'TIMESTAMP', customer: 'VARCHAR', amount: 'DECIMAL(10,2)' },
      rules: [
        { column: 'order_id', notNull: true },
        { column: 'amount', min: 0 },
      ],
    },
  },
  models: {
    orders: { sql: 'models/orders.sql', materialize: 'lake', partitionBy: { dt: 'CAST(ordered_at AS DATE)' } },
    daily_revenue: { sql: 'models/daily_revenue.sql', materialize: 'table' },
  },
  checks: [{ table: 'orders', column: 'order_id', test: 'unique' }],
  // Dashboard name → its file; `tributary up` serves it at http://127.0.0.1:7070.
  dashboards: { sales: 'dashboards/sales.ts' },
});
