import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ECOMMERCE_SAMPLE, cli, tempDir, writeTree } from './helpers.js';

// A run over several days (`--from A --to B`) reads each day's files and replaces each day: the
// real sample split into one file per day, as a landing folder holds them.
const [header, ...lines] = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trimEnd().split('\n');
const DAYS = ['2019-11-01', '2019-11-02', '2019-11-03'];
const rowsOf = (day: string) => lines.filter((l) => l.startsWith(day));

function project(): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'days',
  sources: {
    clicks: {
      format: 'csv',
      path: 'landing/{ds}/events.csv',
      columns: { event_time: 'VARCHAR', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT', category_code: 'VARCHAR',
                 brand: 'VARCHAR', price: 'DECIMAL(10,2)', user_id: 'BIGINT', user_session: 'VARCHAR' },
    },
  },
  models: {
    events: {
      sql: "SELECT * REPLACE (strptime(event_time, '%Y-%m-%d %H:%M:%S UTC') AS event_time) FROM {{ source('clicks') }}",
      materialize: 'lake',
      partitionBy: { dt: 'CAST(event_time AS DATE)' },
    },
  },
});
`,
    ...Object.fromEntries(DAYS.map((day) => [`landing/${day}/events.csv`, [header, ...rowsOf(day)].join('\n') + '\n'])),
  });
}

const perDay = (dir: string, dataDir: string) =>
  (JSON.parse(cli(['sql', 'SELECT dt::VARCHAR AS dt, count(*) AS n FROM events GROUP BY 1 ORDER BY 1', '--project', dir, '--data-dir', dataDir, '--format', 'json']).stdout) as { dt: string; n: string }[]).map(
    (r) => [r.dt, Number(r.n)],
  );

describe('a run over several days', () => {
  it('reads every day of --from/--to and replaces each day with its own files', () => {
    const dir = project();
    const dataDir = tempDir();
    const run = cli(['run', '--project', dir, '--data-dir', dataDir, '--from', DAYS[0]!, '--to', DAYS[2]!]);
    expect(run.code, run.stderr).toBe(0);
    expect(perDay(dir, dataDir)).toEqual(DAYS.map((d) => [d, rowsOf(d).length]));
    // Again over the same days: the same rows, not twice.
    expect(cli(['run', '--project', dir, '--data-dir', dataDir, '--from', DAYS[0]!, '--to', DAYS[2]!]).code).toBe(0);
    expect(perDay(dir, dataDir)).toEqual(DAYS.map((d) => [d, rowsOf(d).length]));
  });

  it('refuses a range with a day that has no files, naming the day, rather than empty it', () => {
    const dir = project();
    const dataDir = tempDir();
    expect(cli(['run', '--project', dir, '--data-dir', dataDir, '--from', DAYS[0]!, '--to', DAYS[2]!]).code).toBe(0);
    rmSync(path.join(dir, 'landing', DAYS[1]!), { recursive: true });
    const run = cli(['run', '--project', dir, '--data-dir', dataDir, '--from', DAYS[0]!, '--to', DAYS[2]!]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(new RegExp(`no files for ${DAYS[1]}.*would empty that day`));
    expect(perDay(dir, dataDir)).toEqual(DAYS.map((d) => [d, rowsOf(d).length]));
  });
});
