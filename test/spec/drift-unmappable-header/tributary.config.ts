import { defineProject } from 'tributary';
// A header the rules cannot map (an unknown column, a missing one without default): the file's rows are quarantined with what to declare; the other stores load.
export default defineProject({
  name: 'spec',
  sources: {
    sales: {
      format: 'csv',
      path: 'data/*.csv',
      columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)' },
      rules: ['sale_id', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'].map((column) => ({ column, notNull: true })),
      drift: { renames: { qty: 'quantity' } },
    },
  },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
