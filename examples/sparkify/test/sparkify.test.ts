import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  backfillDays,
  computeDashboard,
  openProject,
  runChecks,
  runCli,
  runModels,
  runProject,
  sensorFiles,
  taskContext,
  taskOrder,
  tempDir,
  type Project,
  type Workspace,
} from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareScratch, removeScratch, scratchDirOf } from '../tasks/resources.js';
import { sparkifyDays, sparkifyReference, type Row } from './reference.js';

/**
 * System E on the real data (71 song files, 30 days of log). Every expected row comes from
 * test/reference.ts, which reads the raw JSON with JSON.parse and applies the rules a second time,
 * without DuckDB.
 */
const SPARKIFY = fileURLToPath(new URL('..', import.meta.url));
const DATA = path.join(SPARKIFY, 'data');
const reference = sparkifyReference(DATA);

type StarTable = 'songplays' | 'users' | 'songs' | 'artists' | 'time';
const STAR_TABLES: readonly StarTable[] = ['songplays', 'users', 'songs', 'artists', 'time'];
const KEY: Record<StarTable, string> = { songplays: 'songplay_id', users: 'user_id', songs: 'song_id', artists: 'artist_id', time: 'start_time' };
/** Timestamps as the reference writes them: ISO-8601 UTC with milliseconds. */
const iso = (column: string, alias = column) => `strftime(${column}, '%Y-%m-%dT%H:%M:%S.%gZ') AS ${alias}`;
/** Each table read in the reference's shape. */
const READ: Record<StarTable, string> = {
  songplays: `SELECT songplay_id, ${iso('start_time')}, user_id, level, song_id, artist_id, session_id, location, user_agent, year, month FROM songplays`,
  users: 'SELECT user_id, first_name, last_name, gender, level FROM users',
  songs: 'SELECT song_id, title, artist_id, year, duration FROM songs',
  artists: 'SELECT artist_id, name, location, latitude, longitude FROM artists',
  time: `SELECT ${iso('start_time')}, hour, day, week, month, year, weekday FROM time`,
};

function byKey(rows: readonly Row[], key: string): Row[] {
  return [...rows].sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0));
}

async function readTable(ws: Workspace, table: StarTable): Promise<Row[]> {
  return byKey(await ws.engine.queryJson<Row>(READ[table]), KEY[table]);
}

/** One hash per table over every row, to compare two builds of the star schema. */
async function fingerprints(ws: Workspace): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of [...STAR_TABLES, 'staging_events', 'staging_songs']) {
    const [row] = await ws.engine.queryJson<{ n: string; h: string }>(
      `SELECT count(*) AS n, md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) AS h FROM ${table} t`,
    );
    out[table] = `${row!.n}:${row!.h}`;
  }
  return out;
}

/** Every table equals the reference, row for row. */
async function expectStarSchemaAsReference(ws: Workspace): Promise<void> {
  for (const table of STAR_TABLES) {
    const rows = await readTable(ws, table);
    expect(rows.length, table).toBe(reference[table].length);
    expect(rows, table).toEqual(byKey(reference[table], KEY[table]));
  }
}

async function expectChecksPass(ws: Workspace): Promise<void> {
  const results = await runChecks(ws);
  expect(results.filter((r) => !r.passed)).toEqual([]);
  expect(results).toHaveLength(ws.project.config.checks.length);
}

