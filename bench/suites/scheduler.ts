/**
 * Scheduler overhead: 10 sequential no-op tasks and a 200-task fan-out DAG (root → 198 → join),
 * run by the scheduler `tributary up` runs, with its state in the project's metastore (every task
 * state change is a DuckDB write) and, for the scheduler's own cost, with the memory store.
 * Overhead per task = from a dependency's end to the start of the task waiting for it.
 *
 * Airflow, Temporal and Windmill cannot be installed on this machine (no internet but the npm and
 * Debian mirrors); their figures are the published ones from windmill.dev's benchmark of
 * competitors (10 sequential small tasks), shown beside ours and marked as published.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { openScheduler } from '../../src/owner/scheduler.js';
import { MemorySchedulerStore, Scheduler, type SchedulerStore } from '../../src/scheduler/index.js';
import { createTestPlatform } from '../../src/scheduler/testing.js';
import type { TaskContext } from '../../src/scheduler/tasks/types.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import type { Suite } from '../lib/suite.js';

interface Span {
  start: number;
  end: number;
}

/** Where the no-op task records when it ran; the project's task module and this suite share it. */
const SPANS_KEY = '__tributaryBenchSpans';
const spans = new Map<string, Span>();
(globalThis as Record<string, unknown>)[SPANS_KEY] = spans;

const CHAIN_LENGTH = 10;
const FAN_WIDTH = 198;
const SLOTS = 8;

interface StoreResult {
  store: string;
  chainSeconds: number;
  chainGapMeanMs: number;
  chainGapMedianMs: number;
  chainGapMaxMs: number;
  fanSeconds: number;
  fanTasksPerSecond: number;
  fanRootToFirstMs: number;
  fanLastToJoinMs: number;
}

/** Published figures for 10 sequential small tasks (windmill.dev, "benchmarks of competitors"). */
const PUBLISHED = [
  { name: 'Airflow 2.7 (published)', chainSeconds: 54.7 },
  { name: 'Temporal (published)', chainSeconds: 7.2 },
  { name: 'Windmill (published)', chainSeconds: 8.3 },
];

function jobs(module: string): Record<string, unknown> {
  const task = (after: string[] = []) => ({ kind: 'function', module, export: 'step', after });
  const chain: Record<string, unknown> = {};
  for (let index = 0; index < CHAIN_LENGTH; index++) chain[`t${index}`] = task(index === 0 ? [] : [`t${index - 1}`]);
  const fan: Record<string, unknown> = { root: task() };
  for (let index = 0; index < FAN_WIDTH; index++) fan[`part_${index}`] = task(['root']);
  fan.join = task(Array.from({ length: FAN_WIDTH }, (_, index) => `part_${index}`));
  return { chain: { tasks: chain }, fan: { tasks: fan } };
}

const NOOP_SOURCE = `// A task that does nothing but note when it ran, for the scheduler benchmark.
export function step(ctx) {
  const start = performance.now();
  globalThis.${SPANS_KEY}.set(ctx.task, { start, end: performance.now() });
}
`;

async function runJob(scheduler: Scheduler, job: string): Promise<number> {
  spans.clear();
  const started = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    const stop = scheduler.subscribe((event) => {
      if (event.type !== 'run' || event.run.job !== job) return;
      if (event.run.state === 'success') {
        stop();
        resolve();
      } else if (event.run.state === 'failed') {
        stop();
        reject(new Error(`${job} failed`));
      }
    });
  });
  await scheduler.trigger(job);
  await done;
  return performance.now() - started;
}

function span(task: string): Span {
  const found = spans.get(task);
  if (!found) throw new Error(`task ${task} did not run`);
  return found;
}

async function measure(store: string, scheduler: Scheduler, log: (line: string) => void): Promise<StoreResult> {
  await runJob(scheduler, 'chain'); // warm-up: module loading, JIT, the store's first writes
  const chainMs = await runJob(scheduler, 'chain');
  const gaps = Array.from({ length: CHAIN_LENGTH - 1 }, (_, index) => span(`t${index + 1}`).start - span(`t${index}`).end).sort((a, b) => a - b);
  const fanMs = await runJob(scheduler, 'fan');
  const middle = Array.from({ length: FAN_WIDTH }, (_, index) => span(`part_${index}`));
  const result: StoreResult = {
    store,
    chainSeconds: chainMs / 1000,
    chainGapMeanMs: gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length,
    chainGapMedianMs: gaps[Math.floor(gaps.length / 2)]!,
    chainGapMaxMs: gaps.at(-1)!,
    fanSeconds: fanMs / 1000,
    fanTasksPerSecond: (FAN_WIDTH + 2) / (fanMs / 1000),
    fanRootToFirstMs: Math.min(...middle.map((s) => s.start)) - span('root').end,
    fanLastToJoinMs: span('join').start - Math.max(...middle.map((s) => s.end)),
  };
  log(
    `  ${store}: 10 sequential ${chainMs.toFixed(1)} ms (overhead per task: mean ${result.chainGapMeanMs.toFixed(2)} ms, max ${result.chainGapMaxMs.toFixed(2)} ms); ` +
      `200-task fan-out ${fanMs.toFixed(0)} ms (${result.fanTasksPerSecond.toFixed(0)} tasks/s)`,
  );
  return result;
}

