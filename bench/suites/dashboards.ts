/**
 * Dashboards: (1) the time from `tributary demo` to live numbers in a real browser; (2) the query
 * count per commit with 1, 5 and 20 dashboards open while 5,000 events/s flow (it must not grow
 * with viewers); (3) event to pixel: from the collector's append of an event at 10,000 events/s
 * to the live "Total operations" number counting it in Chromium, with where the time goes; (4) the
 * time of each chart query of the batch tab at full size (when the batch suite's file is there).
 *
 * BENCH_PIXEL_SECONDS=N sets how long the load of part 3 runs (default 75; the first 5 s are not
 * counted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { loadDashboards, PUSH_COALESCE_MS, type LiveEvent } from '../../src/server/dashboards.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured } from '../lib/measure.js';
import type { Sent } from '../lib/paced-load.js';
import { positiveIntegerEnv, type Suite } from '../lib/suite.js';

const CHROMIUM = '/usr/bin/chromium';
const FULL_ROWS = 67_501_979;

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Debian's Chromium, headless, in a fresh profile. */
function launchChromium(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'bench-chromium-')), {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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
  description: 'demo start-up to live numbers, query fan-out with 1–20 viewers, event to pixel at 10,000 events/s, chart query times at full size',
  async run({ root, dataDir, resultsDir, log }) {
    const cli = join(root, 'bin', 'tributary.js');
    const example = join(root, 'examples', 'ecommerce-clickstream');
    const work = join(dataDir, 'work', 'dashboards');
    mkdirSync(work, { recursive: true });
    // The CLI and the web UI measured are the commit's, not an older build's.
    log('  building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: root });

    // 1. From the command to live numbers in the browser.
    const startup: { seconds: number; load: number }[] = [];
    for (let run = 0; run < 3; run++) {
      const dir = join(work, `demo-${run}`);
      rmSync(dir, { recursive: true, force: true });
      const port = 7291 + run;
      const started = performance.now();
      const demo = spawn(process.execPath, [cli, 'demo', '--port', String(port), '--data-dir', dir], { cwd: root, stdio: 'ignore' });
      const url = `http://127.0.0.1:${port}`;
      await waitUp(url);
      const context = await launchChromium();
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => Number(document.querySelector('[data-tile="live_operations"] .kpi')?.getAttribute('data-value') ?? 0) > 0, undefined, { timeout: 60_000, polling: 50 });
      const seconds = (performance.now() - started) / 1000;
      startup.push({ seconds, load: loadavg()[0]! });
      log(`  demo → live numbers in the browser: ${seconds.toFixed(1)} s (run ${run + 1}, browser launch included)`);
      await context.close();
      await stop(demo);
    }

    // 2. Fan-out: queries per commit with 1, 5 and 20 open dashboards at 5,000 events/s.
    const fanout: { viewers: number; commits: number; queries: number; perCommit: number; pushesPerViewer: number; load: number }[] = [];
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
        const row = { viewers, commits, queries, perCommit: queries / Math.max(commits, 1), pushesPerViewer: pushes.reduce((a, b) => a + b, 0) / viewers, load: loadavg()[0]! };
        fanout.push(row);
        log(`  ${viewers} viewer(s): ${commits} commits, ${queries} tile queries (${row.perCommit.toFixed(1)} per commit), ${row.pushesPerViewer.toFixed(1)} pushes per viewer`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await stop(demo);
    }

    // 3. Event to pixel at 10,000 events/s.
    const pixel = await eventToPixel(root, cli, example, work, positiveIntegerEnv('BENCH_PIXEL_SECONDS', 75), log);
    log(`  event to pixel: p50 ${Math.round(pixel.perEvent.p50)} ms, p99 ${Math.round(pixel.perEvent.p99)} ms, max ${Math.round(pixel.perEvent.max)} ms over ${pixel.counted.toLocaleString('en-US')} events; ${pixel.newest.samples} changes of the number; load ${pixel.loadBefore.toFixed(2)} → ${pixel.loadAfter.toFixed(2)}`);
    for (const { step, ms } of pixel.steps) log(`    ${step}: p50 ${Math.round(ms.p50)} ms, p99 ${Math.round(ms.p99)} ms, mean ${Math.round(ms.mean)} ms`);

    // 4. Chart queries of the batch tab on the full-size tables.
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
    writeFileSync(join(resultsDir, 'dashboards.json'), JSON.stringify({ machine, startup, fanout, pixel, tiles, fullSizeFile: existsSync(csv) ? csv : null }, null, 2));
    writeFileSync(
      join(resultsDir, 'dashboards.svg'),
      barChartSvg({
        title: 'Live dashboards: queries per commit as viewers grow; event to pixel at 10,000 events/s',
        subtitle: `each viewer is an open dashboard (SSE), 5,000 events/s; event to pixel: collector to the number in Chromium · commit ${machine.commit}`,
        categories: [...fanout.map((f) => `${f.viewers} viewer${f.viewers > 1 ? 's' : ''}`), 'event to pixel p50', 'event to pixel p99'],
        series: [
          { name: 'tile queries per commit', unit: 'queries', values: [...fanout.map((f) => Number(f.perCommit.toFixed(2))), null, null] },
          { name: 'pushes per viewer in 15 s', unit: 'pushes', values: [...fanout.map((f) => Number(f.pushesPerViewer.toFixed(1))), null, null] },
          { name: 'event to pixel', unit: 'ms', values: [...fanout.map(() => null), Math.round(pixel.perEvent.p50), Math.round(pixel.perEvent.p99)], line: { value: PIXEL_GOAL_P99_MS, label: 'goal: p99 under 1 s' } },
        ],
      }),
    );
    const ms = (n: number) => Math.round(n).toLocaleString('en-US');
    const md = [
      '# Dashboard benchmark',
      '',
      `Commit ${machine.commit}. Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Run at ${new Date().toISOString()}, load average (1, 5, 15 min) at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}: the 2 cores are shared with other work, and each figure below has the 1-minute load average when it was taken.`,
      '',
      '## From `tributary demo` to live numbers',
      '',
      'Wall time from spawning `tributary demo` (fresh data folder: batch load of the sample, log, stream job, producer, server) to the live "Total operations" tile above zero in Debian Chromium (launched after the server answered; the launch is included).',
      '',
      '| run | seconds | load |',
      '|---:|---:|---:|',
      ...startup.map((s, i) => `| ${i + 1} | ${s.seconds.toFixed(1)} | ${s.load.toFixed(2)} |`),
      '',
      '## Queries per commit as viewers grow (5,000 events/s)',
      '',
      '| open dashboards | commits | tile queries | queries per commit | pushes per viewer (15 s) | load |',
      '|---:|---:|---:|---:|---:|---:|',
      ...fanout.map((f) => `| ${f.viewers} | ${f.commits} | ${f.queries} | ${f.perCommit.toFixed(1)} | ${f.pushesPerViewer.toFixed(1)} | ${f.load.toFixed(2)} |`),
      '',
      `Viewers with the same filters share one computation per push; commits that land within ${PUSH_COALESCE_MS} ms are coalesced into one push.`,
      '',
      ...pixelLines(pixel, ms),
      '',
      '## Chart queries at full size',
      '',
      tiles.length
        ? `The "November 2019 (batch)" tab's tiles on the tables built from the ${FULL_ROWS.toLocaleString('en-US')}-row file, median of 5 runs each:`
        : `Not measured in this run: the batch suite's full-size file (\`bench/data/${basename(csv)}\`, made by \`npm run bench -- batch\`) was not there.`,
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

const PIXEL_RATE = 10_000;
/** The first seconds of the load are not counted: the job, the server and the page settle. */
const PIXEL_WARMUP_MS = 5_000;
const PIXEL_GOAL_P99_MS = 1_000;
const KPI = '[data-tile="live_operations"] .kpi';

/** A change of the live "Total operations" number in the page (page clock, ms since the epoch). */
interface KpiChange {
  value: number;
  /** When the MutationObserver saw the new data-value: the end of the push's handler. */
  mutatedAt: number;
  /** When the next animation frame, the one that paints the number (and the charts updated with it), had been rendered. */
  frameAt: number;
}

/** A stream micro-batch as `/v1/status` reports it (server clock). */
interface CommittedBatch {
  /** The job's events committed with this batch included. */
  events: number;
  committedAt: number;
  /** When its read of the log began: the last event it holds was appended before. */
  readAt: number;
  /** Its read and stage, its load (typing and judging), each sink's staging and the commit, in ms. */
  readMs: number;
  loadMs: number;
  sinkMs: Record<string, number>;
  commitMs: number;
}

/** A push of the live dashboard as the page received it. */
interface Push {
  receivedAt: number;
  /** The server's time when it had computed the push's tiles. */
  at: number;
  tiles: number;
  tilesMs: number;
  value: number | undefined;
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
}

interface PixelResult {
  rate: number;
  /** The stream job's trigger: the least time from one batch's start to the next. */
  triggerMs: number;
  seconds: number;
  events: number;
  /** Events sent after the warm-up: the ones the per-event figures are over. */
  counted: number;
  /** Per event: its frame minus the time its request was sent (the append came after: never understated). */
  perEvent: Percentiles;
  /** The same, from the collector's acknowledgement (the append came before: never overstated). */
  perEventFromAck: Percentiles;
  /** Per change of the number: the newest event it shows, and the oldest one it brought (the longest wait). */
  newest: Percentiles;
  oldest: Percentiles;
  /** For the oldest event of each change: sent → its batch starts reading (it waited for the batch before to commit). */
  oldestWait: Percentiles;
  unseen: number;
  steps: { step: string; ms: Percentiles }[];
  joined: number;
  pushes: number;
  tilesPerPush: number;
  batches: number;
  clockOffsetMs: number[];
  loadBefore: number;
  loadAfter: number;
}

/** Nearest-rank percentiles of values, each counted `weight` times (events share their request's time). */
function percentiles(samples: { value: number; weight: number }[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a.value - b.value);
  const total = sorted.reduce((n, s) => n + s.weight, 0);
  const at = (p: number) => {
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const s of sorted) if ((seen += s.weight) >= rank) return s.value;
    return Number.NaN;
  };
  return { p50: at(50), p99: at(99), max: sorted.at(-1)?.value ?? Number.NaN, mean: sorted.reduce((n, s) => n + s.value * s.weight, 0) / total, samples: sorted.length };
}

const once = (values: number[]) => percentiles(values.map((value) => ({ value, weight: 1 })));

/**
 * Event to pixel: `tributary up` of the example (its batch built first), one Chromium page on the
 * live dashboard, and bench/lib/paced-load.ts sending 10,000 events/s to the collector from a
 * process of its own. The page records when the "Total operations" number changes and when each
 * push arrives; the bench polls `/v1/status` every 100 ms for each micro-batch's read and commit
 * times. Every clock is the machine's wall clock (Date.now() in Node, performance.timeOrigin +
 * performance.now() in the page); the page's offset is measured at both ends.
 */
async function eventToPixel(root: string, cli: string, example: string, work: string, seconds: number, log: (line: string) => void): Promise<PixelResult> {
  const dir = join(work, 'pixel');
  rmSync(dir, { recursive: true, force: true });
  const built = await spawnMeasured(process.execPath, [cli, 'run', '--project', example, '--data-dir', dir, '--quiet'], { cwd: root, logFile: join(work, 'pixel-run.log'), timeoutSeconds: 600 });
  if (built.exitCode !== 0) throw new Error(`tributary run failed; see ${join(work, 'pixel-run.log')}`);
  const port = 7301;
  const upLog = openSync(join(work, 'pixel-up.log'), 'w');
  const up = spawn(process.execPath, [cli, 'up', '--project', example, '--data-dir', dir, '--port', String(port)], { cwd: root, stdio: ['ignore', upLog, upLog] });
  const url = `http://127.0.0.1:${port}`;
  const context = await waitUp(url).then(launchChromium);
  try {
    // Before the app's own listener: the time a push arrived, its text kept to read afterwards.
    await context.addInitScript(() => {
      const w = window as unknown as { pushes: [number, string][] };
      w.pushes = [];
      const Native = window.EventSource;
      window.EventSource = class extends Native {
        constructor(source: string | URL, init?: EventSourceInit) {
          super(source, init);
          this.addEventListener('tiles', (event) => w.pushes.push([performance.timeOrigin + performance.now(), (event as MessageEvent<string>).data]));
        }
      };
    });
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction((kpi) => document.querySelector('#live-status')?.textContent === 'live' && document.querySelector(kpi) !== null, KPI, { timeout: 60_000, polling: 50 });
    await page.evaluate((kpi) => {
      const w = window as unknown as { changes: KpiChange[] };
      w.changes = [];
      const node = document.querySelector(kpi)!;
      let last = node.getAttribute('data-value');
      new MutationObserver(() => {
        const value = node.getAttribute('data-value');
        if (value === last) return;
        last = value;
        const change = { value: Number(value), mutatedAt: performance.timeOrigin + performance.now(), frameAt: Number.NaN };
        w.changes.push(change);
        // A task queued from the frame's callbacks runs once that frame has been rendered.
        requestAnimationFrame(() => setTimeout(() => (change.frameAt = performance.timeOrigin + performance.now())));
      }).observe(node, { attributes: true, attributeFilter: ['data-value'] });
    }, KPI);
    const clockOffset = async () => {
      const before = Date.now();
      const pageNow = await page.evaluate(() => performance.timeOrigin + performance.now());
      return pageNow - (before + Date.now()) / 2;
    };
    const clockOffsetMs = [await clockOffset()];
    const polling = pollBatches(url);
    const loadBefore = loadavg()[0]!;
    const sentFile = join(work, 'pixel-sent.jsonl');
    log(`  event to pixel: ${PIXEL_RATE.toLocaleString('en-US')} events/s for ${seconds} s into the collector, the live dashboard open in Chromium`);
    const load = await spawnMeasured(
      process.execPath,
      ['--import', 'tsx', join(root, 'bench', 'lib', 'paced-load.ts'), `${url}/v1/topics/clickstream`, String(PIXEL_RATE), String(seconds), join(example, 'data', '2019-Nov-sample.csv'), sentFile],
      { cwd: root, logFile: join(work, 'pixel-load.log'), timeoutSeconds: seconds + 120 },
    );
    if (load.exitCode !== 0) throw new Error(`the paced load failed (${load.exitCode ?? load.signal}); see ${join(work, 'pixel-load.log')}`);
    const loadAfter = loadavg()[0]!;
    const requests = readFileSync(sentFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Sent);
    const events = requests.at(-1)!.to;
    // A deadline, not a wait: every acknowledged event must reach the page.
    await page.waitForFunction(([kpi, n]) => Number(document.querySelector(kpi as string)?.getAttribute('data-value')) >= (n as number), [KPI, events], { timeout: 30_000, polling: 100 });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve))));
    clockOffsetMs.push(await clockOffset());
    const recorded = await page.evaluate(() => {
      const w = window as unknown as { changes: KpiChange[]; pushes: [number, string][] };
      return { changes: w.changes, pushes: w.pushes };
    });
    const batches = await polling.stop();
    const pushes = recorded.pushes.map(([receivedAt, data]): Push => {
      const event = JSON.parse(data) as LiveEvent;
      const value = event.tiles.find((t) => t.id === 'live_operations')?.rows[0]?.value;
      return { receivedAt, at: Date.parse(event.at), tiles: event.tiles.length, tilesMs: event.tiles.reduce((n, t) => n + t.ms, 0), value: value === undefined ? undefined : Number(value) };
    });
    const { triggerMs } = (await loadProject(example, { dataDir: dir })).config.streams.clickstream_live!;
    return { ...pixelFigures(requests, recorded.changes, pushes, batches), rate: PIXEL_RATE, triggerMs, seconds, events, clockOffsetMs, loadBefore, loadAfter };
  } finally {
    await context.close();
    await stop(up);
  }
}

