/**
 * Scheduler overhead with the memory store (not a test, not a benchmark suite): how long from a task's
 * end to the start of the task waiting for it, over 10 sequential no-op tasks and a 200-task fan-out.
 * Run: npx tsx src/scheduler/measure.ts
 */
import { performance } from 'node:perf_hooks';
import { Scheduler } from './daemon.js';
import { MemorySchedulerStore } from './memory-store.js';
import type { TaskContext } from './tasks/types.js';
import { createTestPlatform } from './testing.js';

interface Span {
  start: number;
  end: number;
}

const spans = new Map<string, Span>();
const step = (ctx: TaskContext): void => {
  const start = performance.now();
  spans.set(ctx.task, { start, end: performance.now() });
};

const fn = (after: string[] = []) => ({ kind: 'function', module: 'noop.ts', export: 'step', after });

const chain: Record<string, unknown> = {};
for (let index = 0; index < 10; index++) chain[`t${index}`] = fn(index === 0 ? [] : [`t${index - 1}`]);

const middle = Array.from({ length: 198 }, (_, index) => `part_${index}`);
const fanOut: Record<string, unknown> = { root: fn() };
for (const name of middle) fanOut[name] = fn(['root']);
fanOut.join = fn(middle);

const scheduler = new Scheduler({
  jobs: { chain: { tasks: chain }, fan: { tasks: fanOut } },
  store: new MemorySchedulerStore(),
  platform: createTestPlatform({ modules: { 'noop.ts': { step } } }),
  owner: 'measure',
  maxConcurrentTasks: 8,
});
await scheduler.start();

async function runJob(job: string): Promise<number> {
  spans.clear();
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    const stop = scheduler.subscribe((event) => {
      if (event.type === 'run' && event.run.job === job && (event.run.state === 'success' || event.run.state === 'failed')) {
        stop();
        resolve();
      }
    });
  });
  await scheduler.trigger(job);
  await done;
  return performance.now() - started;
}

const span = (task: string): Span => {
  const found = spans.get(task);
  if (!found) throw new Error(`task ${task} did not run`);
  return found;
};
const format = (ms: number): string => `${ms.toFixed(2)} ms`;

await runJob('chain'); // warm-up: module loading, JIT
const chainMs = await runJob('chain');
const gaps = Array.from({ length: 9 }, (_, index) => span(`t${index + 1}`).start - span(`t${index}`).end).sort((a, b) => a - b);
console.log(`10 sequential no-op tasks: ${format(chainMs)} in all`);
console.log(
  `  dependency end → next task start: mean ${format(gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length)}, median ${format(gaps[4]!)}, max ${format(gaps.at(-1)!)}`,
);

const fanMs = await runJob('fan');
const lastMiddleEnd = Math.max(...middle.map((name) => span(name).end));
const firstMiddleStart = Math.min(...middle.map((name) => span(name).start));
console.log(`200-task fan-out (root → 198 → join, 8 slots): ${format(fanMs)}, ${(200 / (fanMs / 1000)).toFixed(0)} tasks/s`);
console.log(`  root end → first of its 198 downstream starts: ${format(firstMiddleStart - span('root').end)}`);
console.log(`  last of the 198 ends → join starts: ${format(span('join').start - lastMiddleEnd)}`);
console.log(`  per task: ${format(fanMs / 200)}`);

await scheduler.stop();
