import { defineProject } from 'tributary';
// The engine reads a DATE from any text that starts with one: '2024-03-01 10:00:00' and
// '2024-03-01 anything' would load as 2024-03-01. A date is a day or that day's midnight; anything
// else is quarantined with the reason, from CSV and JSON alike.
export default defineProject({
  name: 'spec',
  sources: {
    shipments: { format: 'csv', path: 'data/shipments.csv', columns: { id: 'INTEGER', shipped_on: 'DATE' } },
    returns: { format: 'jsonl', path: 'data/returns.jsonl', columns: { id: 'INTEGER', returned_on: 'DATE' } },
  },
  models: {
    shipments: { sql: "SELECT * FROM {{ source('shipments') }}", materialize: 'table' },
    returns: { sql: "SELECT * FROM {{ source('returns') }}", materialize: 'table' },
  },
});
