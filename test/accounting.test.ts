import { DuckDBInstance } from '@duckdb/node-api';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, CLI, CLICKSTREAM, ECOMMERCE_SAMPLE, tempDir, openProject, REPO, runProject, SPARKIFY_DATA, writeTree } from './helpers.js';

/**
 * Issue 7, "every row accounted for, for real": each test is a defect of the previous main, on the
 * real November sample. Expected numbers are computed here from the file's text, never by DuckDB.
 */
const SAMPLE_TEXT = readFileSync(ECOMMERCE_SAMPLE, 'utf8');
const SAMPLE_LINES = SAMPLE_TEXT.trim().split('\n');
const HEADER = SAMPLE_LINES[0]!;
const DATA = SAMPLE_LINES.slice(1);
const COLUMN_NAMES = HEADER.split(',');

/** A sample line as fields (the sample's quoted fields are all `""`: no commas or line breaks in them). */
function fields(line: string): Record<string, string> {
  const values = line.split(',').map((v) => v.replace(/^"(.*)"$/, '$1'));
  return Object.fromEntries(COLUMN_NAMES.map((name, i) => [name, values[i] ?? '']));
}

/** Cents of a price written like 776.74 or 5, as an exact integer. */
function cents(price: string): bigint {
  const [whole, fraction = ''] = price.split('.');
  return BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
}

/** The clickstream example's kpis table, computed from CSV lines. */
function expectedKpis(lines: readonly string[]) {
  let purchases = 0;
  let views = 0;
  let carts = 0;
  let revenue = 0n;
  for (const line of lines) {
    const row = fields(line);
    if (row.event_type === 'purchase') {
      purchases++;
      revenue += cents(row.price!);
    } else if (row.event_type === 'view') views++;
    else if (row.event_type === 'cart') carts++;
  }
  const text = `${revenue / 100n}.${String(revenue % 100n).padStart(2, '0')}`;
  return { operations: String(purchases + views + carts), revenue: text, purchases: String(purchases), views: String(views), carts: String(carts) };
}

const CLICK_COLUMNS = `{
  event_time: 'TIMESTAMP', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT',
  category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DECIMAL(12,2)', user_id: 'BIGINT', user_session: 'VARCHAR',
}`;

