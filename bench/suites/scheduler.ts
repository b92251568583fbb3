/**
 * Scheduler overhead: 10 sequential no-op tasks and a 200-task fan-out DAG (root → 198 → join),
 * run by the scheduler `tributary up` runs, with its state in the project's metastore (every task
 * state change is a DuckDB write) and, for the scheduler's own cost, with the memory store.
 * Overhead per task = from a dependency's end to the start of the task waiting for it.
 *
 * Apache Airflow 3 runs the same two shapes beside it (bench/peers/airflow_bench.py: its
 * scheduler, DAG processor and API server, the LocalExecutor with the same number of slots, its
 * own SQLite metadata database), installed from PyPI by .ci/bench-tools.sh; its figures come
 * from its metadata database, measured the same way.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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
import { spawnMeasured } from '../lib/measure.js';
import { AIRFLOW_PYTHON, installPythonPeers } from '../lib/python-peers.js';
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
  /** 1-minute load average just before this scheduler's runs: other work on the machine. */
  loadBefore?: number;
}

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
  async run({ root, dataDir, resultsDir, log }) {
    const results: StoreResult[] = [];
    const load = () => Number(loadavg()[0]!.toFixed(2));

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
      const loadBefore = load();
      results.push({ ...(await measure('metastore (DuckDB), as `tributary up` runs it', scheduler, log)), loadBefore });
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
    const loadBefore = load();
    results.push({ ...(await measure('memory store (scheduler only)', scheduler, log)), loadBefore });
    await scheduler.stop();

    log('  Airflow: installing the pinned peers if missing (.ci/bench-tools.sh), untimed');
    await installPythonPeers({ root });
    const airflowHome = join(dir, 'airflow');
    const airflowResult = join(dir, 'airflow.json');
    const airflowLoad = load();
    log(`  Airflow: start (load average ${airflowLoad})`);
    const airflow = await spawnMeasured(AIRFLOW_PYTHON, ['bench/peers/airflow_bench.py', '--home', airflowHome, '--slots', String(SLOTS), '--out', airflowResult], {
      cwd: root,
      logFile: join(dir, 'airflow.log'),
      timeoutSeconds: 3600,
    });
    if (airflow.exitCode !== 0) throw new Error(`Airflow peer exited with ${airflow.exitCode ?? airflow.signal}; see ${airflow.logFile}`);
    const measured = { ...(JSON.parse(readFileSync(airflowResult, 'utf8')) as StoreResult), loadBefore: airflowLoad };
    log(
      `  ${measured.store}: 10 sequential ${measured.chainSeconds.toFixed(1)} s (overhead per task: mean ${measured.chainGapMeanMs.toFixed(0)} ms); ` +
        `200-task fan-out ${measured.fanSeconds.toFixed(1)} s`,
    );
    results.push(measured);

    const machine = machineInfo();
    writeFileSync(join(resultsDir, 'scheduler.json'), JSON.stringify({ machine, results }, null, 2));
    const categories = ['Tributary', 'Tributary (memory store)', 'Airflow'];
    writeFileSync(
      join(resultsDir, 'scheduler.svg'),
      barChartSvg({
        title: 'Scheduler: 10 sequential small tasks, and a 200-task fan-out',
        subtitle: `${machine.nproc} cores, Node ${machine.node}; Airflow measured in the same run · lower is better`,
        categories,
        series: [
          { name: '10 sequential tasks', unit: 's', values: results.map((r) => r.chainSeconds) },
          { name: 'overhead per task', unit: 'ms', values: results.map((r) => r.chainGapMeanMs) },
          { name: '200-task fan-out', unit: 's', values: results.map((r) => r.fanSeconds) },
        ],
      }),
    );
    const ms = (value: number) => value.toFixed(2);
    const md = [
      '# Scheduler overhead',
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}; DuckDB ${machine.duckdb}. Commit ${machine.commit}. Run at ${machine.date}.`,
      `Load average (1 min) before each: ${results.map((r) => `${r.store.split(',')[0]} ${r.loadBefore ?? '–'}`).join('; ')} (other work on the machine shows here).`,
      '',
      'Command: `npm run bench -- scheduler`. Tasks are no-op `function` tasks in a project; ' +
        `${SLOTS} task slots. Overhead per task is the time from a task's end to the start of the task that waits for it. ` +
        'Airflow: `bench/peers/airflow_bench.py`, the same shapes as PythonOperator no-op tasks (bench/peers/airflow/dags.py), its scheduler, DAG processor and API server, ' +
        `the LocalExecutor with ${SLOTS} slots (parallelism and max active tasks), a fresh SQLite metadata database; each DAG triggered with \`airflow dags trigger\`, its run timed from queued to end, ` +
        'the task spans read from its metadata database; a warm-up run of the chain first, as for Tributary.',
      '',
      '| Scheduler | 10 sequential (s) | overhead per task: mean / median / max (ms) | 200-task fan-out (s) | tasks/s | root end → first of 198 starts (ms) | last of 198 ends → join starts (ms) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...results.map(
        (r) =>
          `| ${r.store} | ${r.chainSeconds.toFixed(3)} | ${ms(r.chainGapMeanMs)} / ${ms(r.chainGapMedianMs)} / ${ms(r.chainGapMaxMs)} | ${r.fanSeconds.toFixed(3)} | ${r.fanTasksPerSecond.toFixed(0)} | ${ms(r.fanRootToFirstMs)} | ${ms(r.fanLastToJoinMs)} |`,
      ),
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
