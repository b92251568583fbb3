import { defineJob, defineProject } from 'tributary';

/**
 * System C of the product brief: a health start-up's Segment events land as daily gzipped JSON-lines
 * drops; the fifteen transformations that used to run inside the warehouse run here, and their
 * results are loaded into PostgreSQL with explicit column types, one data interval at a time.
 *
 * Where each table lives:
 * - the pipeline (Tributary's lake and serving tables): `events` (the load), the per-event tables
 *   `stg_*` and `int_page_views`, the history tables `int_*`, and the four reports the dashboard
 *   shows `rpt_*`. A model in PostgreSQL cannot be read back by another model or a dashboard (the
 *   engine has no PostgreSQL reader), so whatever is read downstream is computed here;
 * - the warehouse (the store `warehouse` of the target): every result under the name analysts know
 *   (`pages`, `sessions`, `audience_overview`…). A warehouse table either publishes a pipeline
 *   table as it is, or is a report nothing else reads, computed straight into the warehouse. The
 *   target `dev` (the default) keeps the warehouse in the embedded DuckDB, so the example runs with
 *   no service; `prod` (`--target prod` or TRIBUTARY_TARGET=prod) puts it in PostgreSQL at
 *   WAREHOUSE_URL, with the same tables and numbers.
 *
 * Per data interval: the drop of day D holds the events received on D. Tables whose rows belong to
 * one drop (the base tables, page views, event counts) replace just that day's rows, by
 * received_at or dt, in one PostgreSQL transaction per table. Tables that need history (sessions,
 * stitching, new vs repeat, funnel, retention, attribution, and the per-event-day reports, which a
 * later drop can still change: offline devices deliver hours late) are rebuilt whole on each run.
 */

/**
 * The daily drops, `DROPS/YYYY/MM/DD/events-YYYY-MM-DD-N.json.gz`: the committed sample, or another
 * folder (the full-size month of `tributary generate segment`) named by SEGMENT_DROPS. A single
 * `tributary run` can also point the source elsewhere with `--source segment_events=PATH`.
 */
const drops = process.env.SEGMENT_DROPS ?? 'data/sample/drops';
/** A day's files, found by the day in their names: scheduler templates know `{{ ds }}`, not its parts. */
const dayFiles = `${drops}/**/events-{{ ds }}-*.json.gz`;

const warehouse = { kind: 'table', store: 'warehouse' } as const;

/** A pipeline table loaded into the warehouse as it is; with a time column, one interval's rows at a time. */
const publish = (from: string, description: string, timeColumn?: string) => ({
  sql: `SELECT * FROM {{ ref('${from}') }}`,
  materialize: warehouse,
  description,
  ...(timeColumn ? { timeColumn } : {}),
});

const slack = (message: string) => ({ urlEnv: 'SLACK_WEBHOOK_URL', message });