export const schedulerSuite: Suite = {
  name: 'scheduler',
  description: 'overhead per task over 10 sequential no-op tasks and a 200-task fan-out, metastore and memory stores',
  async run({ dataDir, resultsDir, log }) {
    const results: StoreResult[] = [];

    // As shipped: a project's jobs, state in the metastore, tasks through the project platform.
    const dir = join(dataDir, 'work', 'scheduler');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'noop.js'), NOOP_SOURCE);
    writeFileSync(join(dir, 'tributary.config.js'), `export default ${JSON.stringify({ name: 'scheduler_bench', jobs: jobs('noop.js') }, null, 2)};\n`);
    const ws = await openWorkspace(await loadProject(dir));
    try {
      const { scheduler } = await openScheduler(ws, { maxConcurrentTasks: SLOTS });
      await scheduler.start();
      results.push(await measure('metastore (DuckDB), as `tributary up` runs it', scheduler, log));
      await scheduler.stop();
    } finally {
      await ws.close();
    }

    // The scheduler alone: state in memory, so the difference is the cost of durable state.
    const memory: SchedulerStore = new MemorySchedulerStore();
    const step = (ctx: TaskContext): void => {
      const start = performance.now();
      spans.set(ctx.task, { start, end: performance.now() });
    };
    const scheduler = new Scheduler({ jobs: jobs('noop.js'), store: memory, platform: createTestPlatform({ modules: { 'noop.js': { step } } }), owner: 'bench', maxConcurrentTasks: SLOTS });
    await scheduler.start();
    results.push(await measure('memory store (scheduler only)', scheduler, log));
    await scheduler.stop();

    const machine = machineInfo();
    writeFileSync(join(resultsDir, 'scheduler.json'), JSON.stringify({ machine, results, published: PUBLISHED }, null, 2));
    const [shipped] = results;
    const categories = [...results.map((r) => (r === shipped ? 'Tributary' : 'Tributary (memory store)')), ...PUBLISHED.map((p) => p.name)];
    writeFileSync(
      join(resultsDir, 'scheduler.svg'),
      barChartSvg({
        title: 'Scheduler: 10 sequential small tasks, and a 200-task fan-out',
        subtitle: `${machine.nproc} cores, Node ${machine.node}; Airflow, Temporal and Windmill: published figures (windmill.dev), not run here`,
        categories,
        series: [
          { name: '10 sequential tasks', unit: 's', values: [...results.map((r) => r.chainSeconds), ...PUBLISHED.map((p) => p.chainSeconds)] },
          { name: 'overhead per task', unit: 'ms', values: [...results.map((r) => r.chainGapMeanMs), ...PUBLISHED.map(() => null)] },
          { name: '200-task fan-out', unit: 's', values: [...results.map((r) => r.fanSeconds), ...PUBLISHED.map(() => null)] },
        ],
      }),
    );
    const ms = (value: number) => value.toFixed(2);
    const md = [
      '# Scheduler overhead',
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}; DuckDB ${machine.duckdb}. Run at ${machine.date}.`,
      '',
      'Command: `npm run bench -- scheduler`. Tasks are no-op `function` tasks in a project; ' +
        `${SLOTS} task slots. Overhead per task is the time from a task's end to the start of the task that waits for it.`,
      '',
      '| Store | 10 sequential (s) | overhead per task: mean / median / max (ms) | 200-task fan-out (s) | tasks/s | root end → first of 198 starts (ms) | last of 198 ends → join starts (ms) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...results.map(
        (r) =>
          `| ${r.store} | ${r.chainSeconds.toFixed(3)} | ${ms(r.chainGapMeanMs)} / ${ms(r.chainGapMedianMs)} / ${ms(r.chainGapMaxMs)} | ${r.fanSeconds.toFixed(3)} | ${r.fanTasksPerSecond.toFixed(0)} | ${ms(r.fanRootToFirstMs)} | ${ms(r.fanLastToJoinMs)} |`,
      ),
      '',
      'Published figures for 10 sequential small tasks, for comparison (windmill.dev, not run here: these tools cannot be installed on this machine):',
      '',
      '| Tool | 10 sequential (s) |',
      '|---|---:|',
      ...PUBLISHED.map((p) => `| ${p.name} | ${p.chainSeconds} |`),
      '',
      'Goal (issue 9): overhead under 20 ms per task, the 200-task DAG under 5 s.',
      '',
      '![chart](scheduler.svg)',
      '',
    ].join('\n');
    writeFileSync(join(resultsDir, 'scheduler.md'), md);
    log(`scheduler: wrote ${join(resultsDir, 'scheduler.md')}`);
  },
};