/** Every micro-batch the job commits, from `/v1/status` every 100 ms (a batch takes longer than that). */
function pollBatches(url: string): { stop(): Promise<CommittedBatch[]> } {
  type Status = { jobs: { events: number; lastBatch: { at: string; ms: number; durationMs: { read: number; stage: number; load: number; sinks: Record<string, number>; commit: number } } | null }[] };
  const batches: CommittedBatch[] = [];
  let polling = true;
  const done = (async () => {
    while (polling) {
      const job = ((await (await fetch(`${url}/v1/status`)).json()) as Status).jobs[0]!;
      const last = job.lastBatch;
      if (last && batches.at(-1)?.events !== job.events) {
        const committedAt = Date.parse(last.at);
        const { read, stage, load, sinks, commit } = last.durationMs;
        batches.push({ events: job.events, committedAt, readAt: committedAt - last.ms - read - stage, readMs: read + stage, loadMs: load, sinkMs: sinks, commitMs: commit });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      polling = false;
      await done;
      return batches;
    },
  };
}

/** The figures of one run: per event, per change of the number, and per step for the changes whose batch and push were both seen. */
function pixelFigures(requests: Sent[], changes: KpiChange[], pushes: Push[], batches: CommittedBatch[]): Omit<PixelResult, 'rate' | 'triggerMs' | 'seconds' | 'events' | 'clockOffsetMs' | 'loadBefore' | 'loadAfter'> {
  const from = requests[0]!.sentAt + PIXEL_WARMUP_MS;
  const counted = requests.filter((r) => r.sentAt >= from);
  const holding = (event: number) => requests.find((r) => r.from <= event && event < r.to)!;
  // Each request is appended in one write and a batch reads whole writes, so its events appear together.
  const bySent: { value: number; weight: number }[] = [];
  const byAck: { value: number; weight: number }[] = [];
  let unseen = 0;
  for (const r of counted) {
    const shown = changes.find((c) => c.value >= r.to);
    if (!shown) unseen += r.to - r.from;
    else {
      bySent.push({ value: shown.frameAt - r.sentAt, weight: r.to - r.from });
      byAck.push({ value: shown.frameAt - r.ackedAt, weight: r.to - r.from });
    }
  }
  const newest: number[] = [];
  const oldest: number[] = [];
  const oldestWait: number[] = [];
  const steps = new Map<string, number[]>();
  const add = (step: string, ms: number) => (steps.get(step) ?? steps.set(step, []).get(step)!).push(ms);
  let joined = 0;
  changes.forEach((change, i) => {
    if (i === 0 || change.value - 1 < counted[0]!.from) return;
    const latest = holding(change.value - 1);
    newest.push(change.frameAt - latest.sentAt);
    const first = holding(changes[i - 1]!.value);
    oldest.push(change.frameAt - first.sentAt);
    const batch = batches.find((b) => b.events === change.value);
    const push = pushes.find((p) => p.value === change.value);
    if (!batch || !push) return;
    joined++;
    oldestWait.push(batch.readAt - first.sentAt);
    add('sent → its batch starts reading the log (the trigger)', batch.readAt - latest.sentAt);
    add('batch read and staged', batch.readMs);
    add('batch loaded (typed and judged)', batch.loadMs);
    for (const [sink, ms] of Object.entries(batch.sinkMs)) add(`sink ${sink.replace(/^__/, '')} staged (its models run, files written)`, ms);
    add('the commit (one transaction for the sinks that share the catalog)', batch.commitMs);
    const sinksMs = Object.values(batch.sinkMs).reduce((n, ms) => n + ms, 0);
    add('the rest of the batch (status)', batch.committedAt - batch.readAt - batch.readMs - batch.loadMs - sinksMs - batch.commitMs);
    const computeStart = push.at - push.tilesMs;
    add('committed → tile queries start (coalescing, queue)', computeStart - batch.committedAt);
    add('tile queries (every tile the commit changed)', push.tilesMs);
    add('computed → push received by the page', push.receivedAt - push.at);
    add('received → number in the DOM', change.mutatedAt - push.receivedAt);
    add('DOM → next frame rendered', change.frameAt - change.mutatedAt);
  });
  const measured = pushes.filter((p) => p.receivedAt >= from);
  return {
    counted: counted.reduce((n, r) => n + r.to - r.from, 0),
    perEvent: percentiles(bySent),
    perEventFromAck: percentiles(byAck),
    newest: once(newest),
    oldest: once(oldest),
    unseen,
    oldestWait: once(oldestWait),
    steps: [...steps].map(([step, ms]) => ({ step, ms: once(ms) })),
    joined,
    pushes: measured.length,
    tilesPerPush: measured.reduce((n, p) => n + p.tiles, 0) / Math.max(1, measured.length),
    batches: batches.filter((b) => b.committedAt >= from).length,
  };
}

/** Part 3 of the report: the figures, how they were taken, and where the time went. */
function pixelLines(pixel: PixelResult, ms: (n: number) => string): string[] {
  const row = (what: string, unit: string, p: Percentiles) => `| ${what} | ${p.samples.toLocaleString('en-US')} ${unit} | ${ms(p.p50)} | ${ms(p.p99)} | ${ms(p.max)} |`;
  const p99 = pixel.perEvent.p99;
  return [
    '## Event to pixel at 10,000 events/s',
    '',
    `\`tributary up\` of examples/ecommerce-clickstream (its batch built first by \`tributary run\`, fresh data folder) with one Debian Chromium page on the live dashboard, while bench/lib/paced-load.ts, a process of its own, sent ${pixel.rate.toLocaleString('en-US')} live-stamped sample events/s to the HTTP collector for ${pixel.seconds} s (${pixel.events.toLocaleString('en-US')} events; a request every 50 ms, one in flight, as \`tributary produce --rate\` paces them). For each request the load process kept its cumulative event count and Date.now() when it was sent and when the collector acknowledged it (the append lies between). In the page a MutationObserver records each change of the "Total operations" tile's \`data-value\` and the end of the next animation frame after it (requestAnimationFrame, then a task queued from it: the frame that paints the number, and the charts updated in the same push, has been rendered); an event is on screen at the end of the first frame whose number counts it. The first ${PIXEL_WARMUP_MS / 1000} s are not counted: ${pixel.counted.toLocaleString('en-US')} events${pixel.unseen ? `, ${pixel.unseen.toLocaleString('en-US')} of them never shown` : ', every one shown'}.`,
    '',
    `One clock: the machine's wall clock, Date.now() in Node and performance.timeOrigin + performance.now() in the page; the page's clock read from Node differed by ${pixel.clockOffsetMs.map((o) => `${o.toFixed(1)} ms`).join(' before and ')} after the run (half a round trip of uncertainty). Load average (1 min) ${pixel.loadBefore.toFixed(2)} as the load started, ${pixel.loadAfter.toFixed(2)} as it ended.`,
    '',
    '| measure | samples | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|',
    row('per event: sent → on screen (never understated)', 'requests', pixel.perEvent),
    row('per event: acknowledged → on screen (never overstated)', 'requests', pixel.perEventFromAck),
    row('per change of the number: its newest event, sent → on screen', 'changes', pixel.newest),
    row('per change of the number: the oldest event it brought (the longest wait)', 'changes', pixel.oldest),
    '',
    `Per-event percentiles count every event, at its request's time (about 500 events a request). Goal: event-to-pixel p99 under ${ms(PIXEL_GOAL_P99_MS)} ms at ${pixel.rate.toLocaleString('en-US')} events/s: ${ms(p99)} ms, ${p99 < PIXEL_GOAL_P99_MS ? 'met' : 'not met'}.`,
    '',
    `Where the time goes, for the ${pixel.joined} changes whose micro-batch (\`/v1/status\`, polled every 100 ms) and push (the page's EventSource) were both seen, from the newest event the change shows: ${pixel.batches} micro-batches committed and ${pixel.pushes} pushes reached the page after the warm-up, ${pixel.tilesPerPush.toFixed(1)} tiles a push. Each step's percentiles are its own, so they do not add up; the means do.`,
    '',
    '| step | p50 ms | p99 ms | mean ms |',
    '|---|---:|---:|---:|',
    ...pixel.steps.map(({ step, ms: p }) => `| ${step} | ${ms(p.p50)} | ${ms(p.p99)} | ${ms(p.mean)} |`),
    '',
    `The oldest event of each change waited longer before its batch began to read the log: p50 ${ms(pixel.oldestWait.p50)} ms, p99 ${ms(pixel.oldestWait.p99)} ms, max ${ms(pixel.oldestWait.max)} ms. A batch reads what the log holds when it starts; while a batch takes longer than the trigger (\`triggerMs\` ${ms(pixel.triggerMs)} ms here), the next starts as soon as it is done, so an event appended just after a read waits a whole batch before its own begins.`,
  ];
}