/** A one-model project over a CSV of sample lines; `source` adds keys to the source's config. */
function csvProject(options: { source?: string; models?: string } = {}): string {
  return `import { defineProject } from 'tributary';
export default defineProject({
  name: 'accounting',
  sources: {
    clicks: {
      format: 'csv',
      path: 'data/events.csv',
      columns: ${CLICK_COLUMNS},
      csv: { timestampFormat: '%Y-%m-%d %H:%M:%S UTC' },
      rules: [{ column: 'event_type', accepted: ['view', 'cart', 'purchase'] }, { column: 'price', min: 0 }],
      ${options.source ?? ''}
    },
  },
  models: {
    ${options.models ?? `events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake', partitionBy: { dt: 'CAST(event_time AS DATE)' } },`}
  },
});
`;
}

function csvFile(lines: readonly string[], eol = '\n'): string {
  return `${[HEADER, ...lines].join(eol)}${eol}`;
}

/** Replaces the brand (6th field) of a sample line. */
function withBrand(line: string, brand: string): string {
  const values = line.split(',');
  values[5] = brand;
  return values.join(',');
}

describe('1. a stray double quote costs one line, never the rest of the file', () => {
  it('the clickstream example loads 10,033 rows, quarantines exactly line 3 as an unbalanced quote, and kpis hold those rows', async () => {
    const dir = tempDir();
    const broken = path.join(dir, 'stray-quote.csv');
    const lines = SAMPLE_TEXT.split('\n');
    expect(lines[2]).toContain(',tefal,');
    lines[2] = lines[2]!.replace(',tefal,', ',"acme,');
    writeFileSync(broken, lines.join('\n'));
    const dataDir = path.join(dir, 'data');

    const run = cli(['run', '--project', CLICKSTREAM, '--data-dir', dataDir, '--source', `clickstream=${broken}`, '--quiet']);
    expect(run.stderr).toMatch(/✔ events \(lake\) in [\d.]+s: read 10,034, wrote 10,033, quarantined 1/);
    expect(run.code).toBe(0);

    const loaded = DATA.filter((_line, i) => i !== 1); // data line 2 is physical line 3
    const ws = await openProject(CLICKSTREAM, { dataDir });
    try {
      const quarantine = await ws.metastore.quarantine({ model: 'events' });
      expect(quarantine).toHaveLength(1);
      expect(quarantine[0]).toMatchObject({ file: broken, line: 3, column_name: 'brand' });
      expect(quarantine[0]!.reason).toMatch(/unbalanced quote/);
      expect(quarantine[0]!.raw).toBe(lines[2]);

      expect(await ws.engine.queryJson('SELECT count(*)::INTEGER AS n FROM events')).toEqual([{ n: 10_033 }]);
      // Every loaded row is the line it came from: the sessions and times of the file, line for line.
      const keys = await ws.engine.queryJson<{ k: string }>(
        `SELECT strftime(event_time, '%Y-%m-%d %H:%M:%S UTC') || ',' || product_id || ',' || user_session AS k FROM events`,
      );
      const expectedKeys = loaded.map((l) => {
        const row = fields(l);
        return `${row.event_time},${row.product_id},${row.user_session}`;
      });
      expect(keys.map((r) => r.k).sort()).toEqual(expectedKeys.sort());
      const kpis = await ws.engine.queryJson('SELECT operations::VARCHAR AS operations, revenue::VARCHAR AS revenue, purchases::VARCHAR AS purchases, views::VARCHAR AS views, carts::VARCHAR AS carts FROM kpis');
      expect(kpis).toEqual([expectedKpis(loaded)]);
    } finally {
      await ws.close();
    }
  });

  it('a quoted value holding a line break is one record, and quarantined lines after it keep their physical line numbers', async () => {
    const lines = DATA.slice(0, 30);
    // Physical lines 6 to 9 are one record: its brand spans four lines, with commas in them.
    const brand = 'acme, the\nbrand, of\nsome, kind\nco';
    lines[4] = withBrand(lines[4]!, `"${brand}"`);
    lines[10] = `${lines[10]},surplus`; // physical line 15 (three more, for the line breaks above)
    lines[20] = lines[20]!.replace(/,(view|cart|purchase),/, ',refund,'); // physical line 25
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(lines) });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 30, written: 28, quarantined: 2 });
      expect(await ws.engine.queryJson(`SELECT brand FROM events WHERE brand LIKE 'acme%'`)).toEqual([{ brand }]);
      const quarantine = await ws.metastore.quarantine({ model: 'events' });
      expect(quarantine.map((q) => q.line).sort((a, b) => a! - b!)).toEqual([15, 25]);
      const refund = quarantine.find((q) => q.line === 25)!;
      expect(refund.reason).toMatch(/event_type: expected one of view, cart, purchase, got refund/);
    } finally {
      await ws.close();
    }
  });

  it('a stray quote whose value closes many lines later (one giant record to the reader) is caught: that line is set aside, the lines it swallowed load', async () => {
    const lines = DATA.slice(0, 300);
    // Physical line 101 opens a quote in the brand column; line 201's brand closes it. To a CSV
    // reader that is one valid 9-field record spanning 101 lines.
    lines[99] = withBrand(lines[99]!, '"acme');
    lines[199] = withBrand(lines[199]!, 'acme"');
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(lines) });
    const { ws, results } = await runProject(dir);
    try {
      const quarantine = await ws.metastore.quarantine({ model: 'events' });
      const lineNumbers = quarantine.map((q) => q.line);
      expect(lineNumbers).toContain(101);
      expect(quarantine.find((q) => q.line === 101)).toMatchObject({ column_name: 'brand', reason: expect.stringMatching(/unbalanced quote/) });
      // Only the two lines with a stray quote may be held back; every other line loads as itself.
      expect(lineNumbers.every((l) => l === 101 || l === 201)).toBe(true);
      expect(results[0]!.read).toBe(300);
      expect(results[0]!.written + results[0]!.quarantined).toBe(300);
      const sessions = await ws.engine.queryJson<{ s: string }>('SELECT user_session AS s FROM events');
      const expected = lines.filter((_l, i) => !quarantine.some((q) => q.line === i + 2)).map((l) => fields(l).user_session);
      expect(sessions.map((r) => r.s).sort()).toEqual(expected.sort());
      expect(await ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events WHERE contains(brand, chr(10))`)).toEqual([{ n: 0 }]);
    } finally {
      await ws.close();
    }
  });
});

