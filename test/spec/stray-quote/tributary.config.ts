import { defineProject } from 'tributary';
// An opening quote that never closes: the reader would take the rest of the file into one value.
export default defineProject({
  name: 'spec',
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER', brand: 'VARCHAR', amount: 'DECIMAL(8,2)' } } },
  models: { orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'table' } },
});
