import { defineProject } from 'tributary';
// A store appends promo_code: declared as ignored, it is left out of the table (the crawled raw table keeps it).
export default defineProject({
  name: 'spec',
  sources: {
    sales: {
      format: 'csv',
      path: 'data/*.csv',
      columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)' },
      rules: ['sale_id', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'].map((column) => ({ column, notNull: true })),
      drift: { ignore: ['promo_code'] },
    },
  },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