/** Sample lines with `count` of them (spread evenly) given an event type no rule accepts. */
function withRefunds(lines: readonly string[], count: number): string[] {
  const out = [...lines];
  const step = Math.floor(lines.length / Math.max(count, 1));
  for (let n = 0; n < count; n++) out[n * step] = out[n * step]!.replace(/,(view|cart|purchase),/, ',refund,');
  expect(out.filter((l) => l.includes(',refund,'))).toHaveLength(count);
  return out;
}

/** Runs every model of `dir` and returns the error the run failed with, or undefined. */
async function runError(dir: string, options: { date?: string; sources?: Record<string, string> } = {}): Promise<{ error?: Error; written?: number }> {
  try {
    const { ws, results } = await runProject(dir, options);
    await ws.close();
    return { written: results[0]!.written };
  } catch (error) {
    return { error: error as Error };
  }
}

describe('2. a load that quarantines too much fails and commits nothing (maxQuarantined)', () => {
  const GOOD = DATA.slice(0, 20);

  it('every row failing a rule: the CLI exits non-zero, never prints ✔ for the load, names the count and the top reason, and the table keeps its rows', async () => {
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(GOOD), 'data/refunds.csv': csvFile(GOOD.map((l) => l.replace(/,(view|cart|purchase),/, ',refund,'))) });
    const first = cli(['run', '--project', dir, '--quiet']);
    expect(first.code).toBe(0);

    const run = cli(['run', '--project', dir, '--quiet', '--source', `clicks=${path.join(dir, 'data/refunds.csv')}`]);
    expect(run.code).toBe(1);
    expect(`${run.stdout}${run.stderr}`).not.toContain('✔');
    expect(run.stderr).toMatch(/20 of 20 rows of source 'clicks' failed/);
    expect(run.stderr).toMatch(/nothing was committed/);
    expect(run.stderr).toMatch(/20 × event_type: expected one of view, cart, purchase, got refund/);

    const ws = await openProject(dir);
    try {
      const sessions = await ws.engine.queryJson<{ s: string }>('SELECT user_session AS s FROM events');
      expect(sessions.map((r) => r.s).sort()).toEqual(GOOD.map((l) => fields(l).user_session).sort());
      const [latest] = await ws.metastore.runs({ target: 'events', limit: 1 });
      expect(latest).toMatchObject({ status: 'failed', error: expect.stringMatching(/20 of 20 rows/) });
      // The refused rows are kept to be looked at, under the failed run.
      expect(await ws.metastore.quarantine({ runId: latest!.run_id })).toHaveLength(20);
    } finally {
      await ws.close();
    }
  });

  it('a count: maxQuarantined 2 lets 2 bad rows through and fails at 3', async () => {
    const source = 'maxQuarantined: 2,';
    const two = await runError(writeTree({ 'tributary.config.ts': csvProject({ source }), 'data/events.csv': csvFile(withRefunds(GOOD, 2)) }));
    expect(two).toEqual({ written: 18 });
    const three = await runError(writeTree({ 'tributary.config.ts': csvProject({ source }), 'data/events.csv': csvFile(withRefunds(GOOD, 3)) }));
    expect(three.error?.message).toMatch(/too many rows quarantined: 3 of 20 rows of source 'clicks' failed \(the limit is 2\)/);
  });

  it("a share: maxQuarantined '50%' lets 10 of 20 through and fails at 11", async () => {
    const source = "maxQuarantined: '50%',";
    const ten = await runError(writeTree({ 'tributary.config.ts': csvProject({ source }), 'data/events.csv': csvFile(withRefunds(GOOD, 10)) }));
    expect(ten).toEqual({ written: 10 });
    const eleven = await runError(writeTree({ 'tributary.config.ts': csvProject({ source }), 'data/events.csv': csvFile(withRefunds(GOOD, 11)) }));
    expect(eleven.error?.message).toMatch(/11 of 20 rows .* \(the limit is 10\)/);
  });

  it('the default is 1 % of the rows read and never fewer than 10: 10 of 20 pass, 11 fail; 100 of the 10,034-row sample pass, 101 fail', async () => {
    expect(await runError(writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(withRefunds(GOOD, 10)) }))).toEqual({ written: 10 });
    expect((await runError(writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(withRefunds(GOOD, 11)) }))).error?.message).toMatch(/11 of 20 rows .* \(the limit is 10\)/);
    expect(await runError(writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(withRefunds(DATA, 100)) }))).toEqual({ written: DATA.length - 100 });
    expect((await runError(writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(withRefunds(DATA, 101)) }))).error?.message).toMatch(
      /101 of 10,034 rows .* \(the limit is 100\)/,
    );
  });
});

