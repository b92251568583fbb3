import { defineProject } from 'tributary';
// A number is judged by its value, however it is written: trailing zeros, a missing fraction, an
// exponent or a plus sign are the same number; a digit that a column cannot hold is refused.
export default defineProject({
  name: 'spec',
  sources: {
    amounts: {
      format: 'jsonl',
      path: 'data/amounts.jsonl',
      columns: { id: 'INTEGER', amount: 'DECIMAL(10,2)', units: 'BIGINT' },
    },
  },
  models: { amounts: { sql: "SELECT * FROM {{ source('amounts') }}", materialize: 'table' } },
});