export default defineProject({
  name: 'segment_warehouse',
  description: 'Segment events of a health start-up: warehouse SQL moved into the pipeline, loaded into PostgreSQL with types, reconciled daily',
  // Sized up front (the original's third lesson). Every model holds bounded state: sessions are
  // found with windows, which sort and spill to disk, never with aggregates that keep a text per
  // session (those ran out of 8 GB on a month). A month of 30.6 M events, load to the PostgreSQL
  // warehouse, ran in 3.93 GB of memory at most with this limit (589 s on 2 cores; bare DuckDB and
  // dbt-duckdb with the same limit ran out of memory in int_sessions on two threads:
  // npm run bench -- segment); a day needs far less.
  engine: { memoryLimit: '3GB' },
  // #region targets
  targets: {
    dev: { description: 'every table in the embedded warehouse: nothing to start', stores: { warehouse: { kind: 'duckdb' } } },
    prod: { description: 'the warehouse tables in PostgreSQL at WAREHOUSE_URL', stores: { warehouse: { kind: 'postgres', urlEnv: 'WAREHOUSE_URL' } } },
  },
  target: 'dev',
  // #endregion targets
  sources: {
    segment_events: {
      format: 'jsonl',
      path: `${drops}/{yyyy}/{mm}/{dd}/*.json.gz`,
      json: { keys: 'camelCase' },
      // Only what the models use (the original's first lesson: 5 min to 30 s). context is read as the
      // struct of its needed fields; ip, userAgent, locale, campaign, library.version, channel and
      // sentAt are not read at all.
      columns: {
        message_id: 'VARCHAR',
        type: 'VARCHAR',
        event: 'VARCHAR',
        name: 'VARCHAR',
        anonymous_id: 'VARCHAR',
        user_id: 'VARCHAR',
        timestamp: 'TIMESTAMP',
        received_at: 'TIMESTAMP',
        context: 'STRUCT(page STRUCT(url VARCHAR, path VARCHAR, search VARCHAR, referrer VARCHAR, title VARCHAR), device STRUCT(type VARCHAR), library STRUCT(name VARCHAR))',
        properties: 'JSON',
        traits: 'JSON',
      },
      rules: [
        { column: 'type', notNull: true, accepted: ['track', 'page', 'identify'] },
        { column: 'message_id', notNull: true },
        { column: 'timestamp', notNull: true },
        { column: 'received_at', notNull: true },
      ],
      // maxQuarantined is left at Tributary's default, the larger of 10 rows and 1 % of the rows a load
      // reads, because that is what fits: the generator damages 3 to 8 lines a day whatever the
      // volume (cut-off JSON, a timestamp that is no date, no type), so a day's run always passes
      // (10), a month rebuilt in one run passes (1 % of 30 M), and a broken client sending bad
      // events by the thousand stops the load. Neither a count nor a share written here fits both.
    },
  },
  models: {
    // ── the pipeline ────────────────────────────────────────────────────────────────────────
    events: { sql: 'models/events.sql', materialize: 'lake', partitionBy: { dt: 'CAST(received_at AS DATE)' }, description: 'every event as received, one partition per drop day' },
    stg_pages: { sql: 'models/stg_pages.sql', materialize: 'lake', partitionBy: { dt: 'dt' } },
    stg_tracks: { sql: 'models/stg_tracks.sql', materialize: 'lake', partitionBy: { dt: 'dt' } },
    stg_identifies: { sql: 'models/stg_identifies.sql', materialize: 'lake', partitionBy: { dt: 'dt' } },
    int_page_views: { sql: 'models/int_page_views.sql', materialize: 'lake', partitionBy: { dt: 'dt' } },
    int_session_events: { sql: 'models/int_session_events.sql', materialize: 'lake' },
    int_sessions: { sql: 'models/int_sessions.sql', materialize: 'table' },
    int_user_stitching: { sql: 'models/int_user_stitching.sql', materialize: 'table' },
    int_stitched_sessions: { sql: 'models/int_stitched_sessions.sql', materialize: 'table' },
    rpt_audience_overview: { sql: 'models/rpt_audience_overview.sql', materialize: 'table' },
    rpt_conversion_funnel: { sql: 'models/rpt_conversion_funnel.sql', materialize: 'table' },
    rpt_retention_cohorts: { sql: 'models/rpt_retention_cohorts.sql', materialize: 'table' },
    rpt_signup_attribution: { sql: 'models/rpt_signup_attribution.sql', materialize: 'table' },

    // ── the warehouse (PostgreSQL) ──────────────────────────────────────────────────────────
    // One drop's rows: a day's run replaces that day's rows.
    pages: publish('stg_pages', 'page calls', 'received_at'),
    tracks: publish('stg_tracks', 'track calls, with plan, triage outcome and the whole symptom description', 'received_at'),
    identifies: publish('stg_identifies', 'identify calls with their traits', 'received_at'),
    page_views: publish('int_page_views', 'page calls with URL, UTM parameters, referrer and traffic source parsed', 'received_at'),
    daily_event_counts: { sql: 'models/daily_event_counts.sql', materialize: warehouse, timeColumn: 'dt', description: 'events per drop day, type and event name' },
    // History: rebuilt whole on every run.
    users: { sql: 'models/users.sql', materialize: warehouse, description: 'one row per user: activity, browsers, latest traits' },
    sessions: publish('int_sessions', 'sessions (30 minutes of inactivity end one) with first and last values'),
    user_stitching: publish('int_user_stitching', 'the user behind each anonymous browser'),
    stitched_sessions: publish('int_stitched_sessions', 'sessions with a blended user id and a per-user session number'),
    audience_overview: publish('rpt_audience_overview', 'sessions, users, new vs repeat, pages per session, duration, bounce rate per day'),
    daily_page_views: { sql: 'models/daily_page_views.sql', materialize: warehouse, description: 'page views and browsers per event day, host and path' },
    daily_visitors: { sql: 'models/daily_visitors.sql', materialize: warehouse, description: 'unique visitors, identified users and browsers per event day' },
    daily_sessions_by_device_referrer: { sql: 'models/daily_sessions_by_device_referrer.sql', materialize: warehouse, description: 'sessions and bounces per day, device and referrer type' },
    monthly_session_duration: { sql: 'models/monthly_session_duration.sql', materialize: warehouse, description: 'average and median session duration per month' },
    conversion_funnel: publish('rpt_conversion_funnel', 'users reaching each funnel step, per landing day'),
    retention_cohorts: publish('rpt_retention_cohorts', 'weekly retention of first-session cohorts'),
    signup_attribution: publish('rpt_signup_attribution', 'first- and last-touch source of each sign-up'),
  },
  // Checks run on the pipeline's tables (the engine cannot query PostgreSQL); the warehouse tables
  // are copies of these or reports over them.
  checks: [
    { table: 'events', column: 'message_id', test: 'not_null' },
    { table: 'events', column: 'message_id', test: 'unique' },
    { table: 'int_sessions', column: 'session_id', test: 'unique' },
    { table: 'int_user_stitching', column: 'anonymous_id', test: 'unique' },
    { table: 'int_user_stitching', column: 'user_id', test: 'not_null' },
    { table: 'int_stitched_sessions', column: 'session_id', test: 'unique' },
    { table: 'int_stitched_sessions', column: 'blended_user_id', test: 'not_null' },
    { table: 'rpt_audience_overview', column: 'day', test: 'unique' },
    { table: 'rpt_signup_attribution', column: 'user_id', test: 'unique' },
    { table: 'rpt_retention_cohorts', test: 'sql', sql: 'SELECT cohort_week, week_number FROM rpt_retention_cohorts GROUP BY ALL HAVING count(*) > 1' },
    {
      table: 'rpt_conversion_funnel',
      test: 'sql',
      // One row per landing day and step, and no step reached by more users than the one before it.
      sql: `SELECT landing_day, step FROM rpt_conversion_funnel GROUP BY ALL HAVING count(*) > 1
            UNION ALL
            SELECT landing_day, step FROM (SELECT *, lag(users) OVER (PARTITION BY landing_day ORDER BY step) AS previous FROM rpt_conversion_funnel) WHERE users > previous`,
    },
  ],
  jobs: {
    daily: defineJob({
      description: "Each day's drop: wait for it, load it, transform, publish to PostgreSQL, reconcile",
      // The run for day D covers [D 00:00, D+1 00:00) UTC and falls due at the end of D. Runs start
      // from the day the scheduler first runs; days missed while it was down are caught up in order.
      // Earlier days (the sample's) come in with `tributary backfill daily --from … --to …`.
      schedule: '@daily',
      catchup: true,
      defaults: { retries: 2, retryDelaySeconds: 300 },
      onSuccess: [slack(':white_check_mark: segment-warehouse: {{ ds }} is in the warehouse ({{ duration }})')],
      onFailure: [slack(':red_circle: segment-warehouse: the run for {{ ds }} failed: {{ error }}')],
      tasks: {
        wait_for_drop: {
          kind: 'sensor',
          // The S3 sync writes a day's last hour shortly after midnight; wait until the files have not
          // changed for a minute.
          files: dayFiles,
          pokeSeconds: 60,
          timeoutSeconds: 12 * 3600,
          onSuccess: [slack('segment-warehouse: the drop for {{ ds }} has arrived')],
        },
        load: {
          kind: 'models',
          after: ['wait_for_drop'],
          select: ['events'],
          onSuccess: [slack('segment-warehouse: {{ ds }} loaded into the lake ({{ duration }})')],
        },
        transform: {
          kind: 'models',
          after: ['load'],
          select: ['events+'],
          exclude: ['events'],
          onSuccess: [slack('segment-warehouse: {{ ds }} transformed and loaded into PostgreSQL ({{ duration }})')],
        },
        checks: {
          kind: 'checks',
          after: ['transform'],
          onSuccess: [slack('segment-warehouse: checks passed for {{ ds }}')],
        },
        reconcile: {
          kind: 'reconcile',
          after: ['transform'],
          measure: 'events',
          // Every line of the day's drop files...
          source: { files: dayFiles },
          // ...is an event published for that drop day (the warehouse's pages, tracks and identifies
          // are these tables' rows of the day), or a line the load that wrote the day quarantined.
          target: {
            sql: `SELECT (SELECT count(*) FROM stg_pages WHERE dt = {{ ds }})
                   + (SELECT count(*) FROM stg_tracks WHERE dt = {{ ds }})
                   + (SELECT count(*) FROM stg_identifies WHERE dt = {{ ds }})
                   + (SELECT count(*) FROM tributary.quarantine
                      WHERE model = 'events' AND file LIKE '%events-' || strftime({{ ds }}, '%Y-%m-%d') || '-%'
                        AND run_id = (SELECT run_id FROM tributary.runs
                                      WHERE target = 'events' AND status = 'success'
                                        AND (params IS NULL OR (CAST(json_extract_string(params, '$.interval.start') AS TIMESTAMP) <= {{ ds }}
                                                                AND CAST(json_extract_string(params, '$.interval.end') AS TIMESTAMP) > {{ ds }}))
                                      ORDER BY finished_at DESC LIMIT 1))`,
          },
          onSuccess: [slack('segment-warehouse: {{ ds }} reconciled, drop lines = published events + quarantined lines')],
        },
      },
    }),
  },
  dashboards: { audience: 'dashboards/audience.ts' },
  generators: {
    segment: { module: 'generators/segment.ts', description: 'Segment drops of a month: --size events per day (1,000,000), --set days=30 --set start=2025-03-01' },
  },
});
