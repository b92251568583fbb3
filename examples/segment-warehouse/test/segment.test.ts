import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  ManualClock,
  computeDashboard,
  createScheduler,
  dayInterval,
  openProject,
  runModels,
  startWebhookReceiver,
  tempDir,
  type Scheduler,
  type WebhookReceiver,
  type Workspace,
} from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalRows, fingerprints, freshDatabase, postgresUp, warehouseTables, type Database } from './harness.js';
import {
  audienceOverview,
  eventsPerDayAndType,
  funnel,
  listDropFiles,
  malformedPerDay,
  parseLine,
  readDrops,
  sessionize,
  stitchSummary,
  stitchUsers,
  type MalformedReason,
} from './reference.js';

/**
 * System C on the committed sample (3 days, 5,960 lines, 11 malformed on purpose), loaded into a
 * real PostgreSQL. Every expected number comes from test/reference.ts (gunzip + JSON.parse over
 * the raw drops, no DuckDB) or from the raw lines themselves.
 */
const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE = path.join(EXAMPLE, 'data', 'sample');
const DAYS = ['2025-03-08', '2025-03-09', '2025-03-10'];

const drops = readDrops(SAMPLE);
const sessions = sessionize(drops.events);
const stitch = stitchUsers(drops.events);

/** The raw JSON of every valid event, by messageId: what the warehouse must hold byte for byte. */
const rawEvents = new Map<string, Record<string, unknown>>();
for (const file of listDropFiles(SAMPLE)) {
  for (const line of gunzipSync(readFileSync(file)).toString('utf8').split('\n')) {
    if (line === '' || typeof parseLine(line) === 'string') continue;
    const event = JSON.parse(line) as Record<string, unknown>;
    rawEvents.set(event.messageId as string, event);
  }
}
const manifest = JSON.parse(readFileSync(path.join(SAMPLE, 'manifest.json'), 'utf8')) as {
  dayManifests: { date: string; rows: number; events: Record<string, number>; malformed: { total: number } }[];
};

/** The warehouse's schema, as information_schema reports it: text never VARCHAR(n), timestamps as timestamps, exact decimals. */
const TS = 'timestamp without time zone';
const EXPECTED_TYPES: Record<string, string> = {
  pages: `message_id text, anonymous_id text, user_id text, timestamp ${TS}, received_at ${TS}, name text, url text, path text, search text, referrer text, title text, device_type text, dt date`,
  tracks: `message_id text, anonymous_id text, user_id text, event text, timestamp ${TS}, received_at ${TS}, library_name text, page_path text, plan text, triage_outcome text, symptom_description text, properties jsonb, dt date`,
  identifies: `message_id text, anonymous_id text, user_id text, timestamp ${TS}, received_at ${TS}, email text, first_name text, plan text, signup_date date, age_band text, country text, newsletter_opt_in boolean, traits jsonb, dt date`,
  page_views: `message_id text, anonymous_id text, user_id text, timestamp ${TS}, received_at ${TS}, day date, name text, title text, url text, host text, path text, search text, utm_source text, utm_medium text, utm_campaign text, utm_term text, utm_content text, referrer text, referrer_host text, device_type text, referrer_type text, source text, medium text, dt date`,
  daily_event_counts: 'dt date, type text, event text, events bigint',
  users: `user_id text, first_seen_at ${TS}, last_seen_at ${TS}, events bigint, identifies bigint, anonymous_ids bigint, email text, first_name text, plan text, signup_date date, age_band text, country text`,
  sessions: `session_id text, anonymous_id text, session_index integer, day date, started_at ${TS}, ended_at ${TS}, duration_seconds numeric(12,3), events bigint, page_views bigint, landing_url text, landing_path text, exit_path text, referrer_host text, referrer_type text, source text, medium text, utm_source text, utm_medium text, utm_campaign text, device_type text`,
  user_stitching: `anonymous_id text, user_id text, first_identified_at ${TS}, last_identified_at ${TS}, users_seen bigint`,
  stitched_sessions: `session_id text, anonymous_id text, user_id text, blended_user_id text, user_session_number bigint, day date, started_at ${TS}, ended_at ${TS}, duration_seconds numeric(12,3), events bigint, page_views bigint, landing_path text, exit_path text, referrer_type text, source text, medium text, utm_campaign text, device_type text`,
  audience_overview: 'day date, sessions bigint, users bigint, new_users bigint, repeat_users bigint, page_views bigint, pages_per_session double precision, avg_session_duration_seconds double precision, bounced_sessions bigint, bounce_rate double precision',
  daily_page_views: 'day date, host text, path text, page_views bigint, browsers bigint',
  daily_visitors: 'day date, visitors bigint, identified_users bigint, browsers bigint',
  daily_sessions_by_device_referrer: 'day date, device_type text, referrer_type text, sessions bigint, bounced_sessions bigint',
  monthly_session_duration: 'month date, sessions bigint, avg_session_duration_seconds double precision, median_session_duration_seconds numeric(12,3)',
  conversion_funnel: 'landing_day date, step integer, step_name text, users bigint',
  retention_cohorts: 'cohort_week date, week_number integer, cohort_users bigint, active_users bigint, retention double precision',
  signup_attribution: `user_id text, signed_up_at ${TS}, signup_day date, sessions_before_signup bigint, first_touch_source text, first_touch_medium text, first_touch_campaign text, last_touch_source text, last_touch_medium text, last_touch_campaign text`,
};
/** Tables holding one drop's rows, by the column that says which drop. */
const PER_DROP: Record<string, string> = { pages: 'received_at', tracks: 'received_at', identifies: 'received_at', page_views: 'received_at', daily_event_counts: 'dt' };

