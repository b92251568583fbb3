import { defineProject } from 'tributary';
// A file that mixes LF and CRLF line endings (one line pasted from Windows) loads; each line keeps
// its number, and a bad line after the odd one is still named where it is.
export default defineProject({
  name: 'spec',
  sources: { readings: { format: 'csv', path: 'data/readings.csv', columns: { id: 'INTEGER', value: 'DOUBLE' } } },
  models: { readings: { sql: "SELECT * FROM {{ source('readings') }}", materialize: 'table' } },
});
