import { defineProject } from 'tributary';
// A load that quarantines every row is a failure, never a success that wrote nothing.
export default defineProject({
  name: 'spec',
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER', amount: 'DECIMAL(8,2)' }, rules: [{ column: 'amount', min: 0 }] } },
  models: { orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'table' } },
});
