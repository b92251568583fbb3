/**
 * The retail-sales reference system at size: a month of skewed store drops (the generator's
 * `benchmark` preset: 30 days × 1,000,000 sales lines, 3,000 stores, three flagships carrying
 * most lines, the drift cases in place) through the example as shipped, with the shipped CLI:
 *
 *   1. `tributary crawl`  infers the drops' schema, registers a partition per day, reports drift;
 *   2. ETL                `tributary run stores products customers sales_lines`: the drift-mapped
 *                          load, incomplete lines quarantined, a lake partition per day;
 *   3. sales models       sales_enriched (the skewed join with the broadcast reference tables),
 *                          the daily/weekly/brand aggregations and store_skew;
 *   4. recommender        behaviour, the item-item recommender and its hold-out evaluation.
 *
 * Each step is a child process measured for wall time and peak memory (bench/lib/measure.ts);
 * rows/s is sales lines (behaviour events for the recommender) over the step's wall time. The
 * load is reconciled with the generator's manifest (lines, net sales per day); the recommender's
 * metrics are reported against popularity. Then the skewed stream of the retail-stream suite
 * (keys hashed vs hot keys learned from sales_lines: per-partition lag and events/s).
 *
 * Environment: BENCH_RETAIL_DAYS (30), BENCH_RETAIL_LINES_PER_DAY (1,000,000); a smaller month
 * writes retail-<days>x<lines>.*. BENCH_RETAIL_EVENTS sets the stream's events (2,000,000).
 * BENCH_CLI=source runs the CLI from source instead of building dist/.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { PRESETS, generateRetail, type DriftManifest } from '../../examples/retail-sales/generators/index.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured } from '../lib/measure.js';
import { MB, formatSeconds, type Suite, type SuiteContext, positiveIntegerEnv } from '../lib/suite.js';
import { PARTITIONS, skewedStreamRuns, streamEvents, type RunResult } from './retail-stream.js';
import { modelTimings } from './segment.js';

const PROJECT = 'examples/retail-sales';
const FULL = PRESETS.benchmark;
const GENERATOR = 'retail/1';
const SALES_MODELS = [
  'sales_enriched',
  'daily_sales_by_store',
  'weekly_sales_by_region',
  'daily_sales_by_category_brand',
  'brand_daily_sales',
  'brand_weekly_sales',
  'brand_top_skus',
  'brand_sales_by_region',
  'brand_category_share',
  'store_skew',
];
const RECOMMENDER_MODELS = [
  'behaviour',
  'rec_holdout_cutoff',
  'rec_training_events',
  'rec_interactions',
  'rec_item_similarity',
  'rec_item_popularity',
  'rec_customers',
  'rec_popularity_recommendations',
  'rec_recommendations',
  'rec_holdout_truth',
  'rec_evaluation',
];

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

interface MonthSize {
  days: number;
  linesPerDay: number;
}

/** A generated month, as recorded beside its folder so a partial or different one is never reused. */
interface Month extends MonthSize {
  generator: string;
  dir: string;
  lines: number;
  incomplete: number;
  behaviourEvents: number;
  bytes: number;
  files: number;
  generatedSeconds: number | null;
  manifest: DriftManifest;
}