const SONG_FILES = path.join(SPARKIFY_DATA, 'song_data', 'A');

describe('3. a partition key named like a model column', () => {
  it("partitionBy { year: 'year', artist_id: 'artist_id' } on the 71 real song files: every row reads back as in its file, in year=…/artist_id=… folders", async () => {
    const songFiles = readdirRecursive(SONG_FILES).filter((f) => f.endsWith('.json'));
    expect(songFiles).toHaveLength(71);
    const songs = songFiles.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, string | number | null>);
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'songs',
  sources: {
    song_files: {
      format: 'json',
      path: '${SONG_FILES}/*/*/*.json',
      columns: { num_songs: 'INTEGER', artist_id: 'VARCHAR', artist_latitude: 'DOUBLE', artist_longitude: 'DOUBLE', artist_location: 'VARCHAR',
                 artist_name: 'VARCHAR', song_id: 'VARCHAR', title: 'VARCHAR', duration: 'DOUBLE', year: 'INTEGER' },
    },
  },
  models: {
    songs: {
      sql: "SELECT song_id, title, artist_id, year, duration FROM {{ source('song_files') }}",
      materialize: 'lake',
      partitionBy: { year: 'year', artist_id: 'artist_id' },
    },
  },
});
`,
    });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 71, written: 71, quarantined: 0 });
      const rows = await ws.engine.queryJson<Record<string, string | number | null>>('SELECT song_id, title, artist_id, year, duration FROM songs ORDER BY song_id');
      const expected = songs
        .map((s) => ({ song_id: s.song_id, title: s.title, artist_id: s.artist_id, year: s.year, duration: s.duration }))
        .sort((a, b) => String(a.song_id).localeCompare(String(b.song_id)));
      expect(rows).toEqual(expected);
      expect(rows.every((r) => r.year !== null)).toBe(true);
      const files = await ws.metastore.liveFiles('songs');
      expect(files.reduce((sum, f) => sum + f.rows, 0)).toBe(71);
      for (const file of files) {
        expect(file.path).toMatch(/^songs\/year=\d+\/artist_id=AR[0-9A-Z]+\/part-[^/]+\.parquet$/);
        const [, year, artist] = /year=(\d+)\/artist_id=([^/]+)\//.exec(file.path)!;
        expect(songs.some((s) => String(s.year) === year && s.artist_id === artist)).toBe(true);
      }
      expect(new Set(files.map((f) => f.path)).size).toBe(files.length);
      // On disk, as Hive readers see it: exactly the catalog's files.
      const onDisk = readdirRecursive(path.join(ws.project.lakeLocation, 'songs')).map((f) => path.relative(ws.project.lakeLocation, f).split(path.sep).join('/'));
      expect(onDisk.sort()).toEqual(files.map((f) => f.path).sort());
    } finally {
      await ws.close();
    }
  });
});

function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? readdirRecursive(full) : [full];
  });
}

describe('4. a run for a day (--date): date partitions, whole tables, and models a day cannot be mapped to', () => {
  const DAY = '2019-11-08';
  const dayOf = (line: string) => line.slice(0, 10);
  /** The day's new input: 5 of its rows, plus rows of the next day (outside the interval) with a price no one wrote. */
  const dayRows = DATA.filter((l) => dayOf(l) === DAY).slice(0, 5);
  const stray = DATA.filter((l) => dayOf(l) === '2019-11-09').slice(0, 3).map((l) => l.replace(/,(\d+\.\d+),(\d+),/, ',999.99,$2,'));

  function project(byType: string): string {
    return csvProject({
      models: `
    events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake', partitionBy: { dt: 'CAST(event_time AS DATE)' } },
    daily: { sql: "SELECT CAST(event_time AS DATE) AS day, count(*) AS n FROM {{ ref('events') }} GROUP BY ALL", materialize: 'table' },
    by_type: { sql: "SELECT event_time, event_type, user_session FROM {{ ref('events') }}", materialize: 'lake', partitionBy: { event_type: 'event_type' }${byType} },`,
    });
  }

  function setUp(byType: string): string {
    return writeTree({ 'tributary.config.ts': project(byType), 'data/events.csv': csvFile(DATA), 'data/day.csv': csvFile([...dayRows, ...stray]) });
  }

  const perDay = (lines: readonly string[]) => {
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(dayOf(l), (counts.get(dayOf(l)) ?? 0) + 1);
    return counts;
  };

  it('with timeColumn on the non-date model: the day partition is rebuilt, the unpartitioned table rebuilt whole, and only the day’s rows of the third are replaced', async () => {
    const dir = setUp(", timeColumn: 'event_time'");
    (await runProject(dir)).ws.close();
    const before = await openProject(dir);
    const otherDays = `SELECT strftime(event_time, '%Y-%m-%d %H:%M:%S') || ' ' || event_type || ' ' || user_session AS k FROM by_type WHERE CAST(event_time AS DATE) <> DATE '${DAY}'`;
    const byTypeOthers = (await before.engine.queryJson<{ k: string }>(otherDays)).map((r) => r.k).sort();
    await before.close();
    expect(byTypeOthers).toHaveLength(DATA.length - perDay(DATA).get(DAY)!);

    const { ws, results } = await runProject(dir, { date: DAY, sources: { clicks: path.join(dir, 'data/day.csv') } });
    try {
      expect(results.find((r) => r.model === 'events')).toMatchObject({ read: 8, written: 5, quarantined: 0, skipped: 3 });
      // events: the day's partition is the day's new rows; every other day is as the full run left it.
      const eventsPerDay = new Map((await ws.engine.queryJson<{ d: string; n: number }>('SELECT dt::VARCHAR AS d, count(*)::INTEGER AS n FROM events GROUP BY 1')).map((r) => [r.d, r.n]));
      const expectedPerDay = perDay(DATA);
      expectedPerDay.set(DAY, 5);
      expect(eventsPerDay).toEqual(expectedPerDay);
      expect(await ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events WHERE price = 999.99`)).toEqual([{ n: 0 }]);
      expect((await ws.engine.queryJson<{ s: string }>(`SELECT user_session AS s FROM events WHERE dt = DATE '${DAY}'`)).map((r) => r.s).sort()).toEqual(
        dayRows.map((l) => fields(l).user_session).sort(),
      );
      // daily: rebuilt in full from the events as they now are.
      const daily = new Map((await ws.engine.queryJson<{ d: string; n: number }>('SELECT day::VARCHAR AS d, n::INTEGER AS n FROM daily')).map((r) => [r.d, r.n]));
      expect(daily).toEqual(expectedPerDay);
      // by_type: the day's rows replaced, every other row untouched.
      expect((await ws.engine.queryJson<{ k: string }>(otherDays)).map((r) => r.k).sort()).toEqual(byTypeOthers);
      expect((await ws.engine.queryJson<{ s: string }>(`SELECT user_session AS s FROM by_type WHERE CAST(event_time AS DATE) = DATE '${DAY}'`)).map((r) => r.s).sort()).toEqual(
        dayRows.map((l) => fields(l).user_session).sort(),
      );
    } finally {
      await ws.close();
    }
  });

  it('without timeColumn, the run for a day refuses before running anything, naming the model and what to declare', async () => {
    const dir = setUp('');
    (await runProject(dir)).ws.close();
    const before = await openProject(dir);
    const runsBefore = (await before.metastore.runs({ limit: 1000 })).length;
    await before.close();

    const { error } = await runError(dir, { date: DAY, sources: { clicks: path.join(dir, 'data/day.csv') } });
    expect(error?.message).toMatch(/by_type \(partitioned by event_type/);
    expect(error?.message).toMatch(/nothing was run/);
    expect((error as { hint?: string }).hint).toMatch(/timeColumn/);

    const ws = await openProject(dir);
    try {
      // Nothing ran: no run was recorded, and the day's partition still holds the full run's rows.
      expect(await ws.metastore.runs({ limit: 1000 })).toHaveLength(runsBefore);
      expect(await ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events WHERE dt = DATE '${DAY}'`)).toEqual([{ n: perDay(DATA).get(DAY) }]);
      expect(await ws.engine.queryJson(`SELECT sum(n)::INTEGER AS n FROM daily`)).toEqual([{ n: DATA.length }]);
    } finally {
      await ws.close();
    }
  });
});

describe('15. quarantined rows say what they were, briefly and exactly', () => {
  const GOOD = DATA.slice(0, 20);

  it('a CRLF file: the raw text of a refused line is that line, without the previous line ending, and its line number is physical', async () => {
    const lines = [...GOOD];
    lines[4] = `${lines[4]},surplus`;
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(lines, '\r\n') });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 20, written: 19, quarantined: 1 });
      const [row] = await ws.metastore.quarantine({ model: 'events' });
      expect(row).toMatchObject({ line: 6, raw: lines[4], raw_bytes: Buffer.byteLength(lines[4]!) });
    } finally {
      await ws.close();
    }
  });

  it('one-character lines the reader refuses are named at their own lines: after the header, after a blank line, the last, in LF and CRLF files', async () => {
    for (const eol of ['\n', '\r\n']) {
      const lines = [...GOOD];
      lines.splice(0, 0, '7');
      lines.splice(6, 0, '', '8');
      lines.push('9');
      const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(lines, eol) });
      const { ws, results } = await runProject(dir);
      try {
        expect(results[0]).toMatchObject({ read: 23, written: 20, quarantined: 3 });
        const rows = await ws.metastore.quarantine({ model: 'events' });
        // Physical lines: the header is line 1, so entry i of `lines` is line i + 2.
        expect(rows.map((r) => [r.line, r.raw])).toEqual([
          [2, '7'],
          [9, '8'],
          [lines.length + 1, '9'],
        ]);
      } finally {
        await ws.close();
      }
    }
  });

  it('a 10 MB line: the reason is a sentence, the raw text is capped, and raw_bytes states the line’s full size', async () => {
    const lines = [...GOOD];
    lines[2] = lines[2]!.replace(',view,', `,${'x'.repeat(10 * 1024 * 1024)},`);
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(lines) });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 20, written: 19, quarantined: 1 });
      const [row] = await ws.metastore.quarantine({ model: 'events' });
      expect(row!.line).toBe(4);
      expect(row!.reason.length).toBeLessThan(1_000);
      expect(row!.reason).toMatch(/LINE SIZE/);
      expect(row!.raw!.length).toBeLessThan(20_000);
      expect(lines[2]!.startsWith(row!.raw!.slice(0, 1_000))).toBe(true);
      expect(row!.raw_bytes).toBe(Buffer.byteLength(lines[2]!));
    } finally {
      await ws.close();
    }
  });

  it('a line with several problems names each problem once: one column count, not one per parse attempt', async () => {
    const lines = [...GOOD];
    lines[3] = `${dayOfLine(lines[3]!)},view,abc`; // too short, and a product id that is no number
    lines[7] = 'garbage';
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(lines) });
    const { ws } = await runProject(dir);
    try {
      const rows = await ws.metastore.quarantine({ model: 'events' });
      const short = rows.find((r) => r.line === 5)!;
      expect(short.reason.match(/\d+ fields? where \d+ are expected/g)).toEqual(['3 fields where 9 are expected']);
      expect(short.reason).toMatch(/product_id/);
      const garbage = rows.find((r) => r.line === 9)!;
      expect(garbage.reason.match(/\d+ fields? where \d+ are expected/g)).toEqual(['1 field where 9 are expected']);
      for (const row of rows) {
        const sentences = row.reason.split('; ');
        expect(new Set(sentences).size).toBe(sentences.length);
      }
    } finally {
      await ws.close();
    }
  });

  it('a JSON document source: a quarantined record has no line, its record number within the file, and its text as it came', async () => {
    const songs = readdirRecursive(SONG_FILES).filter((f) => f.endsWith('.json')).slice(0, 3).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>);
    const bad = { ...songs[1]!, year: 'nineteen sixty-nine' };
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'songs',
  sources: { song_files: { format: 'json', path: 'data/*.json', columns: { song_id: 'VARCHAR', title: 'VARCHAR', year: 'INTEGER' } } },
  models: { songs: { sql: "SELECT * FROM {{ source('song_files') }}", materialize: 'table' } },
});
`,
      // Pretty-printed, as song dumps are: record 2 of the array spans many lines.
      'data/songs.json': JSON.stringify([songs[0], bad, songs[2]], null, 2),
      'data/broken.json': '{"song_id": "SO1", "title": ',
      'data/mixed.json': '[{"song_id": "SO9", "title": "t", "year": 1999}, 5]',
      'data/lines.json': '{"song_id": "SO7"}\n{"song_id": "SO8"}\n',
    });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 7, written: 3, quarantined: 4 });
      const rows = await ws.metastore.quarantine({ model: 'songs' });
      const record = rows.find((r) => r.file!.endsWith('songs.json'));
      expect(record).toMatchObject({ line: null, record: 2, column_name: 'year', reason: expect.stringMatching(/year: expected INTEGER, got nineteen/) });
      // The record as the file has it, the failing value in place (not the row as typed, where it reads NULL).
      expect(JSON.parse(record!.raw!)).toEqual(bad);
      expect(rows.find((r) => r.file!.endsWith('broken.json'))).toMatchObject({ line: null, record: 1, reason: expect.stringMatching(/not valid JSON/) });
      expect(rows.find((r) => r.file!.endsWith('mixed.json'))).toMatchObject({ line: null, record: 2, reason: 'expected a JSON object, got a number', raw: '5' });
      // JSON lines in a .json file: the whole file, with the format that reads it.
      expect(rows.find((r) => r.file!.endsWith('lines.json'))).toMatchObject({ record: 1, reason: expect.stringMatching(/^not valid JSON: .*\(the file holds a JSON value a line: declare sources\.song_files\.format 'jsonl'/) });
    } finally {
      await ws.close();
    }
  });
});

