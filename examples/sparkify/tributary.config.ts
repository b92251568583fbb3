import { defineJob, defineProject } from 'tributary';

/**
 * System E of the product brief: Sparkify, a music-streaming app. A data lake of JSON (a song
 * catalogue of one object per file, and a daily log of JSON lines) becomes a star schema in
 * Parquet: fact `songplays`; dimensions `users`, `songs`, `artists`, `time`.
 */

/** The real data, in the layout the original job globs. */
const DATA = 'data';

/** Both timestamps of the log are epoch milliseconds (`registration` written as a float). */
const epochMs = { type: 'TIMESTAMP', from: 'epoch_ms' } as const;

/** Dashboard numbers the lab starts from; the dashboard's own queries are in dashboards/queries.sql. */
const labExamples = [
  {
    title: 'Plays per day',
    sql: 'SELECT CAST(start_time AS DATE) AS day, count(*) AS plays\nFROM songplays\nGROUP BY ALL\nORDER BY day',
  },
  {
    title: 'Busiest hours (UTC)',
    sql: 'SELECT t.hour, count(*) AS plays\nFROM songplays p\nJOIN time t USING (start_time)\nGROUP BY ALL\nORDER BY plays DESC\nLIMIT 5',
  },
  {
    title: 'Most active users and their level now',
    sql: 'SELECT u.user_id, u.first_name, u.last_name, u.level, count(*) AS plays\nFROM songplays p\nJOIN users u USING (user_id)\nGROUP BY ALL\nORDER BY plays DESC\nLIMIT 10',
  },
  {
    title: 'Plays matched to the song catalogue',
    sql: 'SELECT p.start_time, s.title, a.name AS artist, p.user_id\nFROM songplays p\nJOIN songs s USING (song_id)\nJOIN artists a ON a.artist_id = p.artist_id',
  },
  {
    title: 'Songs by year and artist (partition columns)',
    sql: 'SELECT year, artist_id, count(*) AS songs\nFROM songs\nGROUP BY ALL\nORDER BY year DESC, artist_id',
  },
];

