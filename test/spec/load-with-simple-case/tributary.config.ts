import { defineProject } from 'tributary';
// A load may use a simple CASE (`CASE x WHEN …`): its parse tree holds 64-bit numbers that must
// survive the rewrite that carries file and line along.
export default defineProject({
  name: 'spec',
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER', status: 'VARCHAR' } } },
  models: {
    orders: {
      sql: "SELECT id, CASE status WHEN 'P' THEN 'paid' WHEN 'R' THEN 'refunded' ELSE 'other' END AS status_name FROM {{ source('orders') }}",
      materialize: 'table',
    },
  },
});
