import { defineProject } from 'tributary';
// Issue 19's two wrong results on a two-row project: a lake model written as { kind: 'lake' } and
// partitioned, read by another model. At 3ce1686 the first was taken for a database table ("written
// to MySQL, where the engine does not read") and, with partitionBy, refused as "not a lake table".
export default defineProject({
  name: 'spec',
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER', day: 'DATE', amount: 'DECIMAL(10,2)' } } },
  models: {
    orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: { kind: 'lake' }, partitionBy: { dt: 'day' } },
    revenue: { sql: "SELECT day, sum(amount) AS amount FROM {{ ref('orders') }} GROUP BY day", materialize: 'table' },
  },
});
