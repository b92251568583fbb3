import { defineProject } from 'tributary';
// A store writes quantities as decimals (2.0): the declared cast takes whole numbers; 2.5 is quarantined, never rounded.
export default defineProject({
  name: 'spec',
  sources: {
    sales: {
      format: 'csv',
      path: 'data/*.csv',
      columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)' },
      rules: ['sale_id', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'].map((column) => ({ column, notNull: true })),
      drift: { casts: { quantity: { integral: true } } },
    },
  },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
