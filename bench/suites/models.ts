/**
 * Models suite (issue 19): the segment-warehouse and retail-sales model DAGs run by `tributary run`
 * with `--threads 1` and `--threads 2`, the engine's own threads held at the machine's default
 * (DuckDB's, one per core), each on a fresh data folder: wall time and peak memory of the process
 * tree, and the tables of both runs compared (same rows).
 *
 * Environment: BENCH_MODELS_SEGMENT (days x events a day, default 7x100000), BENCH_MODELS_RETAIL
 * (days x sales lines a day, default 7x100000). BENCH_CLI=source runs the CLI from source.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured } from '../lib/measure.js';
import { MB, formatSeconds, type Suite, type SuiteContext } from '../lib/suite.js';
import { ensureMonth } from './retail.js';
import { ensureDrops } from './segment.js';

const THREADS = [1, 2];

function size(name: string, fallback: [number, number]): [number, number] {
  const text = process.env[name];
  if (!text) return fallback;
  const match = /^(\d+)x(\d+)$/.exec(text.replace(/_/g, ''));
  if (!match) throw new Error(`${name} must be DAYSxPER_DAY, such as 7x100000; got '${text}'`);
  return [Number(match[1]), Number(match[2])];
}

interface RunResult {
  project: string;
  threads: number;
  wallSeconds: number;
  peakRssBytes: number;
  loadAverageBefore: number;
  models: number;
  /** Every table's rows, to compare the two runs. */
  tables: Record<string, number>;
}

async function run(context: SuiteContext): Promise<void> {
  const [segmentDays, eventsPerDay] = size('BENCH_MODELS_SEGMENT', [7, 100_000]);
  const [retailDays, linesPerDay] = size('BENCH_MODELS_RETAIL', [7, 100_000]);
  const drops = await ensureDrops(context.dataDir, { days: segmentDays, eventsPerDay }, context.log);
  const month = await ensureMonth(context.dataDir, { days: retailDays, linesPerDay }, context.log);
  const fromSource = process.env.BENCH_CLI === 'source';
  if (!fromSource) {
    context.log('  building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: context.root });
  }
  const cli = fromSource ? ['--import', 'tsx', 'test/cli-entry.ts'] : ['bin/tributary.js'];
  const work = join(context.dataDir, 'work', 'models');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const projects = [
    { name: 'segment-warehouse', dir: 'examples/segment-warehouse', env: { SEGMENT_DROPS: join(drops.dir, 'drops'), TRIBUTARY_TARGET: 'dev' }, input: `${segmentDays} days × ${eventsPerDay.toLocaleString('en-US')} events` },
    { name: 'retail-sales', dir: 'examples/retail-sales', env: { RETAIL_DATA: month.dir }, input: `${retailDays} days × ${linesPerDay.toLocaleString('en-US')} sales lines` },
  ];
  const results: RunResult[] = [];
  for (const project of projects) {
    for (const threads of THREADS) {
      const dataDir = join(work, `${project.name}-${threads}`);
      const env = { ...process.env, ...project.env };
      const loadAverageBefore = Number(loadavg()[0]!.toFixed(2));
      context.log(`${project.name}, --threads ${threads}: start (load average ${loadAverageBefore})`);
      const logFile = join(work, `${project.name}-${threads}.log`);
      const m = await spawnMeasured(process.execPath, [...cli, 'run', '--project', project.dir, '--data-dir', dataDir, '--threads', String(threads), '--quiet'], {
        cwd: context.root,
        env,
        logFile,
        timeoutSeconds: 2 * 3600,
        heartbeatMs: 15_000,
        onHeartbeat: (seconds, rss) => context.log(`  ${seconds.toFixed(0)} s, ${(rss / MB).toFixed(0)} MB resident`),
      });
      if (m.exitCode !== 0) {
        throw new Error(`${project.name} --threads ${threads} exited with ${m.exitCode ?? m.signal}:\n${readFileSync(logFile, 'utf8').trim().split('\n').slice(-12).join('\n')}`);
      }
      const catalog = JSON.parse(await runCapture(process.execPath, [...cli, 'catalog', '--project', project.dir, '--data-dir', dataDir, '--format', 'json'], { cwd: context.root, env })) as { table: string; rows: number | string }[];
      const modelRuns = readFileSync(logFile, 'utf8').match(/^[✔!] (?!check )/gm)?.length ?? 0;
      results.push({ project: project.name, threads, wallSeconds: m.wallSeconds, peakRssBytes: m.peakRssBytes, loadAverageBefore, models: modelRuns, tables: Object.fromEntries(catalog.map((t) => [t.table, Number(t.rows || 0)])) });
      context.log(`${project.name}, --threads ${threads}: ${formatSeconds(m.wallSeconds)} s, peak ${(m.peakRssBytes / MB).toFixed(0)} MB, ${modelRuns} models`);
      if (!process.env.BENCH_KEEP) rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const disagreements = projects.flatMap((p) => {
    const [one, two] = results.filter((r) => r.project === p.name);
    return Object.keys(one!.tables).filter((t) => one!.tables[t] !== two!.tables[t]).map((t) => `${p.name}.${t}: ${one!.tables[t]} vs ${two!.tables[t]}`);
  });

  const machine = machineInfo();
  writeFileSync(join(context.resultsDir, 'models.json'), JSON.stringify({ machine, projects, results, disagreements }, null, 2));
  const categories = projects.map((p) => p.name);
  writeFileSync(
    join(context.resultsDir, 'models.svg'),
    barChartSvg({
      title: 'Model DAGs: tributary run with --threads 1 and 2',
      subtitle: `${machine.nproc} cores, engine threads at DuckDB's default; commit ${machine.commit}`,
      categories,
      series: THREADS.flatMap((t) => [
        { name: `wall time, --threads ${t}`, unit: 's', values: categories.map((c) => results.find((r) => r.project === c && r.threads === t)!.wallSeconds) },
        { name: `peak memory, --threads ${t}`, unit: 'MB', values: categories.map((c) => results.find((r) => r.project === c && r.threads === t)!.peakRssBytes / MB) },
      ]),
    }),
  );
  const md = [
    '# Model DAGs with threads',
    '',
    `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}; DuckDB ${machine.duckdb}. Commit ${machine.commit}, run at ${machine.date}.`,
    '',
    'Command: `npm run bench -- models`. Each run is `tributary run --threads N` on a fresh data folder; the engine keeps DuckDB’s own threads (one per core) in every run, shared by the models that run at the same time. Peak memory is the process tree’s.',
    '',
    '| project | input | --threads | wall (s) | peak memory (MB) | models | load average before |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.project} | ${projects.find((p) => p.name === r.project)!.input} | ${r.threads} | ${formatSeconds(r.wallSeconds)} | ${(r.peakRssBytes / MB).toFixed(0)} | ${r.models} | ${r.loadAverageBefore} |`),
    '',
    disagreements.length ? `The two runs disagree: ${disagreements.join('; ')}.` : 'Both runs of each project give every table the same number of rows.',
    '',
    '![chart](models.svg)',
    '',
  ].join('\n');
  writeFileSync(join(context.resultsDir, 'models.md'), md);
  context.log(`wrote ${join(context.resultsDir, 'models.md')}`);
}

export const modelsSuite: Suite = {
  name: 'models',
  description: 'the segment-warehouse and retail-sales model DAGs with --threads 1 and 2: wall time and peak memory',
  run,
};
