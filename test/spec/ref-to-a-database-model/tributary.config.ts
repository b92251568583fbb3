import { defineProject } from 'tributary';
// A model cannot read a model written to PostgreSQL (the engine does not read there): the plan
// says so before anything runs, and what to do instead.
export default defineProject({
  name: 'spec',
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER' } } },
  models: {
    orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: { kind: 'postgres', urlEnv: 'SPEC_UNSET_DATABASE_URL' } },
    order_count: { sql: "SELECT count(*) AS n FROM {{ ref('orders') }}", materialize: 'table' },
  },
});