/** A timestamp column as Segment writes it (ISO 8601, milliseconds, Z), for comparing with the raw text. */
const iso = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const pgUp = await postgresUp();

describe.runIf(pgUp)('segment-warehouse on the sample, into PostgreSQL', () => {
  let full: Database;
  let ws: Workspace;
  const dataDir = tempDir('segment-full-');

  beforeAll(async () => {
    full = await freshDatabase();
    process.env.WAREHOUSE_URL = full.url;
    ws = await openProject(EXAMPLE, { dataDir, target: 'prod' });
    await runModels(ws);
  });
  afterAll(async () => {
    await ws?.close();
    await full?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs with no service on the embedded target (dev), and every warehouse table equals its PostgreSQL twin, row for row', async () => {
    const embeddedDir = tempDir('segment-dev-');
    const dev = await openProject(EXAMPLE, { dataDir: embeddedDir, target: 'dev' });
    const saved = process.env.WAREHOUSE_URL;
    delete process.env.WAREHOUSE_URL;
    try {
      expect(dev.project.target.name).toBe('dev');
      await runModels(dev);
      const tables = warehouseTables(dev);
      expect(tables).toHaveLength(Object.keys(EXPECTED_TYPES).length);
      for (const table of tables) {
        const columns = await dev.engine.describe(`SELECT * FROM "${table}"`);
        const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
        const embedded = await dev.engine.queryJson(`SELECT ${columns.map((c) => `CAST("${c.name}" AS VARCHAR) AS "${c.name}"`).join(', ')} FROM "${table}"`);
        const postgres = await full.query(`SELECT * FROM "${table}"`);
        expect(embedded.length, table).toBeGreaterThan(0);
        expect(canonicalRows(embedded, types), table).toEqual(canonicalRows(postgres, types));
      }
    } finally {
      process.env.WAREHOUSE_URL = saved;
      await dev.close();
      rmSync(embeddedDir, { recursive: true, force: true });
    }
  });

  it('loads every valid event and quarantines exactly the malformed lines, with their reasons', async () => {
    expect(drops.lines).toBe(5_960);
    expect(drops.malformed).toHaveLength(11);
    const [run] = await ws.metastore.runs({ limit: 1, target: 'events' });
    expect(run).toMatchObject({ status: 'success', read: 5_960, written: 5_949, quarantined: 11 });

    // Events per drop day and type: the lake, the warehouse's counts, the reference and the generator's manifest agree.
    const expected = eventsPerDayAndType(drops.events);
    const lake = await ws.engine.queryJson<{ dt: string; type: string; n: string }>(`SELECT CAST(dt AS VARCHAR) AS dt, type, count(*) AS n FROM events GROUP BY ALL`);
    const warehouse = await full.query<{ dt: string; type: string; n: string }>(`SELECT to_char(dt, 'YYYY-MM-DD') AS dt, type, sum(events) AS n FROM daily_event_counts GROUP BY 1, 2`);
    for (const rows of [lake, warehouse]) {
      const counted: Record<string, Record<string, number>> = {};
      for (const r of rows) (counted[r.dt] ??= {})[r.type] = Number(r.n);
      expect(counted).toEqual(expected);
    }
    for (const day of manifest.dayManifests) expect(expected[day.date]).toEqual(day.events);

    // The quarantine holds the same lines for the same reasons as the reference: per file, the same
    // kinds of damage. Line numbers are left out because the platform's are not reliable yet: the
    // located re-read numbers a file's lines with row_number() without an order, so a file of more
    // than 2,048 lines sometimes comes back shifted by a vector (2025-03-10: 267 instead of 105).
    const kinds: [RegExp, MalformedReason][] = [
      [/^not valid JSON: /, 'not_json'],
      [/^expected a JSON object/, 'not_an_object'],
      [/^type: expected /, 'bad_type'],
      [/^message_id: expected /, 'bad_message_id'],
      [/^(timestamp|received_at): expected TIMESTAMP, got /, 'bad_timestamp'],
    ];
    const kindOf = (reason: string) => kinds.find(([pattern]) => pattern.test(reason))?.[1] ?? reason;
    const quarantined = await ws.engine.queryJson<{ file: string; reason: string }>(
      `SELECT file, reason FROM tributary.quarantine WHERE run_id = '${run!.run_id}'`,
    );
    const byFile = (rows: { file: string; reason: string }[]) => rows.map((r) => `${r.file} ${r.reason}`).sort();
    expect(byFile(quarantined.map((q) => ({ file: path.relative(SAMPLE, q.file), reason: kindOf(q.reason) })))).toEqual(byFile(drops.malformed));
    expect(new Set(quarantined.map((q) => kindOf(q.reason)))).toEqual(new Set(['not_json', 'bad_type', 'bad_timestamp']));
    expect(malformedPerDay(drops.malformed)).toEqual(Object.fromEntries(manifest.dayManifests.map((d) => [d.date, d.malformed.total])));
  });

  it('sessionises, stitches and counts the funnel and the audience as the reference does', async () => {
    // Sessions: every session, with its bounds, events and page views.
    const stored = await full.query<{ session_id: string; started: string; ended: string; events: string; page_views: string }>(
      `SELECT session_id, ${iso('started_at')} AS started, ${iso('ended_at')} AS ended, events, page_views FROM sessions`,
    );
    const asRow = (s: { sessionId: string; start: number; end: number; events: number; pageViews: number }) =>
      `${s.sessionId} ${new Date(s.start).toISOString()} ${new Date(s.end).toISOString()} ${s.events} ${s.pageViews}`;
    expect(stored.map((s) => `${s.session_id} ${s.started} ${s.ended} ${s.events} ${s.page_views}`).sort()).toEqual(sessions.map(asRow).sort());
    expect(sessions).toHaveLength(1_267);

    // Stitching: each browser to its user.
    const stitched = await full.query<{ anonymous_id: string; user_id: string }>('SELECT anonymous_id, user_id FROM user_stitching');
    expect(new Map(stitched.map((s) => [s.anonymous_id, s.user_id]))).toEqual(stitch);
    expect(stitchSummary(stitch)).toEqual({ anonymousIds: 457, users: 452, usersWithSeveralBrowsers: 5 });

    // Funnel: users reaching each step, over every landing day.
    const steps = await full.query<{ step: number; users: string }>('SELECT step, sum(users) AS users FROM conversion_funnel GROUP BY step ORDER BY step');
    const reference = funnel(drops.events, stitch);
    expect(steps.map((s) => Number(s.users))).toEqual(reference.map((s) => s.users));
    expect(reference.map((s) => s.users)).toEqual([1_107, 145, 96, 18, 5]);

    // The audience overview of each day.
    for (const day of DAYS) {
      const expected = audienceOverview(sessions, stitch, day);
      const [row] = await full.query<Record<string, string | number>>(`SELECT * FROM audience_overview WHERE day = $1`, [day]);
      expect({
        sessions: Number(row!.sessions),
        users: Number(row!.users),
        newUsers: Number(row!.new_users),
        repeatUsers: Number(row!.repeat_users),
        pageViews: Number(row!.page_views),
        bouncedSessions: Number(row!.bounced_sessions),
        pagesPerSession: Number(Number(row!.pages_per_session).toFixed(9)),
        avgSessionDurationSeconds: Number(Number(row!.avg_session_duration_seconds).toFixed(6)),
        bounceRate: Number(Number(row!.bounce_rate).toFixed(9)),
      }).toEqual({
        sessions: expected.sessions,
        users: expected.users,
        newUsers: expected.newUsers,
        repeatUsers: expected.repeatUsers,
        pageViews: expected.pageViews,
        bouncedSessions: expected.bouncedSessions,
        pagesPerSession: Number(expected.pagesPerSession.toFixed(9)),
        avgSessionDurationSeconds: Number(expected.avgSessionDurationSeconds.toFixed(6)),
        bounceRate: Number(expected.bounceRate.toFixed(9)),
      });
    }
    expect(audienceOverview(sessions, stitch, '2025-03-10')).toMatchObject({ sessions: 487, users: 487, newUsers: 380, repeatUsers: 107, pageViews: 1_224 });
  });

  it('types every warehouse column explicitly', async () => {
    const columns = await full.query<{ table_name: string; column_name: string; type: string }>(
      `SELECT table_name, column_name,
              CASE WHEN data_type = 'numeric' THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' ELSE data_type END AS type
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'tributary%'
       ORDER BY table_name, ordinal_position`,
    );
    const actual: Record<string, string> = {};
    for (const c of columns) actual[c.table_name] = `${actual[c.table_name] ? `${actual[c.table_name]}, ` : ''}${c.column_name} ${c.type}`;
    expect(actual).toEqual(EXPECTED_TYPES);
    expect(Object.keys(EXPECTED_TYPES).sort()).toEqual(warehouseTables(ws).sort());
  });

  it('keeps long texts whole and timestamps as the instants Segment sent', async () => {
    // Every symptom description, 300 to 2,000 characters of free text with quotes, line breaks and non-ASCII.
    const descriptions = new Map<string, string>();
    for (const [id, e] of rawEvents) {
      const text = (e.properties as Record<string, unknown> | undefined)?.symptom_description;
      if (typeof text === 'string') descriptions.set(id, text);
    }
    const stored = await full.query<{ message_id: string; symptom_description: string }>('SELECT message_id, symptom_description FROM tracks WHERE symptom_description IS NOT NULL');
    expect(new Map(stored.map((r) => [r.message_id, r.symptom_description]))).toEqual(descriptions);
    const lengths = [...descriptions.values()].map((d) => d.length);
    expect(lengths.filter((n) => n > 255).length).toBeGreaterThan(40);
    expect(Math.max(...lengths)).toBe(2_000);

    // Landing URLs with e-mail tracking parameters run past 255 characters too.
    const urls = new Map([...rawEvents].filter(([, e]) => e.type === 'page').map(([id, e]) => [id, ((e.context as { page: { url: string } }).page.url)]));
    const storedUrls = await full.query<{ message_id: string; url: string }>('SELECT message_id, url FROM pages');
    expect(new Map(storedUrls.map((r) => [r.message_id, r.url]))).toEqual(urls);
    expect(Math.max(...[...urls.values()].map((u) => u.length))).toBeGreaterThan(255);

    // Whole properties objects arrive as JSON, equal to what was sent.
    const [sample] = await full.query<{ message_id: string; properties: unknown }>(`SELECT message_id, properties FROM tracks ORDER BY length(symptom_description) DESC NULLS LAST LIMIT 1`);
    expect(sample!.properties).toEqual(rawEvents.get(sample!.message_id)!.properties);

    // Timestamps: real timestamp columns holding the instants of the raw ISO strings, to the millisecond.
    const times = await full.query<{ message_id: string; ts: string; received: string }>(
      `SELECT message_id, ${iso('timestamp')} AS ts, ${iso('received_at')} AS received FROM pages
       UNION ALL SELECT message_id, ${iso('timestamp')}, ${iso('received_at')} FROM tracks
       UNION ALL SELECT message_id, ${iso('timestamp')}, ${iso('received_at')} FROM identifies`,
    );
    expect(times).toHaveLength(rawEvents.size);
    for (const t of times) expect([t.ts, t.received]).toEqual([rawEvents.get(t.message_id)!.timestamp, rawEvents.get(t.message_id)!.receivedAt]);
  });

  it('re-running a day replaces that day’s rows only, in place of the same rows', async () => {
    const snapshot = async () => {
      const out: Record<string, Record<string, { rows: number; md5: string; versions: string }>> = {};
      for (const [table, column] of Object.entries(PER_DROP)) {
        // xmin is the transaction that wrote a row version: a row left alone keeps it.
        const rows = await full.query<{ day: string; rows: string; md5: string; versions: string }>(
          `SELECT to_char(${column}, 'YYYY-MM-DD') AS day, count(*) AS rows, md5(string_agg(t::text, '|' ORDER BY t::text)) AS md5,
                  md5(string_agg(t.xmin::text, ',' ORDER BY t::text)) AS versions
           FROM ${table} t GROUP BY 1`,
        );
        out[table] = Object.fromEntries(rows.map((r) => [r.day, { rows: Number(r.rows), md5: r.md5, versions: r.versions }]));
      }
      return out;
    };
    const before = await snapshot();
    const history = await fingerprints(full, Object.keys(EXPECTED_TYPES).filter((t) => !PER_DROP[t]));

    const results = await runModels(ws, { date: '2025-03-09' });
    expect(results.find((r) => r.model === 'events')).toMatchObject({ read: 1_957, written: 1_952, quarantined: 5, skipped: 0 });

    const after = await snapshot();
    for (const table of Object.keys(PER_DROP)) {
      for (const day of DAYS) {
        const { versions: _old, ...content } = before[table]![day]!;
        expect(after[table]![day], `${table} ${day}`).toMatchObject(content);
        if (day === '2025-03-09') expect(after[table]![day]!.versions, `${table} ${day} rewritten`).not.toBe(before[table]![day]!.versions);
        else expect(after[table]![day]!.versions, `${table} ${day} untouched`).toBe(before[table]![day]!.versions);
      }
    }
    // History tables are rebuilt whole, to the same rows.
    expect(await fingerprints(full, Object.keys(history))).toEqual(history);
  });

  it('dashboard tiles read the audience, funnel, retention and attribution', async () => {
    const { tiles } = await computeDashboard(ws, 'audience');
    expect(tiles.filter((t) => t.error)).toEqual([]);
    const tile = (id: string) => tiles.find((t) => t.id === id)!;
    expect(Number(tile('sessions').rows[0]!.value)).toBe(sessions.length);
    expect(tile('funnel').rows.map((r) => Number(r.value))).toEqual(funnel(drops.events, stitch).map((s) => s.users));
    expect(tile('retention').columns).toEqual(['week', 'cohort', 'retention']);
    expect(tile('retention').rows.length).toBeGreaterThan(0);
    const signups = new Set(drops.events.filter((e) => e.event === 'signed_up' && e.userId !== null).map((e) => e.userId));
    const credited = (column: string) => tile('attribution_table').rows.reduce((n, r) => n + Number(r[column]), 0);
    expect([credited('first_touch_signups'), credited('last_touch_signups')]).toEqual([signups.size, signups.size]);
    expect(tile('first_touch').rows.length).toBeGreaterThan(0);
    // A date filter narrows the numbers to the days chosen.
    const filtered = await computeDashboard(ws, 'audience', { from: '2025-03-10', to: '2025-03-10' });
    expect(Number(filtered.tiles.find((t) => t.id === 'sessions')!.rows[0]!.value)).toBe(487);
  });

  describe('the daily job, as the scheduler runs it', () => {
    let job: Database;
    let jobWs: Workspace;
    let receiver: WebhookReceiver;
    let scheduler: Scheduler;
    const clock = new ManualClock('2025-03-11T00:30:00Z');
    const landing = tempDir('segment-drops-');
    const jobDataDir = tempDir('segment-job-');

    /** Lets the scheduler work, a minute of its time at a time, until `done` holds. */
    const drive = async (done: () => Promise<boolean>) => {
      for (let minute = 0; minute < 60 && !(await done()); minute++) {
        await scheduler.whenIdle();
        await clock.advance(60_000);
      }
      await scheduler.whenIdle();
    };
    const runStates = async () => Object.fromEntries((await scheduler.runs({ job: 'daily' })).map((r) => [r.id.slice(7, 17), r.state]));
    const messages = () => receiver.received.map((m) => (m as { text: string }).text);
    /** A day's drop arriving: its files copied into the landing folder. */
    const arrive = (day: string) => {
      const folder = path.join('drops', ...day.split('-'));
      mkdirSync(path.join(landing, folder), { recursive: true });
      cpSync(path.join(SAMPLE, folder), path.join(landing, folder), { recursive: true });
    };

    beforeAll(async () => {
      job = await freshDatabase();
      process.env.WAREHOUSE_URL = job.url;
      process.env.SEGMENT_DROPS = path.join(landing, 'drops');
      arrive('2025-03-08');
      arrive('2025-03-09');
      jobWs = await openProject(EXAMPLE, { dataDir: jobDataDir, target: 'prod' });
      receiver = await startWebhookReceiver();
      scheduler = await createScheduler(jobWs, { clock, env: { SLACK_WEBHOOK_URL: receiver.url } });
    });
    afterAll(async () => {
      await scheduler?.stop({ abort: true });
      await receiver?.close();
      await jobWs?.close();
      await job?.drop();
      delete process.env.SEGMENT_DROPS;
      for (const dir of [landing, jobDataDir]) rmSync(dir, { recursive: true, force: true });
    });

    it('backfills day by day, waits for a late drop, reconciles each day and ends equal to a full run', async () => {
      await scheduler.start();
      const backfill = await scheduler.backfill('daily', DAYS[0]!, DAYS.at(-1)!);
      expect(backfill.created).toHaveLength(DAYS.length);
      await drive(async () => (await runStates())['2025-03-09'] === 'success');
      const runs = await scheduler.runs({ job: 'daily' });
      // One run a day, each interval 24 hours, the next starting where the previous ended.
      expect(runs.map((r) => [r.intervalStart.toISOString(), r.intervalEnd.toISOString()]).sort()).toEqual(
        DAYS.map((d) => [dayInterval(d).start, dayInterval(d).end]),
      );
      expect(await runStates()).toEqual({ '2025-03-08': 'success', '2025-03-09': 'success', '2025-03-10': 'running' });

      // The 10th has not landed: the sensor keeps poking, then sees the files arrive and stop changing.
      await drive(async () => false);
      expect((await runStates())['2025-03-10']).toBe('running');
      arrive('2025-03-10');
      await drive(async () => (await runStates())['2025-03-10'] === 'success');
      expect(await runStates()).toEqual({ '2025-03-08': 'success', '2025-03-09': 'success', '2025-03-10': 'success' });
      const tenth = runs.find((r) => r.intervalStart.toISOString().startsWith('2025-03-10'))!;
      const sensor = (await scheduler.tasks(tenth.id)).find((t) => t.task === 'wait_for_drop')!;
      expect((sensor.result as { pokes: number }).pokes).toBeGreaterThan(60);

      // Reconciliation: the drop's lines against the published events plus the quarantined lines, exact.
      for (const run of runs) {
        const day = run.intervalStart.toISOString().slice(0, 10);
        const reconcile = (await scheduler.tasks(run.id)).find((t) => t.task === 'reconcile')!;
        const lines = manifest.dayManifests.find((d) => d.date === day)!.rows;
        expect(reconcile.result).toEqual({ measure: 'events', source: lines, target: lines, difference: 0 });
      }

      // Day-by-day through the job gives the warehouse a full run gives.
      const tables = Object.keys(EXPECTED_TYPES);
      expect(await fingerprints(job, tables)).toEqual(await fingerprints(full, tables));

      // A message at each step of each day, and one for each finished run.
      for (const day of DAYS) {
        expect(messages()).toEqual(
          expect.arrayContaining([
            `segment-warehouse: the drop for ${day} has arrived`,
            expect.stringMatching(new RegExp(`^segment-warehouse: ${day} loaded into the lake \\(`)),
            expect.stringMatching(new RegExp(`^segment-warehouse: ${day} transformed and loaded into PostgreSQL \\(`)),
            `segment-warehouse: checks passed for ${day}`,
            `segment-warehouse: ${day} reconciled, drop lines = published events + quarantined lines`,
            expect.stringMatching(new RegExp(`^:white_check_mark: segment-warehouse: ${day} is in the warehouse \\(`)),
          ]),
        );
      }
      expect(messages()).toHaveLength(DAYS.length * 6);
    });

    it('runs on schedule from its first day, and tells the channel when a drop never comes', async () => {
      // The first whole day after the scheduler started (at 00:30 on the 11th) is the 12th: its run
      // falls due at midnight on the 13th. Its drop never lands, and the sensor gives up after 12 hours.
      await clock.advance(48 * 3600_000);
      await scheduler.whenIdle();
      const scheduled = (await scheduler.runs({ job: 'daily' })).filter((r) => r.kind === 'scheduled');
      expect(scheduled).toHaveLength(1);
      const day = scheduled[0]!.intervalStart.toISOString().slice(0, 10);
      expect(day).toBe('2025-03-12');
      expect(scheduled[0]!.intervalEnd.getTime() - scheduled[0]!.intervalStart.getTime()).toBe(24 * 3600_000);
      await clock.advance(13 * 3600_000);
      await drive(async () => (await runStates())[day] === 'failed');
      expect((await runStates())[day]).toBe('failed');
      expect(messages().at(-1)).toMatch(new RegExp(`^:red_circle: segment-warehouse: the run for ${day} failed: .*sensor timed out`));
    });
  });
});
