import { defineProject } from 'tributary';
// A load may project, rename and derive columns; its rows are still all accounted for.
export default defineProject({
  name: 'spec',
  sources: {
    people: {
      format: 'csv',
      path: 'data/people.csv',
      columns: { id: 'INTEGER', name: 'VARCHAR', age: 'INTEGER', secret: 'VARCHAR' },
      rules: [{ column: 'age', min: 0 }],
    },
  },
  models: {
    people: { sql: "SELECT id AS person_id, upper(trim(name)) AS person, age + 1 AS age_next_year FROM {{ source('people') }}", materialize: 'table' },
  },
});
