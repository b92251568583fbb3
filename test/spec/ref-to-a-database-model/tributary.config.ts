import { defineProject } from 'tributary';
// A model cannot read a model written to PostgreSQL (the engine does not read there): the plan
// says so before anything runs, and what to do instead.
export default defineProject({
  name: 'spec',
  targets: { prod: { stores: { warehouse: { kind: 'postgres', urlEnv: 'SPEC_UNSET_DATABASE_URL' } } } },
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER' } } },
  models: {
    orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: { kind: 'table', store: 'warehouse' } },
    order_count: { sql: "SELECT count(*) AS n FROM {{ ref('orders') }}", materialize: 'table' },
  },
});
