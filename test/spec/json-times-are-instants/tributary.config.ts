import { defineProject } from 'tributary';
// A time with an offset is the instant it names, stored in UTC (not the wall time with the offset
// dropped); epoch seconds keep their fraction; a time that names no instant is quarantined.
export default defineProject({
  name: 'spec',
  sources: {
    events: {
      format: 'jsonl',
      path: 'data/events.jsonl',
      columns: { id: 'INTEGER', at: 'TIMESTAMP', sent: { type: 'TIMESTAMP', from: 'epoch_s' } },
    },
  },
  models: { events: { sql: "SELECT * FROM {{ source('events') }} ORDER BY id", materialize: 'table' } },
});
