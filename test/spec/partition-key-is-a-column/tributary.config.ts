import { defineProject } from 'tributary';
// Partitioning by columns of the model under their own names, as Spark's partitionBy('year', 'artist_id').
export default defineProject({
  name: 'spec',
  sources: {
    songs: { format: 'json', path: 'data/*.json', columns: { song_id: 'VARCHAR', artist_id: 'VARCHAR', year: 'INTEGER', duration: 'DOUBLE' } },
  },
  models: {
    songs: { sql: "SELECT * FROM {{ source('songs') }}", materialize: 'lake', partitionBy: { year: 'year', artist_id: 'artist_id' } },
  },
});