export default defineProject({
  name: 'sparkify',
  description: 'Star schema from a data lake of JSON logs: song plays, users, songs, artists, time',
  sources: {
    song_files: {
      format: 'json',
      path: `${DATA}/song_data/*/*/*/*.json`,
      description: 'The song catalogue: one JSON object per file (a song and its artist), nested folders',
      columns: {
        num_songs: 'INTEGER',
        artist_id: 'VARCHAR',
        artist_latitude: 'DOUBLE',
        artist_longitude: 'DOUBLE',
        artist_location: 'VARCHAR',
        artist_name: 'VARCHAR',
        song_id: 'VARCHAR',
        title: 'VARCHAR',
        duration: 'DOUBLE',
        year: 'INTEGER',
      },
      // An empty artist_location is an unknown location.
      json: { emptyAsNull: true },
      rules: [
        { column: 'song_id', notNull: true },
        { column: 'artist_id', notNull: true },
        { column: 'title', notNull: true },
        { column: 'duration', min: 0 },
      ],
      // A song left out would silently unmatch its plays: a file that does not type fails the load
      // (the rows are still kept for `tributary quarantine --run`), and nothing commits.
      maxQuarantined: 0,
    },
    log_events: {
      format: 'jsonl',
      // {yyyy}/{mm}/{ds} take the run's day, so a daily run reads one file; a run without a day
      // reads them all.
      path: `${DATA}/log_data/{yyyy}/{mm}/{ds}-events.json`,
      description: 'What users do in the app, one JSON line per event, one file per UTC day',
      columns: {
        artist: 'VARCHAR',
        auth: 'VARCHAR',
        first_name: 'VARCHAR',
        gender: 'VARCHAR',
        item_in_session: 'INTEGER',
        last_name: 'VARCHAR',
        length: 'DOUBLE',
        level: 'VARCHAR',
        location: 'VARCHAR',
        method: 'VARCHAR',
        page: 'VARCHAR',
        registration: epochMs,
        session_id: 'INTEGER',
        song: 'VARCHAR',
        status: 'INTEGER',
        ts: epochMs,
        user_agent: 'VARCHAR',
        // Written as text ("69"); an empty string for a logged-out user becomes NULL.
        user_id: 'INTEGER',
      },
      json: { emptyAsNull: true, keys: 'camelCase' },
      rules: [
        { column: 'ts', notNull: true },
        { column: 'session_id', notNull: true },
        { column: 'item_in_session', notNull: true, min: 0 },
        { column: 'page', notNull: true },
        { column: 'auth', accepted: ['Logged In', 'Logged Out', 'Guest', 'Cancelled'] },
        { column: 'level', accepted: ['free', 'paid'] },
        { column: 'method', accepted: ['GET', 'PUT'] },
        { column: 'length', min: 0 },
      ],
      // The log is machine-written: a line that does not type means its format changed upstream,
      // and a day with plays missing would skew every number downstream. The day fails instead,
      // commits nothing, and its rows wait in `tributary quarantine --run`.
      maxQuarantined: 0,
    },
  },
  models: {
    staging_songs: { sql: 'models/staging_songs.sql', materialize: 'lake', description: 'The song catalogue as loaded: one row per song file' },
    staging_events: {
      sql: 'models/staging_events.sql',
      materialize: 'lake',
      partitionBy: { dt: 'dt' },
      description: 'The log as loaded: one row per event, partitioned by its UTC day',
    },
    songplays: {
      sql: 'models/songplays.sql',
      materialize: 'lake',
      partitionBy: { year: 'year', month: 'month' },
      // A daily run replaces that day's plays inside their month's partition.
      timeColumn: 'start_time',
      description: 'Fact: one row per song played by a logged-in user',
    },
    // Rebuilt from every staged event on each run: a user's latest level may come from any day.
    users: { sql: 'models/users.sql', materialize: 'table', description: 'Dimension: one row per user, with their latest level' },
    songs: {
      sql: 'models/songs.sql',
      materialize: 'lake',
      partitionBy: { year: 'year', artist_id: 'artist_id' },
      description: 'Dimension: one row per song of the catalogue',
    },
    artists: { sql: 'models/artists.sql', materialize: 'lake', description: 'Dimension: one row per artist, whatever the spellings of its location' },
    time: {
      sql: 'models/time.sql',
      materialize: 'lake',
      partitionBy: { year: 'year', month: 'month' },
      timeColumn: 'start_time',
      description: 'Dimension: the parts of each play time, UTC',
    },
  },
  checks: [
    { table: 'songplays', column: 'songplay_id', test: 'unique' },
    { table: 'songplays', column: 'songplay_id', test: 'not_null' },
    { table: 'songplays', column: 'start_time', test: 'not_null' },
    { table: 'songplays', column: 'user_id', test: 'not_null' },
    { table: 'songplays', column: 'user_id', test: 'relationships', to: { table: 'users', column: 'user_id' } },
    { table: 'songplays', column: 'start_time', test: 'relationships', to: { table: 'time', column: 'start_time' } },
    { table: 'songplays', column: 'song_id', test: 'relationships', to: { table: 'songs', column: 'song_id' } },
    { table: 'songplays', column: 'artist_id', test: 'relationships', to: { table: 'artists', column: 'artist_id' } },
    { table: 'users', column: 'user_id', test: 'unique' },
    { table: 'users', column: 'user_id', test: 'not_null' },
    { table: 'users', column: 'level', test: 'accepted_values', values: ['free', 'paid'] },
    { table: 'songs', column: 'song_id', test: 'unique' },
    { table: 'songs', column: 'song_id', test: 'not_null' },
    { table: 'artists', column: 'artist_id', test: 'unique' },
    { table: 'artists', column: 'artist_id', test: 'not_null' },
    { table: 'time', column: 'start_time', test: 'unique' },
    { table: 'time', column: 'start_time', test: 'not_null' },
  ],
  // #region jobs
  jobs: {
    // The original Airflow DAG, a day at a time: set up, wait for the day's log, load it into the
    // star schema, check it, tear down whatever happened.
    daily: defineJob({
      description: "Loads a day of the log into the star schema and checks it",
      schedule: '@daily',
      start: '2018-11-01',
      end: '2018-11-30',
      catchup: true,
      defaults: { retries: 2, retryDelaySeconds: 60 },
      tasks: {
        setup: {
          kind: 'function',
          module: 'tasks/resources.ts',
          export: 'prepareScratch',
          description: 'Creates the run’s scratch area and records the day’s inputs',
        },
        wait_for_log: {
          kind: 'sensor',
          files: `${DATA}/log_data/*/*/{{ ds }}-events.json`,
          // Met once the file kept its size between two pokes, or at once when nothing wrote to it for a poke interval.
          pokeSeconds: 15,
          // A day's file that has not come within six hours is an incident, not a delay.
          timeoutSeconds: 6 * 3600,
          after: ['setup'],
        },
        song_dimensions: {
          kind: 'models',
          select: ['staging_songs', 'songs', 'artists'],
          // The catalogue has no day: it is rebuilt whole, whatever the run's interval.
          fullRefresh: true,
          after: ['setup'],
        },
        load_events: { kind: 'models', select: ['staging_events'], after: ['wait_for_log'] },
        facts: { kind: 'models', select: ['songplays', 'time'], after: ['load_events', 'song_dimensions'] },
        user_dimension: { kind: 'models', select: ['users'], after: ['load_events'] },
        check: { kind: 'checks', after: ['facts', 'user_dimension'] },
        teardown: {
          kind: 'function',
          module: 'tasks/resources.ts',
          export: 'removeScratch',
          after: ['check'],
          // Like terminating the original's cluster: whether the run succeeded or not.
          triggerRule: 'all_done',
        },
      },
    }),
  },
  // #endregion jobs
  dashboards: { sparkify: 'dashboards/sparkify.ts' },
  lab: { examples: labExamples },
});
