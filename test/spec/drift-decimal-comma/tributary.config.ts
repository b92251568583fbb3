import { defineProject } from 'tributary';
// A store writes decimals with a comma (quoted): the declared cast reads them exactly; a value it cannot read exactly is quarantined, never rounded.
export default defineProject({
  name: 'spec',
  sources: {
    sales: {
      format: 'csv',
      path: 'data/*.csv',
      columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)' },
      rules: ['sale_id', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'].map((column) => ({ column, notNull: true })),
      drift: { casts: { unit_price: { decimalSeparator: ',' }, discount: { decimalSeparator: ',' } } },
    },
  },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