describe('sparkify: a full run on the real data', () => {
  let ws: Workspace;
  let results: Awaited<ReturnType<typeof runProject>>['results'];
  beforeAll(async () => {
    ({ ws, results } = await runProject(SPARKIFY, { dataDir: tempDir('sparkify-full-') }));
  });
  afterAll(() => ws.close());

  it('loads every song file and every log line, quarantining none', async () => {
    const counts = Object.fromEntries(results.map((r) => [r.model, { read: r.read, written: r.written, quarantined: r.quarantined }]));
    expect(counts.staging_songs).toEqual({ read: reference.staging_songs_count, written: 71, quarantined: 0 });
    expect(counts.staging_events).toEqual({ read: reference.staging_events_count, written: 8_056, quarantined: 0 });
    expect(await ws.metastore.quarantine()).toEqual([]);
    // Logged-out rows load too, with no user: the empty userId became NULL, not 0 or ''.
    const [loggedOut] = await ws.engine.queryJson<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM staging_events WHERE user_id IS NULL AND auth = 'Logged Out'`);
    expect(loggedOut!.n).toBe(286);
  });

  it('builds every table of the star schema exactly as the reference computes it from the raw files', async () => {
    expect(Object.fromEntries(STAR_TABLES.map((t) => [t, reference[t].length]))).toEqual({ songplays: 6_820, users: 97, songs: 71, artists: 69, time: 6_813 });
    await expectStarSchemaAsReference(ws);
  });

  it('reads the log as written: epoch-ms timestamps, camelCase keys, quotes kept', async () => {
    const [event] = await ws.engine.queryJson<Record<string, string | number>>(
      `SELECT ${iso('ts')}, ${iso('registration')}, user_id, first_name, item_in_session, session_id, user_agent
       FROM staging_events WHERE session_id = 256 AND item_in_session = 0 AND user_id = 69`,
    );
    const raw = readFileSync(path.join(DATA, 'log_data', '2018', '11', '2018-11-05-events.json'), 'utf8').split('\n')[0]!;
    const line = JSON.parse(raw) as Record<string, string | number>;
    expect(event).toEqual({
      ts: new Date(Number(line.ts)).toISOString(),
      registration: new Date(Number(line.registration)).toISOString(),
      user_id: Number(line.userId),
      first_name: line.firstName,
      item_in_session: line.itemInSession,
      session_id: line.sessionId,
      user_agent: line.userAgent,
    });
    expect(String(event!.user_agent).startsWith('"Mozilla')).toBe(true);
  });

  it('matches a play to a song on title, artist name and duration, not title alone', async () => {
    const matched = await ws.engine.queryJson(
      `SELECT s.title, a.name, p.user_id, ${iso('p.start_time', 'start_time')} FROM songplays p JOIN songs s USING (song_id) JOIN artists a ON a.artist_id = p.artist_id`,
    );
    const expected = reference.songplays.filter((p) => p.song_id !== null);
    expect(expected).toHaveLength(1);
    expect(matched).toEqual([{ title: 'Setanta matins', name: 'Elena', user_id: expected[0]!.user_id, start_time: expected[0]!.start_time }]);
    // On title alone, four plays of two titles would match, three of them another artist's song.
    const [titleOnly] = await ws.engine.queryJson<{ plays: number; wrong: number }>(
      `SELECT count(*)::INTEGER AS plays, count(*) FILTER (WHERE s.artist_name <> e.artist)::INTEGER AS wrong
       FROM staging_events e JOIN staging_songs s ON s.title = e.song WHERE e.page = 'NextSong'`,
    );
    expect(titleOnly).toEqual({ plays: 4, wrong: 3 });
  });

  it('keeps one row per user, with the level of their latest event', async () => {
    const [levels] = await ws.engine.queryJson<{ changed: number; users: number; distinct_users: number }>(
      `SELECT (SELECT count(*) FROM (SELECT user_id FROM staging_events WHERE user_id IS NOT NULL GROUP BY 1 HAVING count(DISTINCT level) > 1))::INTEGER AS changed,
              (SELECT count(*) FROM users)::INTEGER AS users, (SELECT count(DISTINCT user_id) FROM users)::INTEGER AS distinct_users`,
    );
    // Eight users changed level during the month: a row per (user, level) would list them twice.
    expect(levels).toEqual({ changed: 8, users: 97, distinct_users: 97 });
    const byUser = new Map(reference.users.map((u) => [u.user_id, u.level]));
    for (const user of await readTable(ws, 'users')) expect(user.level).toBe(byUser.get(user.user_id));
  });

  it('partitions songs by year and artist_id in Hive folders and reads every row back with both', async () => {
    const files = await ws.metastore.liveFiles('songs');
    expect(files.every((f) => /^songs\/year=\d+\/artist_id=AR[0-9A-Z]+\/part-[^/]+\.parquet$/.test(f.path))).toBe(true);
    expect(files.every((f) => f.path.includes(`/year=${f.partition.year}/artist_id=${f.partition.artist_id}/`))).toBe(true);
    const expectedPartitions = new Set(reference.songs.map((s) => `${s.year}/${s.artist_id}`));
    expect(new Set(files.map((f) => `${f.partition.year}/${f.partition.artist_id}`))).toEqual(expectedPartitions);
    // Unknown years (0) are a partition of their own, not lost.
    expect(expectedPartitions.has(`0/${reference.songs.find((s) => s.year === 0)!.artist_id}`)).toBe(true);
    // The files alone, read as Hive-partitioned Parquet the way Spark or Athena would, hold every song with its year and artist.
    const paths = files.map((f) => `'${path.join(ws.project.lakeLocation, f.path)}'`).join(', ');
    const fromFiles = await ws.engine.queryJson<Row>(
      `SELECT song_id, title, artist_id::VARCHAR AS artist_id, year::INTEGER AS year, duration FROM read_parquet([${paths}], hive_partitioning = true)`,
    );
    expect(byKey(fromFiles, 'song_id')).toEqual(byKey(reference.songs, 'song_id'));
    const songplayFiles = await ws.metastore.liveFiles('songplays');
    expect(songplayFiles.every((f) => f.path.startsWith('songplays/year=2018/month=11/'))).toBe(true);
    const timeFiles = await ws.metastore.liveFiles('time');
    expect(timeFiles.every((f) => f.path.startsWith('time/year=2018/month=11/'))).toBe(true);
  });

  it('passes every check: unique and not-null keys, songplays referring to users, time, songs and artists', async () => {
    await expectChecksPass(ws);
    const tests = new Set(ws.project.config.checks.map((c) => `${c.test}(${c.table}.${'column' in c ? c.column : ''}${'to' in c ? `→${c.to.table}` : ''})`));
    for (const table of STAR_TABLES) {
      expect(tests.has(`unique(${table}.${KEY[table]})`), table).toBe(true);
      expect(tests.has(`not_null(${table}.${KEY[table]})`), table).toBe(true);
    }
    expect(tests.has('relationships(songplays.user_id→users)')).toBe(true);
    expect(tests.has('relationships(songplays.start_time→time)')).toBe(true);
  });

  it('offers lab examples that the read-only policy accepts and that return rows', async () => {
    const examples = ws.project.config.lab?.examples ?? [];
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const checked = await ws.policy.check(example.sql);
      expect((await ws.engine.queryJson(checked.sql)).length, example.title).toBeGreaterThan(0);
    }
  });

  it('shows the reference numbers on every dashboard tile', async () => {
    const tiles = new Map((await computeDashboard(ws, 'sparkify')).tiles.map((t) => [t.id, t]));
    for (const tile of tiles.values()) expect(tile.error, tile.id).toBeUndefined();
    const value = (id: string) => Number(tiles.get(id)!.rows[0]!.value);
    const rows = (id: string) => tiles.get(id)!.rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])));

    const plays = reference.songplays;
    const sessions = new Map<string, number>();
    for (const p of plays) sessions.set(`${p.user_id}|${p.session_id}`, (sessions.get(`${p.user_id}|${p.session_id}`) ?? 0) + 1);
    expect(value('plays')).toBe(6_820);
    expect(value('listeners')).toBe(new Set(plays.map((p) => p.user_id)).size);
    expect(value('sessions')).toBe(sessions.size);
    expect(value('songs_per_session')).toBe(Math.round((plays.length / sessions.size) * 100) / 100);

    const countBy = (items: readonly Row[], keyOf: (row: Row) => string | number) => {
      const counts = new Map<string | number, number>();
      for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
      return counts;
    };
    const perDay = countBy(plays, (p) => String(p.start_time).slice(0, 10));
    expect(rows('plays_per_day')).toEqual([...perDay].sort().map(([day, n]) => ({ day, plays: n })));
    const perHour = countBy(plays, (p) => new Date(String(p.start_time)).getUTCHours());
    expect(rows('plays_per_hour')).toEqual(Array.from({ length: 24 }, (_, hour) => ({ hour, plays: perHour.get(hour) ?? 0 })));
    const levels = countBy(plays, (p) => String(p.level));
    expect(rows('plays_by_level')).toEqual([{ level: 'free', plays: levels.get('free') }, { level: 'paid', plays: levels.get('paid') }]);

    const byName = reference.plays_by_song_name.map((r) => ({ title: `${r.song} — ${r.artist}`, plays: Number(r.plays) }));
    const topSongs = byName.sort((a, b) => b.plays - a.plays || (a.title < b.title ? -1 : 1)).slice(0, 10);
    expect(rows('top_songs')).toEqual(topSongs);
    expect(topSongs[0]).toEqual({ title: "You're The One — Dwight Yoakam", plays: 37 });
    const artistPlays = new Map<string, number>();
    for (const r of reference.plays_by_song_name) artistPlays.set(String(r.artist), (artistPlays.get(String(r.artist)) ?? 0) + Number(r.plays));
    const topArtists = [...artistPlays].map(([artist, n]) => ({ artist, plays: n })).sort((a, b) => b.plays - a.plays || (a.artist < b.artist ? -1 : 1)).slice(0, 10);
    expect(rows('top_artists')).toEqual(topArtists);

    const users = countBy(reference.users, (u) => String(u.level));
    expect(value('users')).toBe(97);
    expect(value('paid_users')).toBe(users.get('paid'));
    expect(value('paid_share')).toBeCloseTo(levels.get('paid')! / plays.length, 12);
    expect(rows('users_by_level')).toEqual([{ level: 'free', users: users.get('free') }, { level: 'paid', users: users.get('paid') }]);
    expect(rows('free_vs_paid')).toEqual([
      { level: 'free', users: 75, plays: levels.get('free') },
      { level: 'paid', users: 22, plays: levels.get('paid') },
    ]);
    const userPlays = countBy(plays, (p) => Number(p.user_id));
    const userById = new Map(reference.users.map((u) => [u.user_id, u]));
    const topListeners = [...userPlays]
      .sort((a, b) => b[1] - a[1] || Number(a[0]) - Number(b[0]))
      .slice(0, 10)
      .map(([userId, n]) => {
        const u = userById.get(userId)!;
        const userSessions = new Set(plays.filter((p) => p.user_id === userId).map((p) => p.session_id)).size;
        return { user_id: userId, first_name: u.first_name, last_name: u.last_name, level: u.level, plays: n, sessions: userSessions };
      });
    expect(rows('top_listeners')).toEqual(topListeners);
  });
});

describe('sparkify: the daily job, a day at a time', () => {
  let ws: Workspace;
  let project: Project;
  const job = () => project.config.jobs.daily!;
  /** The job's models tasks in the order its graph runs them. */
  const modelTasks = () =>
    taskOrder(job())
      .map((name) => job().tasks[name]!)
      .flatMap((task) => (task.kind === 'models' ? [task] : []));
  /** The days a backfill of the job from its start to its end runs. */
  const days = () => backfillDays(job());

  /** What the job's models tasks do for a day: the catalogue whole (fullRefresh), the rest for the day. */
  async function runDay(ds: string): Promise<void> {
    for (const task of modelTasks()) {
      await runModels(ws, { models: task.select, date: task.fullRefresh ? undefined : ds });
    }
  }

  // Thirty days of the job's selections: longer than one load, still a cap against hangs only.
  beforeAll(async () => {
    ws = await openProject(SPARKIFY, { dataDir: tempDir('sparkify-daily-') });
    project = ws.project;
    for (const ds of days()) {
      await runDay(ds);
      await expectChecksPass(ws);
    }
  }, 600_000);
  afterAll(() => ws.close());

  it('is a valid job over the thirty days of the log: setup, sensor, models, checks, teardown', () => {
    expect(days()).toEqual(sparkifyDays(DATA));
    expect(days()).toHaveLength(30);
    expect(job()).toMatchObject({ schedule: '@daily', catchup: true, timezone: 'UTC' });
    const tasks = job().tasks;
    expect(Object.values(tasks).map((t) => t.kind).sort()).toEqual(['checks', 'function', 'function', 'models', 'models', 'models', 'models', 'sensor']);
    expect(tasks.teardown).toMatchObject({ kind: 'function', triggerRule: 'all_done' });
    // Every model runs in the job, and only the catalogue ignores the day.
    const selected = modelTasks().flatMap((t) => t.select);
    expect(selected.sort()).toEqual(Object.keys(project.config.models).sort());
    expect(modelTasks().filter((t) => t.fullRefresh).flatMap((t) => t.select).sort()).toEqual(['artists', 'songs', 'staging_songs']);
  });

  it("finds each day's log file with the sensor's glob", async () => {
    expect(job().tasks.wait_for_log).toMatchObject({ kind: 'sensor', files: expect.stringContaining('{{ ds }}') });
    for (const ds of days()) {
      const matched = await sensorFiles(ws, 'daily', 'wait_for_log', ds);
      expect(matched.map((f) => path.basename(f))).toEqual([`${ds}-events.json`]);
      expect(matched.every((f) => f.startsWith(path.join(DATA, 'log_data') + path.sep))).toBe(true);
    }
  });

  it('sets up and tears down a scratch area per run with the functions the job names', async () => {
    const module = (await import('../tasks/resources.js')) as Record<string, unknown>;
    for (const task of Object.values(job().tasks)) if (task.kind === 'function') expect(typeof module[task.export], task.export).toBe('function');
    const previous = process.env.SPARKIFY_SCRATCH_DIR;
    process.env.SPARKIFY_SCRATCH_DIR = tempDir('sparkify-scratch-');
    try {
      const context = taskContext({ job: 'daily', task: 'setup', ds: '2018-11-05' });
      const { scratchDir } = prepareScratch(context);
      expect(scratchDir).toBe(scratchDirOf(context));
      expect(JSON.parse(readFileSync(path.join(scratchDir, 'manifest.json'), 'utf8'))).toMatchObject({ job: 'daily', runId: context.runId, ds: '2018-11-05', intervalStart: '2018-11-05T00:00:00.000Z', intervalEnd: '2018-11-06T00:00:00.000Z' });
      expect(context.lines).toEqual([`scratch area for 2018-11-05: ${scratchDir}`]);
      expect(removeScratch(context)).toEqual({ scratchDir, removed: true });
      expect(existsSync(scratchDir)).toBe(false);
      // A teardown after a setup that failed finds nothing, and still succeeds.
      expect(removeScratch(context)).toEqual({ scratchDir, removed: false });
    } finally {
      if (previous === undefined) delete process.env.SPARKIFY_SCRATCH_DIR;
      else process.env.SPARKIFY_SCRATCH_DIR = previous;
    }
  });

  it('gives the reference tables, the same as a full run', async () => {
    await expectStarSchemaAsReference(ws);
    const full = await runProject(SPARKIFY, { dataDir: tempDir('sparkify-compare-') });
    try {
      expect(await fingerprints(ws)).toEqual(await fingerprints(full.ws));
    } finally {
      await full.ws.close();
    }
    // A day's run wrote that day's file in the month partition; the other days' files stayed.
    const files = await ws.metastore.liveFiles('songplays');
    expect(files).toHaveLength(30);
    expect(files.reduce((s, f) => s + f.rows, 0)).toBe(6_820);
  });

  it('re-running a day replaces only its rows and gives identical tables', async () => {
    const before = await fingerprints(ws);
    const otherDays = (await ws.metastore.liveFiles('songplays')).map((f) => f.path);
    await runDay('2018-11-21');
    expect(await fingerprints(ws)).toEqual(before);
    const after = (await ws.metastore.liveFiles('songplays')).map((f) => f.path);
    // One file replaced (the day's), twenty-nine untouched.
    expect(after.filter((p) => otherDays.includes(p))).toHaveLength(29);
  });
});

describe('sparkify: the known flaws, on inputs that show them', () => {
  it('keeps one row per artist when song files spell its location differently', async () => {
    const dir = tempDir('sparkify-artists-');
    cpSync(path.join(DATA, 'song_data'), path.join(dir, 'song_data'), { recursive: true });
    symlinkSync(path.join(DATA, 'log_data'), path.join(dir, 'log_data'));
    // Two more songs by Casual (California - LA, no coordinates in the real files): one with
    // another spelling and coordinates, one with a third spelling and none.
    const casual = { num_songs: 1, artist_id: 'ARD7TVE1187B99BFB1', artist_name: 'Casual', year: 0 };
    mkdirSync(path.join(dir, 'song_data', 'A', 'Z', 'Z'), { recursive: true });
    writeFileSync(
      path.join(dir, 'song_data', 'A', 'Z', 'Z', 'TRZZZZA128F0000001.json'),
      JSON.stringify({ ...casual, artist_latitude: 34.05362, artist_longitude: -118.24545, artist_location: 'Los Angeles, CA', song_id: 'SOZZZZA12A8C000001', title: 'Thoughts', duration: 201.5 }),
    );
    writeFileSync(
      path.join(dir, 'song_data', 'A', 'Z', 'Z', 'TRZZZZA128F0000002.json'),
      JSON.stringify({ ...casual, artist_latitude: null, artist_longitude: null, artist_location: 'LA, California', song_id: 'SOZZZZA12A8C000002', title: 'Words', duration: 180.25 }),
    );
    const expected = sparkifyReference(dir);
    const ws = await openProject(SPARKIFY, { dataDir: tempDir('sparkify-artists-run-') });
    try {
      await runModels(ws, { models: ['staging_songs', 'songs', 'artists'], sources: { song_files: path.join(dir, 'song_data', '*', '*', '*', '*.json') } });
      const [spellings] = await ws.engine.queryJson<{ n: number }>(`SELECT count(DISTINCT coalesce(artist_location, ''))::INTEGER AS n FROM staging_songs WHERE artist_id = 'ARD7TVE1187B99BFB1'`);
      expect(spellings!.n).toBe(3);
      const artists = await readTable(ws, 'artists');
      expect(artists).toEqual(byKey(expected.artists, 'artist_id'));
      expect(artists).toHaveLength(69);
      expect(artists.find((a) => a.artist_id === 'ARD7TVE1187B99BFB1')).toEqual({
        artist_id: 'ARD7TVE1187B99BFB1',
        name: 'Casual',
        location: 'Los Angeles, CA',
        latitude: 34.05362,
        longitude: -118.24545,
      });
      expect(await readTable(ws, 'songs')).toEqual(byKey(expected.songs, 'song_id'));
    } finally {
      await ws.close();
    }
  });

  it("refuses a day whose log has a line that does not type, committing nothing and keeping the line's place", async () => {
    const original = readFileSync(path.join(DATA, 'log_data', '2018', '11', '2018-11-05-events.json'), 'utf8').split('\n');
    const broken = original.map((line, index) => (index === 2 ? line.replace(/"ts":\d+/, '"ts":"yesterday"') : line));
    const file = path.join(tempDir('sparkify-bad-log-'), '2018-11-05-events.json');
    writeFileSync(file, broken.join('\n'));
    const ws = await openProject(SPARKIFY, { dataDir: tempDir('sparkify-bad-run-') });
    try {
      await expect(runModels(ws, { models: ['staging_events'], date: '2018-11-05', sources: { log_events: file } })).rejects.toThrow(/too many rows quarantined: 1 of 408/);
      expect(await ws.metastore.liveFiles('staging_events')).toEqual([]);
      const quarantined = await ws.metastore.quarantine();
      expect(quarantined).toHaveLength(1);
      expect(quarantined[0]).toMatchObject({ model: 'staging_events', source: 'log_events', file, line: 3, reason: 'ts: expected TIMESTAMP (epoch ms), got yesterday' });
    } finally {
      await ws.close();
    }
  });
});

describe('sparkify from the command line', () => {
  const dataDir = tempDir('sparkify-cli-');
  const sql = async (query: string) => {
    // `--` ends the options: each query of queries.sql starts with a comment, which would read as one.
    const result = await runCli(['sql', '--project', SPARKIFY, '--data-dir', dataDir, '-f', 'json', '--', query]);
    expect(result.stderr).toBe('');
    return JSON.parse(result.stdout) as Record<string, string | number>[];
  };

  it('runs the project, checks it, quarantines nothing, and answers the dashboard queries', async () => {
    const run = await runCli(['run', '--project', SPARKIFY, '--data-dir', dataDir, '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/✘/);
    expect(run.stderr.match(/✔ check /g)).toHaveLength(17);
    const quarantine = await runCli(['quarantine', '--project', SPARKIFY, '--data-dir', dataDir, '-f', 'json']);
    expect(JSON.parse(quarantine.stdout)).toEqual([]);

    const dashboardQueries = readFileSync(path.join(SPARKIFY, 'dashboards', 'queries.sql'), 'utf8');
    const named = new Map(
      dashboardQueries
        .split(/^-- name: /m)
        .slice(1)
        .map((block) => [block.split('\n')[0]!.trim(), block.slice(block.indexOf('\n') + 1).trim().replace(/;$/, '')]),
    );
    expect([...named.keys()]).toEqual(['plays_per_day', 'plays_per_hour', 'top_songs', 'top_artists', 'free_vs_paid', 'sessions']);
    const plays = reference.songplays;
    const perDay = await sql(named.get('plays_per_day')!);
    expect(perDay).toHaveLength(30);
    expect(perDay.reduce((s, r) => s + Number(r.plays), 0)).toBe(plays.length);
    expect(perDay.find((r) => r.day === '2018-11-15')).toEqual({ day: '2018-11-15', plays: String(plays.filter((p) => String(p.start_time).startsWith('2018-11-15')).length) });
    expect(await sql(named.get('free_vs_paid')!)).toEqual([
      { level: 'free', users: '75', plays: String(plays.filter((p) => p.level === 'free').length) },
      { level: 'paid', users: '22', plays: String(plays.filter((p) => p.level === 'paid').length) },
    ]);
    const sessions = new Set(plays.map((p) => `${p.user_id}|${p.session_id}`)).size;
    expect(await sql(named.get('sessions')!)).toEqual([{ sessions: String(sessions), avg_songs_per_session: Math.round((plays.length / sessions) * 100) / 100 }]);
    expect((await sql(named.get('top_artists')!))[0]).toEqual({ artist: 'Coldplay', plays: '58' });
  });
});
