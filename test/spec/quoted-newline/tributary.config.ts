import { defineProject } from 'tributary';
// A quoted value holding line breaks is one record; a row after it is quarantined at its physical line.
export default defineProject({
  name: 'spec',
  sources: { notes: { format: 'csv', path: 'data/notes.csv', columns: { id: 'INTEGER', note: 'VARCHAR' }, rules: [{ column: 'id', max: 9 }] } },
  models: { notes: { sql: "SELECT * FROM {{ source('notes') }}", materialize: 'table' } },
});
