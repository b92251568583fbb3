/**
 * Dashboards: (1) the time from `tributary demo` to live numbers in a real browser; (2) the query
 * count per commit with 1, 5 and 20 dashboards open while 5,000 events/s flow (it must not grow
 * with viewers); (3) the time of each chart query of the batch tab at full size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { loadDashboards } from '../../src/server/dashboards.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { spawnMeasured } from '../lib/measure.js';
import type { Suite } from '../lib/suite.js';

const CHROMIUM = '/usr/bin/chromium';
const FULL_ROWS = 67_501_979;

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

export const dashboardsSuite: Suite = {
  name: 'dashboards',
  description: 'demo start-up to live numbers, query fan-out with 1–20 viewers, chart query times at full size',
  async run({ root, dataDir, resultsDir, log }) {
    const cli = join(root, 'bin', 'tributary.js');
    const example = join(root, 'examples', 'ecommerce-clickstream');
    const work = join(dataDir, 'work', 'dashboards');
    mkdirSync(work, { recursive: true });

    // 1. From the command to live numbers in the browser.
    const startup: number[] = [];
    for (let run = 0; run < 3; run++) {
      const dir = join(work, `demo-${run}`);
      rmSync(dir, { recursive: true, force: true });
      const port = 7291 + run;
      const started = performance.now();
      const demo = spawn(process.execPath, [cli, 'demo', '--port', String(port), '--data-dir', dir], { cwd: root, stdio: 'ignore' });
      const url = `http://127.0.0.1:${port}`;
      await waitUp(url);
      const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'bench-chromium-')), {
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => Number(document.querySelector('[data-tile="live_operations"] .kpi')?.getAttribute('data-value') ?? 0) > 0, undefined, { timeout: 60_000, polling: 50 });
      const seconds = (performance.now() - started) / 1000;
      startup.push(seconds);
      log(`  demo → live numbers in the browser: ${seconds.toFixed(1)} s (run ${run + 1}, browser launch included)`);
      await context.close();
      await stop(demo);
    }

    // 2. Fan-out: queries per commit with 1, 5 and 20 open dashboards at 5,000 events/s.
    const fanout: { viewers: number; commits: number; queries: number; perCommit: number; pushesPerViewer: number }[] = [];
    {
      const dir = join(work, 'fanout');
      rmSync(dir, { recursive: true, force: true });
      const port = 7299;
      const demo = spawn(process.execPath, [cli, 'demo', '--port', String(port), '--data-dir', dir, '--rate', '5000'], { cwd: root, stdio: 'ignore' });
      const url = `http://127.0.0.1:${port}`;
      await waitUp(url);
      await new Promise((r) => setTimeout(r, 3000));
      for (const viewers of [1, 5, 20]) {
        const aborts: AbortController[] = [];
        const pushes: number[] = Array.from({ length: viewers }, () => 0);
        await Promise.all(
          Array.from({ length: viewers }, async (_, i) => {
            const abort = new AbortController();
            aborts.push(abort);
            const response = await fetch(`${url}/api/dashboards/clickstream/live`, { signal: abort.signal });
            void (async () => {
              const reader = response.body!.getReader();
              const decoder = new TextDecoder();
              try {
                for (;;) {
                  const { done, value } = await reader.read();
                  if (done) break;
                  pushes[i]! += (decoder.decode(value).match(/event: tiles/g) ?? []).length;
                }
              } catch {
                // aborted
              }
            })();
          }),
        );
        await new Promise((r) => setTimeout(r, 2000));
        const before = (await (await fetch(`${url}/api/hub`)).json()) as { queries: number; commits: number };
        pushes.fill(0);
        await new Promise((r) => setTimeout(r, 15_000));
        const after = (await (await fetch(`${url}/api/hub`)).json()) as { queries: number; commits: number };
        for (const a of aborts) a.abort();
        const commits = after.commits - before.commits;
        const queries = after.queries - before.queries;
        const row = { viewers, commits, queries, perCommit: queries / Math.max(commits, 1), pushesPerViewer: pushes.reduce((a, b) => a + b, 0) / viewers };
        fanout.push(row);
        log(`  ${viewers} viewer(s): ${commits} commits, ${queries} tile queries (${row.perCommit.toFixed(1)} per commit), ${row.pushesPerViewer.toFixed(1)} pushes per viewer`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await stop(demo);
    }

    // 3. Chart queries of the batch tab on the full-size tables.
    const csv = join(dataDir, `ecommerce-${FULL_ROWS}-seed42.csv`);
    const tiles: { id: string; ms: number }[] = [];
    if (existsSync(csv)) {
      const dir = join(work, 'full');
      rmSync(dir, { recursive: true, force: true });
      log('  building the full-size tables for the chart timings (tributary run on the full file)');
      const m = await spawnMeasured(process.execPath, [cli, 'run', '--project', example, '--source', `clickstream=${csv}`, '--data-dir', dir, '--quiet'], {
        cwd: root,
        logFile: join(work, 'full-run.log'),
        timeoutSeconds: 1800,
      });
      if (m.exitCode !== 0) throw new Error(`full-size run failed; see ${join(work, 'full-run.log')}`);
      const project = await loadProject(example, { dataDir: dir });
      const ws = await openWorkspace(project);
      try {
        const dashboard = (await loadDashboards(project)).get('clickstream')!;
        const batchTab = dashboard.tabs.find((t) => t.title.includes('batch'))!;
        for (const tile of batchTab.tiles) {
          const params = Object.fromEntries([...tile.sql.matchAll(/\$([a-z_][a-z0-9_]*)/g)].map((p) => [p[1]!, null]));
          const times: number[] = [];
          for (let i = 0; i < 5; i++) {
            const started = performance.now();
            await ws.engine.queryJson(tile.sql, Object.keys(params).length ? params : undefined);
            times.push(performance.now() - started);
          }
          times.sort((a, b) => a - b);
          tiles.push({ id: tile.id, ms: times[2]! });
          log(`  tile ${tile.id}: median ${times[2]!.toFixed(1)} ms at full size`);
        }
      } finally {
        ws.close();
      }
    } else {
      log(`  chart timings skipped: ${csv} not generated yet (run the batch suite first)`);
    }

    const machine = machineInfo();
    writeFileSync(join(resultsDir, 'dashboards.json'), JSON.stringify({ machine, startup, fanout, tiles }, null, 2));
    writeFileSync(
      join(resultsDir, 'dashboards.svg'),
      barChartSvg({
        title: 'Live dashboards: tile queries per commit stay flat as viewers grow',
        subtitle: '5,000 events/s through tributary demo; each viewer is an open dashboard (SSE)',
        categories: fanout.map((f) => `${f.viewers} viewer${f.viewers > 1 ? 's' : ''}`),
        series: [
          { name: 'tile queries per commit', unit: 'queries', values: fanout.map((f) => Number(f.perCommit.toFixed(2))) },
          { name: 'pushes per viewer in 15 s', unit: 'pushes', values: fanout.map((f) => Number(f.pushesPerViewer.toFixed(1))) },
        ],
      }),
    );
    const md = [
      '# Dashboard benchmark',
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Commit ${machine.commit}, run at ${new Date().toISOString()}.`,
      '',
      '## From `tributary demo` to live numbers',
      '',
      'Wall time from spawning `tributary demo` (fresh data folder: batch load of the sample, log, stream job, producer, server) to the live "Total operations" tile above zero in Debian Chromium (launched after the server answered; the launch is included).',
      '',
      '| run | seconds |',
      '|---:|---:|',
      ...startup.map((s, i) => `| ${i + 1} | ${s.toFixed(1)} |`),
      '',
      '## Queries per commit as viewers grow (5,000 events/s)',
      '',
      '| open dashboards | commits | tile queries | queries per commit | pushes per viewer (15 s) |',
      '|---:|---:|---:|---:|---:|',
      ...fanout.map((f) => `| ${f.viewers} | ${f.commits} | ${f.queries} | ${f.perCommit.toFixed(1)} | ${f.pushesPerViewer.toFixed(1)} |`),
      '',
      'Viewers with the same filters share one computation per push; commits that land within 150 ms are coalesced into one push.',
      '',
      '## Chart queries at full size',
      '',
      tiles.length ? `The "November 2019 (batch)" tab's tiles on the tables built from the ${FULL_ROWS.toLocaleString('en-US')}-row file, median of 5 runs each:` : 'Not measured in this run (the full-size file was not there).',
      '',
      ...(tiles.length ? ['| tile | ms |', '|---|---:|', ...tiles.map((t) => `| ${t.id} | ${t.ms.toFixed(1)} |`)] : []),
      '',
      '![dashboards chart](./dashboards.svg)',
      '',
    ].join('\n');
    writeFileSync(join(resultsDir, 'dashboards.md'), md);
    log(`dashboards: wrote ${join(resultsDir, 'dashboards.md')}`);
  },
};
