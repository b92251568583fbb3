import { defineProject } from 'tributary';
// The typed reader would round 2.5 into an INTEGER (3) and 12.999 into a DECIMAL(10,2) (13.00), and
// drop a timestamp's offset: such values are quarantined with the reason, and an offset is the instant it names.
export default defineProject({
  name: 'spec',
  sources: {
    sales: {
      format: 'csv',
      path: 'data/*.csv',
      columns: { sale_id: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', sold_at: 'TIMESTAMP' },
    },
  },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