function dayOfLine(line: string): string {
  return line.split(',')[0]!;
}

describe('13. kill -9 of a batch run', () => {
  /** Parquet files under a folder, as lake keys (`events/dt=…/part-….parquet`). */
  function parquetKeys(lakeLocation: string, table: string): string[] {
    const root = path.join(lakeLocation, table);
    if (!existsSync(root)) return [];
    return readdirRecursive(root)
      .filter((f) => f.endsWith('.parquet'))
      .map((f) => path.relative(lakeLocation, f).split(path.sep).join('/'));
  }

  /** The catalog's files and runs, read straight from the warehouse file: no recovery runs first. */
  async function stateAsLeft(stateDir: string): Promise<{ files: Set<string>; running: string[]; runs: unknown[] }> {
    const db = await DuckDBInstance.create(path.join(stateDir, 'warehouse.duckdb'), { access_mode: 'READ_ONLY' });
    const connection = await db.connect();
    try {
      const files = (await connection.runAndReadAll(`SELECT path FROM tributary.data_files`)).getRowObjectsJson() as { path: string }[];
      const runs = (await connection.runAndReadAll(`SELECT run_id, status, error FROM tributary.runs ORDER BY started_at`)).getRowObjectsJson() as { run_id: string; status: string }[];
      return { files: new Set(files.map((f) => f.path)), running: runs.filter((r) => r.status === 'running').map((r) => r.run_id), runs };
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  }

  /** Where in the load the kill lands: as staging begins, or once Parquet files are being written there. */
  type Moment = 'staging' | 'writing';

  /** Starts `tributary run` from source and SIGKILLs it at that moment of its load. */
  async function killMidLoad(dir: string, source: string, lakeLocation: string, moment: Moment): Promise<number | null> {
    const child = spawn(process.execPath, [CLI, 'run', '--project', dir, '--quiet', '--source', `clicks=${source}`], {
      cwd: REPO,
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const staging = path.join(lakeLocation, '_staging');
    const reached = () => existsSync(staging) && (moment === 'staging' ? readdirSync(staging).length > 0 : readdirRecursive(staging).some((f) => f.endsWith('.parquet')));
    let ended = false;
    void exited.then(() => (ended = true));
    // Waits on the moment itself (or on the run ending first, which the caller's check reports).
    await expect.poll(() => ended || reached(), { interval: 5, timeout: 60_000 }).toBe(true);
    child.kill('SIGKILL');
    return exited;
  }

  it('leaves no Parquet file in the table folders that the catalog does not list, and the next command marks the run failed with the reason', async () => {
    // A few hundred thousand real rows: the sample, 40 times over, so the load takes a moment.
    const big = Array.from({ length: 40 }, () => DATA).flat();
    const dir = writeTree({ 'tributary.config.ts': csvProject(), 'data/events.csv': csvFile(DATA.slice(0, 2_000)), 'data/big.csv': csvFile(big) });
    const lakeLocation = path.join(dir, 'lake');
    const stateDir = path.join(dir, '.tributary');
    expect(cli(['run', '--project', dir, '--quiet']).code).toBe(0);
    const committed = parquetKeys(lakeLocation, 'events');
    expect(committed.length).toBeGreaterThan(0);

    for (const moment of ['staging', 'writing'] as const) {
      const code = await killMidLoad(dir, path.join(dir, 'data/big.csv'), lakeLocation, moment);
      expect(code).toBeNull(); // killed, not finished
      const left = await stateAsLeft(stateDir);
      expect(left.running, JSON.stringify(left.runs)).toHaveLength(1);
      // What a Hive, Spark or Trino reader of lake/events/ sees is exactly what the catalog lists.
      for (const key of parquetKeys(lakeLocation, 'events')) expect(left.files.has(key), key).toBe(true);

      const runs = cli(['runs', '--project', dir, '--format', 'json']);
      expect(runs.code).toBe(0);
      const killed = (JSON.parse(runs.stdout) as Record<string, unknown>[]).find((r) => Object.values(r).includes(left.running[0]));
      expect(killed).toMatchObject({ status: 'failed', error: expect.stringMatching(/ended without finishing it \(killed or crashed\)/) });
      // The table still reads as the last committed run wrote it.
      const count = cli(['sql', 'SELECT count(*) AS n FROM events', '--project', dir, '--format', 'json']);
      expect(JSON.parse(count.stdout)).toEqual([{ n: '2000' }]);
    }
  });
});

describe('a load records where its time went, phase by phase', () => {
  it('the run record of a load holds its phases in order, within the run’s own span; the CLI prints them with the commit; a model over tables records none', async () => {
    const lines = withRefunds(DATA.slice(0, 50), 1);
    const dir = writeTree({
      'tributary.config.ts': csvProject({ models: `events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake' }, views: { sql: "SELECT count(*) AS n FROM {{ ref('events') }}", materialize: 'table' },` }),
      'data/events.csv': csvFile(lines),
    });
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/✔ events \(lake\) in [\d.]+s: read 50, wrote 49, quarantined 1\n {2}time: prepare [\d.]+s · read and write [\d.]+s · line count [\d.]+s · locate [\d.]+s · commit [\d.]+s\n/);
    const ws = await openProject(dir);
    try {
      const [load] = await ws.metastore.runs({ target: 'events', limit: 1 });
      expect(load!.timing!.map((p) => p.name)).toEqual(['prepare', 'read and write', 'line count', 'locate']);
      expect(load!.timing!.every((p) => p.seconds >= 0)).toBe(true);
      const span = (Date.parse(`${load!.finished_at!}Z`) - Date.parse(`${load!.started_at}Z`)) / 1000;
      expect(load!.timing!.reduce((s, p) => s + p.seconds, 0)).toBeLessThanOrEqual(span + 0.01);
      const [model] = await ws.metastore.runs({ target: 'views', limit: 1 });
      expect(model).toMatchObject({ status: 'success', timing: null });
    } finally {
      await ws.close();
    }
  });
});
