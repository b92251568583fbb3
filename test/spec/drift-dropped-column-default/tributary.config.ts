import { defineProject } from 'tributary';
// A store stops exporting discount: the declared default applies to its rows; an empty discount in a file that has the column is still a missing value.
export default defineProject({
  name: 'spec',
  sources: {
    sales: {
      format: 'csv',
      path: 'data/*.csv',
      columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)' },
      rules: ['sale_id', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'].map((column) => ({ column, notNull: true })),
      drift: { defaults: { discount: '0.00' } },
    },
  },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
