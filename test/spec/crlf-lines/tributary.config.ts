import { defineProject } from 'tributary';
// Windows line endings: lines count the same, and a quarantined row's text starts with the row.
export default defineProject({
  name: 'spec',
  sources: { readings: { format: 'csv', path: 'data/readings.csv', columns: { id: 'INTEGER', value: 'DOUBLE' } } },
  models: { readings: { sql: "SELECT * FROM {{ source('readings') }}", materialize: 'table' } },
});
