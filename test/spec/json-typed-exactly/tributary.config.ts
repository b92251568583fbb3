import { defineProject } from 'tributary';
// A value is typed exactly or quarantined with its reason: never rounded, bent or nulled.
export default defineProject({
  name: 'spec',
  sources: {
    events: {
      format: 'jsonl',
      path: 'data/events.jsonl',
      columns: { id: 'BIGINT', price: 'DECIMAL(10,2)', score: 'DOUBLE', user_id: 'INTEGER', at: { type: 'TIMESTAMP', from: 'epoch_ms' } },
      json: { keys: 'camelCase', emptyAsNull: true },
    },
  },
  models: { events: { sql: "SELECT * FROM {{ source('events') }}", materialize: 'table' } },
});
