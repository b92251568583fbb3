import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ECOMMERCE_SAMPLE, REPO, cli, tempDir, writeTree } from './helpers.js';
import { startCommand } from './support/live-command.js';

// Ctrl+C on a long run, as a user presses it in the shell (SIGINT to the process group): the
// model running is interrupted and commits nothing, what committed before stays, the run is
// recorded as stopped, and the command ends with the shell's code for it.
const sampleRows = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trimEnd().split('\n').length - 1;

function project(): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject, defineJob } from 'tributary';
export default defineProject({
  name: 'stoppable',
  sources: {
    // Its columns inferred: what matters here is a load that commits before the endless model.
    clicks: { format: 'csv', path: 'data/events.csv' },
  },
  models: {
    events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake' },
    // Never ends by itself: only a stop ends it.
    endless: { sql: "SELECT count(*) AS n FROM {{ ref('events') }}, range(1000000000000)", materialize: 'table' },
    after_endless: { sql: "SELECT n FROM {{ ref('endless') }}", materialize: 'table' },
  },
  jobs: { nightly: defineJob({ schedule: '0 3 * * *', tasks: { build: { kind: 'models', select: ['endless'] } } }) },
});
`,
    'data/events.csv': readFileSync(ECOMMERCE_SAMPLE),
  });
}

const json = <T>(args: string[]): T => JSON.parse(cli([...args, '--format', 'json']).stdout) as T;

describe('Ctrl+C on a run', () => {
  it('interrupts the model running, keeps what committed, records the run as stopped and exits 130', async () => {
    const dir = project();
    const run = startCommand(process.execPath, [CLI, 'run', '--project', dir], { cwd: dir });
    await run.waitFor(/… endless \(table\) started/);
    expect(await run.stop()).toBe(130);
    const said = run.output();
    expect(said).toMatch(/stopping on SIGINT/);
    expect(said).toMatch(/✘ endless: model 'endless' was stopped \(Ctrl\+C\)/);
    expect(said).toMatch(/error: the run was stopped \(Ctrl\+C\): endless interrupted/);
    expect(said).toMatch(/this run committed 1 of 3 model\(s\); not run because of the stop: after_endless/);

    // What committed before the stop stays; the stopped model wrote nothing.
    expect(json<{ n: string }[]>(['sql', 'SELECT count(*) AS n FROM events', '--project', dir])).toEqual([{ n: String(sampleRows) }]);
    const tables = json<{ table: string }[]>(['catalog', '--project', dir]).map((t) => t.table);
    expect(tables).toContain('events');
    expect(tables).not.toContain('endless');
    const runs = json<{ target: string; status: string; error: string | null }[]>(['runs', '--project', dir]);
    expect(runs.find((r) => r.target === 'endless')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^model 'endless' was stopped \(Ctrl\+C\)/) });
    expect(runs.find((r) => r.target === 'events')).toMatchObject({ status: 'success' });
  });

  it('sent to the running server (`up`), stops it there: the server interrupts the model when the CLI goes', async () => {
    const dir = project();
    // A model whose upstream no run built says so (not the engine's "Table … does not exist").
    const early = cli(['run', 'endless', '--project', dir]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/model 'endless' reads model 'events', which has not been built yet\n  → build what it reads with it: `tributary run \+endless`/);
    expect(cli(['run', 'events', '--project', dir]).code).toBe(0);
    const up = startCommand(process.execPath, [CLI, 'up', '--project', dir, '--port', '0'], { cwd: dir });
    try {
      await up.waitFor(/is up at http:\/\/\S+/);
      const run = startCommand(process.execPath, [CLI, 'run', 'endless', '--project', dir], { cwd: dir });
      await run.waitFor(/… endless \(table\) started/);
      expect(await run.stop()).toBe(130);
      expect(run.output()).toMatch(/error: stopped \(Ctrl\+C\): the server at http:\/\/\S+ was told to stop the command/);
      // The server ends the run once it sees the client gone; `runs` (forwarded too) shows it.
      await expect
        .poll(() => json<{ target: string; status: string; error: string | null }[]>(['runs', '--project', dir]).find((r) => r.target === 'endless'), { timeout: 60_000, interval: 500 })
        .toMatchObject({ status: 'failed', error: expect.stringMatching(/^model 'endless' was stopped \(the client that sent it stopped waiting\)/) });
    } finally {
      await up.stop();
    }
  });

  it('hands a triggered job run’s interrupted task back unfinished, not failed', async () => {
    const dir = project();
    expect(cli(['run', 'events', '--project', dir]).code).toBe(0);
    const trigger = startCommand(process.execPath, [CLI, 'trigger', 'nightly', '--project', dir], { cwd: dir });
    await trigger.waitFor(/build: … endless \(table\) started/);
    expect(await trigger.stop()).toBe(130);
    expect(trigger.output()).toMatch(/error: stopped \(Ctrl\+C\); 1 run\(s\) left unfinished/);
    const [jobRun] = json<{ state: string; tasks: string }[]>(['runs', '--job', 'nightly', '--project', dir]);
    expect(jobRun!.state).not.toBe('failed');
    expect(jobRun!.tasks).not.toMatch(/build:(failed|up_for_retry)/);
  });

  it('a dbt build stops as dbt does: what follows is skipped and its on-run-end hooks do not run', async () => {
    const dir = path.join(tempDir('tributary-dbt-'), 'shop');
    cpSync(path.join(REPO, 'test', 'fixtures', 'dbt', 'shop'), dir, { recursive: true, filter: (src) => !/(^|\/)(target|logs|\.tributary)$|\.duckdb(\.wal)?$/.test(src) });
    writeFileSync(path.join(dir, 'models', 'endless.sql'), "{{ config(materialized='table') }}\nselect count(*) as n from range(1000000000000)\n");
    writeFileSync(path.join(dir, 'models', 'after_endless.sql'), "select n from {{ ref('endless') }}\n");
    const build = startCommand(process.execPath, [CLI, 'build', 'endless+', '--project', dir], { cwd: dir });
    await build.waitFor(/… endless \(table\) started/);
    expect(await build.stop()).toBe(130);
    expect(build.output()).toMatch(/⊘ model after_endless skipped: the build was stopped \(Ctrl\+C\)/);
    expect(build.output()).toMatch(/on-run-end hooks not run: the build was stopped \(Ctrl\+C\)/);
    // on-run-start made the hook's table; on-run-end would have added its row.
    const log = cli(['sql', '--project', dir, '--format', 'json', 'SELECT node, stage FROM hook_log']);
    expect(log.code, log.stderr).toBe(0);
    expect(JSON.parse(log.stdout)).toEqual([]);
  });
});