export async function ensureMonth(dataDir: string, size: MonthSize, log: (line: string) => void): Promise<Month> {
  const dir = join(dataDir, `retail-${size.days}x${size.linesPerDay}-seed${FULL.seed}`);
  const recordFile = `${dir}.json`;
  const manifestFile = join(dir, 'drops', '_manifest.json');
  if (existsSync(recordFile) && existsSync(manifestFile)) {
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as Omit<Month, 'manifest'>;
    if (record.generator === GENERATOR && record.days === size.days && record.linesPerDay === size.linesPerDay) {
      log(`data: reusing ${relative(process.cwd(), dir)} (${fmtInt(record.lines)} sales lines)`);
      return { ...record, generatedSeconds: null, manifest: JSON.parse(readFileSync(manifestFile, 'utf8')) as DriftManifest };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(recordFile, { force: true });
  log(`data: generating ${size.days} days × ${fmtInt(size.linesPerDay)} sales lines into ${dir}`);
  let lastLog = 0;
  const result = await generateRetail({
    ...FULL,
    ...size,
    // The web shop scales with the stores, as in the full preset.
    sessionsPerDay: Math.max(200, Math.round((FULL.sessionsPerDay * size.linesPerDay) / FULL.linesPerDay)),
    out: dir,
    onProgress: (p) => {
      if (Date.now() - lastLog < 10_000) return;
      lastLog = Date.now();
      log(`  generating ${p.phase} … ${(p.fraction * 100).toFixed(0)} %, ${fmtInt(p.rows)} lines`);
    },
  });
  const record = {
    generator: GENERATOR,
    ...size,
    dir,
    lines: result.rows,
    incomplete: result.manifest.totals.incompleteRows,
    behaviourEvents: Object.values(result.streams.behaviourEvents).reduce((a, b) => a + b, 0),
    bytes: result.bytes,
    files: result.files.length,
    generatedSeconds: result.seconds,
  };
  writeFileSync(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  log(`data: ${fmtInt(record.lines)} sales lines (${record.incomplete} incomplete), ${fmtInt(record.behaviourEvents)} behaviour events, ${record.files} files, ${(record.bytes / 1e9).toFixed(2)} GB in ${result.seconds.toFixed(1)} s`);
  return { ...record, manifest: result.manifest };
}

interface StepResult {
  step: string;
  command: string;
  wallSeconds: number;
  peakRssBytes: number;
  peakAnonBytes: number;
  /** What rows/s counts: sales lines, or behaviour events for the recommender. */
  unit: string;
  rows: number;
  rowsPerSecond: number;
  loadAverageBefore: number;
  /** Seconds per model of the step's run, from its run records. */
  models?: Record<string, { seconds: number; written: number }>;
}

async function run(context: SuiteContext): Promise<void> {
  const size = { days: positiveIntegerEnv('BENCH_RETAIL_DAYS', FULL.days), linesPerDay: positiveIntegerEnv('BENCH_RETAIL_LINES_PER_DAY', FULL.linesPerDay) };
  const full = size.days === FULL.days && size.linesPerDay === FULL.linesPerDay;
  const base = join(context.resultsDir, full ? 'retail' : `retail-${size.days}x${size.linesPerDay}`);
  const month = await ensureMonth(context.dataDir, size, context.log);
  const work = join(context.dataDir, 'work', 'retail');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const fromSource = process.env.BENCH_CLI === 'source';
  if (!fromSource) {
    context.log('  building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: context.root });
  }
  const cli = fromSource ? ['--import', 'tsx', 'test/cli-entry.ts'] : ['bin/tributary.js'];
  const out = join(work, 'project-data');
  const env = { ...process.env, RETAIL_DATA: month.dir };
  const tributary = (...args: string[]) => [...cli, ...args, '--project', PROJECT, '--data-dir', out];

  const steps: { step: string; args: string[]; unit: string; rows: number; models?: boolean }[] = [
    { step: 'crawl', args: tributary('crawl', join(month.dir, 'drops'), '--table', 'sales_raw'), unit: 'sales lines', rows: month.lines },
    { step: 'ETL (drift-mapped load)', args: tributary('run', 'stores', 'products', 'customers', 'sales_lines', '--quiet'), unit: 'sales lines', rows: month.lines, models: true },
    { step: 'sales models', args: tributary('run', ...SALES_MODELS, '--quiet'), unit: 'sales lines', rows: month.lines - month.incomplete, models: true },
    { step: 'recommender', args: tributary('run', ...RECOMMENDER_MODELS, '--quiet'), unit: 'behaviour events', rows: month.behaviourEvents, models: true },
  ];
  const results: StepResult[] = [];
  for (const [index, step] of steps.entries()) {
    const loadAverageBefore = Number(loadavg()[0]!.toFixed(2));
    context.log(`step ${index + 1}/${steps.length} ${step.step}: start (load average ${loadAverageBefore})`);
    const logFile = join(work, `step-${index + 1}.log`);
    const m = await spawnMeasured(process.execPath, step.args, {
      cwd: context.root,
      env,
      logFile,
      timeoutSeconds: 3 * 3600,
      heartbeatMs: 15_000,
      onHeartbeat: (seconds, rss) => context.log(`  ${step.step}: ${seconds.toFixed(0)} s, ${(rss / MB).toFixed(0)} MB resident`),
    });
    if (m.exitCode !== 0) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-12).join('\n');
      throw new Error(`${step.step} exited with ${m.exitCode ?? m.signal}; last lines of ${logFile}:\n${tail}`);
    }
    const result: StepResult = {
      step: step.step,
      command: m.command.replaceAll(`${context.root}/`, ''),
      wallSeconds: m.wallSeconds,
      peakRssBytes: m.peakRssBytes,
      peakAnonBytes: m.peakAnonBytes,
      unit: step.unit,
      rows: step.rows,
      rowsPerSecond: step.rows / m.wallSeconds,
      loadAverageBefore,
    };
    if (step.models) result.models = Object.fromEntries(await modelTimings(context, cli, PROJECT, out));
    results.push(result);
    context.log(`step ${index + 1}/${steps.length} ${step.step}: ${formatSeconds(m.wallSeconds)} s, peak RSS ${(m.peakRssBytes / MB).toFixed(0)} MB, ${fmtInt(result.rowsPerSecond)} ${step.unit}/s`);
  }

  const sql = async <T>(query: string) => JSON.parse(await runCapture(process.execPath, [...cli, 'sql', '--project', PROJECT, '--data-dir', out, '-f', 'json', query], { cwd: context.root, env })) as T[];
  // The load against the generator's own totals: every line loaded or quarantined; net sales per day.
  const runs = JSON.parse(await runCapture(process.execPath, [...cli, 'runs', '--project', PROJECT, '--data-dir', out, '--limit', '200', '--format', 'json'], { cwd: context.root, env })) as {
    target: string;
    status: string;
    read: number | null;
    written: number;
    quarantined: number;
  }[];
  const load = runs.find((r) => r.target === 'sales_lines' && r.status === 'success')!;
  const counts = { loaded: Number(load.written), quarantined: Number(load.quarantined) };
  const netByDay = await sql<{ dt: string; cents: number }>(`SELECT dt::VARCHAR AS dt, (sum(net_sales) * 100)::DOUBLE AS cents FROM daily_sales_by_store GROUP BY 1 ORDER BY 1`);
  const reconciliation = {
    lines: month.manifest.totals.rows,
    loaded: counts.loaded,
    quarantined: counts.quarantined,
    incompleteInManifest: month.manifest.totals.incompleteRows,
    everyLineAccounted: Number(load.read) === month.manifest.totals.rows && counts.loaded + counts.quarantined === month.manifest.totals.rows && counts.quarantined === month.manifest.totals.incompleteRows,
    netSalesPerDayEqual: JSON.stringify(Object.fromEntries(netByDay.map((d) => [d.dt, d.cents]))) === JSON.stringify(month.manifest.totals.netSalesCentsByDt),
  };
  const hot = await sql<{ store_id: number; share: number }>(`SELECT store_id, share::DOUBLE AS share FROM store_skew WHERE is_hot ORDER BY rank`);
  const evaluation = await sql<{ metric: string; item_item: number; popularity: number }>(
    `SELECT metric, max(value::DOUBLE) FILTER (WHERE model = 'item_item') AS item_item, max(value::DOUBLE) FILTER (WHERE model = 'popularity') AS popularity FROM rec_evaluation GROUP BY 1 ORDER BY 1`,
  );
  context.log(`reconciliation: ${JSON.stringify(reconciliation)}`);
  context.log(`recommender: ${evaluation.map((e) => `${e.metric} ${e.item_item.toFixed(4)} vs ${e.popularity.toFixed(4)}`).join('; ')}`);

  const events = streamEvents();
  const stream = await skewedStreamRuns(context.dataDir, events, context.log);
  rmSync(work, { recursive: true, force: true });

  const machine = machineInfo();
  const { manifest: _manifest, ...monthRecord } = month;
  const report: Report = { machine, size: { ...size, seed: FULL.seed, start: FULL.start }, month: monthRecord, steps: results, reconciliation, hotStores: hot, evaluation, stream: { events, partitions: PARTITIONS, runs: stream.runs } };
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const chart = `${base.split('/').pop()}.svg`;
  writeFileSync(
    `${base}.svg`,
    barChartSvg({
      title: `Retail month: ${size.days} days × ${fmtInt(size.linesPerDay)} sales lines, and the skewed stream`,
      subtitle: `${machine.nproc} cores · stream ${fmtInt(events)} events: ${stream.runs.map((r) => `${r.label} ${fmtInt(r.eventsPerSecond)} events/s`).join(', ')}`,
      categories: [...results.map((r) => r.step), ...stream.runs.map((r) => `stream, ${r.label}`)],
      series: [
        { name: 'wall time', unit: 's', values: [...results.map((r) => Number(r.wallSeconds.toFixed(1))), ...stream.runs.map((r) => Number(r.seconds.toFixed(1)))] },
        { name: 'peak RSS', unit: 'MB', values: [...results.map((r) => Math.round(r.peakRssBytes / MB)), ...stream.runs.map(() => null)] },
        { name: 'rows (events) per second', unit: '/s', values: [...results.map((r) => Math.round(r.rowsPerSecond)), ...stream.runs.map((r) => Math.round(r.eventsPerSecond))] },
      ],
    }),
  );
  writeFileSync(`${base}.md`, markdown(report, chart));
  context.log(`results: ${relative(context.root, base)}.{md,svg,json}`);
}

interface Report {
  machine: ReturnType<typeof machineInfo>;
  size: MonthSize & { seed: number; start: string };
  month: Omit<Month, 'manifest'>;
  steps: StepResult[];
  reconciliation: { lines: number; loaded: number; quarantined: number; incompleteInManifest: number; everyLineAccounted: boolean; netSalesPerDayEqual: boolean };
  hotStores: { store_id: number; share: number }[];
  evaluation: { metric: string; item_item: number; popularity: number }[];
  stream: { events: number; partitions: number; runs: RunResult[] };
}

function markdown(report: Report, chart: string): string {
  const { machine, size, month, steps, reconciliation: rec } = report;
  const slowest = (r: StepResult) =>
    Object.entries(r.models ?? {})
      .sort((a, b) => b[1].seconds - a[1].seconds)
      .slice(0, 3)
      .map(([model, t]) => `${model} ${t.seconds.toFixed(1)} s`)
      .join(', ');
  return [
    '# Retail: a month of skewed store drops, the sales models, the recommender and the skewed stream',
    '',
    `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Commit ${machine.commit}, run at ${new Date().toISOString()}.`,
    `Data: the retail generator, ${size.days} days from ${size.start} × ${fmtInt(size.linesPerDay)} sales lines a day (seed ${size.seed}): ${fmtInt(month.lines)} lines in ${fmtInt(month.files)} files (${(month.bytes / 1e9).toFixed(2)} GB), ${month.incomplete} incomplete, ${fmtInt(month.behaviourEvents)} behaviour events. Hot stores (≥ 5 % of lines): ${report.hotStores.map((h) => `${h.store_id} (${(h.share * 100).toFixed(1)} %)`).join(', ')}.`,
    '',
    '| step | wall (s) | peak RSS (MB) | peak private (MB) | rows/s | load avg before | slowest models |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...steps.map(
      (r) => `| ${r.step} | ${formatSeconds(r.wallSeconds)} | ${(r.peakRssBytes / MB).toFixed(0)} | ${(r.peakAnonBytes / MB).toFixed(0)} | ${fmtInt(r.rowsPerSecond)} ${r.unit}/s | ${r.loadAverageBefore} | ${slowest(r) || '—'} |`,
    ),
    '',
    `Reconciliation with the generator's manifest: ${fmtInt(rec.loaded)} loaded + ${fmtInt(rec.quarantined)} quarantined of ${fmtInt(rec.lines)} lines (manifest: ${rec.incompleteInManifest} incomplete): ${rec.everyLineAccounted ? 'every line accounted for' : '**MISMATCH**'}; net sales per day ${rec.netSalesPerDayEqual ? 'equal the manifest’s' : '**differ from the manifest’s**'}.`,
    '',
    '## Recommender: hold-out evaluation at 10',
    '',
    '| metric | item-item | popularity |',
    '|---|---:|---:|',
    ...report.evaluation.map((e) => `| ${e.metric} | ${e.metric === 'customers_evaluated' ? fmtInt(e.item_item) : e.item_item.toFixed(4)} | ${e.metric === 'customers_evaluated' ? fmtInt(e.popularity) : e.popularity.toFixed(4)} |`),
    '',
    `## The skewed stream (${fmtInt(report.stream.events)} events, ${PARTITIONS} partitions; the retail-stream suite's runs)`,
    '',
    '| run | hot keys | events/s | seconds | cold stores done at (s) | per-partition backlog committed at (s) | exactly once |',
    '|---|---|---:|---:|---:|---|---|',
    ...report.stream.runs.map(
      (r) =>
        `| ${r.label} | ${r.hotKeys.join(', ') || '—'} | ${fmtInt(r.eventsPerSecond)} | ${r.seconds.toFixed(1)} | ${r.coldDrainedAt.toFixed(1)} | ${r.partitions.map((p) => p.drainedAt.toFixed(1)).join(' / ')} | ${r.exactlyOnce ? 'yes' : 'NO'} |`,
    ),
    '',
    'Wall time is from spawning the CLI to its exit (Node start-up and opening the project included); peak RSS is the process tree’s, sampled every 100 ms from /proc (bench/lib/measure.ts). The stream runs in the suite’s process (see bench/suites/retail-stream.ts).',
    '',
    `![retail chart](./${chart})`,
    '',
  ].join('\n');
}

export const retailSuite: Suite = {
  name: 'retail',
  description: 'a month of skewed retail store drops through crawl, the drift-mapped ETL, the sales models and the recommender; the skewed stream with and without hot keys',
  run,
};
