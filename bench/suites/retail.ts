/**
 * The retail-sales reference system at size: a month of skewed store drops (the generator's
 * `benchmark` preset: 30 days × 1,000,000 sales lines, 3,000 stores, three flagships carrying
 * most lines, the drift cases in place) through the example as shipped, with the shipped CLI:
 *
 *   1. `tributary crawl`  infers the drops' schema, registers a partition per day, reports drift;
 *   2. ETL                `tributary run stores products customers sales_lines`: the drift-mapped
 *                          load, incomplete lines quarantined, a lake partition per day;
 *      ETL, PySpark        the same load by the peer in bench/peers/retail_spark.py: PySpark in local
 *                          mode (local[2]), installed by .ci/bench-tools.sh, told the example's
 *                          declared columns, rules and drift mapping; Parquet partitioned by day;
 *   3. sales models       sales_enriched (the skewed join with the broadcast reference tables),
 *                          the daily/weekly/brand aggregations and store_skew;
 *   4. recommender        behaviour, the item-item recommender and its hold-out evaluation.
 *
 * Whether many small files cost little more than one big one: the same month as one file a day
 * (each day's drop files in the main layout joined into one, the drifted ones beside it, made
 * once beside the month, untimed), crawled and loaded by the same two commands after the month's
 * own crawl and load, reconciled with the same manifest.
 *
 * Each step is a child process measured for wall time and peak memory (bench/lib/measure.ts);
 * rows/s is sales lines (behaviour events for the recommender) over the step's wall time. The
 * load is reconciled with the generator's manifest (lines, net sales per day), and the Spark peer's
 * counts and net sales per day with the manifest and Tributary's; the recommender's metrics are
 * reported against popularity. Then the skewed stream of the retail-stream suite
 * (keys hashed vs hot keys learned from sales_lines: per-partition lag and events/s).
 *
 * Environment: BENCH_RETAIL_DAYS (30), BENCH_RETAIL_LINES_PER_DAY (1,000,000); a smaller month
 * writes retail-<days>x<lines>.*. BENCH_RETAIL_EVENTS sets the stream's events (2,000,000).
 * BENCH_RETAIL_ONE_FILE_A_DAY=0 skips the one-file-a-day crawl and load.
 * BENCH_CLI=source runs the CLI from source instead of building dist/.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PRESETS, generateRetail, type DriftManifest } from '../../examples/retail-sales/generators/index.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured, warmPageCache } from '../lib/measure.js';
import { modelTimings } from '../lib/run-records.js';
import { BENCH_PYTHON, installPythonPeers } from '../lib/python-peers.js';
import { MB, formatSeconds, type Suite, type SuiteContext, positiveIntegerEnv } from '../lib/suite.js';
import { PARTITIONS, skewedStreamRuns, streamEvents, type RunResult } from './retail-stream.js';

const PROJECT = 'examples/retail-sales';
const FULL = PRESETS.benchmark;
const GENERATOR = 'retail/1';
/** The Spark peer's heap: local mode runs every task in the driver; Tributary's load peaks near 4.3 GB. */
const SPARK_DRIVER_MEMORY = '4g';
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

/** Each day's drop files, as the example's source finds them (`drops/dt=YYYY-MM-DD/store_*.csv`), in name order. */
function dropDays(dropsDir: string): { folder: string; files: string[] }[] {
  return readdirSync(dropsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith('dt='))
    .map((entry) => entry.name)
    .sort()
    .map((folder) => ({
      folder,
      files: readdirSync(join(dropsDir, folder))
        .filter((name) => /^store_.*\.csv$/.test(name))
        .sort()
        .map((name) => join(dropsDir, folder, name)),
    }));
}

/**
 * A month's sales lines as one file a day, as recorded beside its folder: each day's drop files
 * headed as the main layout joined into `store_all.csv` (still a `store_*.csv` to the source's
 * path), every other drop file copied beside it unchanged, the reference files linked.
 */
interface OneFileADay {
  /** The month it was made from, as that month's record has it. */
  month: Pick<Month, 'generator' | 'days' | 'linesPerDay' | 'lines' | 'bytes'>;
  dir: string;
  /** Drop files of this layout: a store_all.csv a day, and the files copied beside them. */
  files: number;
  /** The month's drop files whose lines went into the days' store_all.csv. */
  joined: number;
  copied: number;
  bytes: number;
  madeSeconds: number | null;
}

function ensureOneFileADay(month: Month, log: (line: string) => void): OneFileADay {
  const dir = `${month.dir}-one-file-a-day`;
  const recordFile = `${dir}.json`;
  const from = { generator: month.generator, days: month.days, linesPerDay: month.linesPerDay, lines: month.lines, bytes: month.bytes };
  if (existsSync(recordFile)) {
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as OneFileADay;
    if (JSON.stringify(record.month) === JSON.stringify(from)) {
      log(`data: reusing ${relative(process.cwd(), dir)} (${fmtInt(record.joined)} drop files joined, ${record.copied} copied)`);
      return { ...record, madeSeconds: null };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(recordFile, { force: true });
  log(`data: the month as one file a day into ${dir}`);
  const started = performance.now();
  const header = Buffer.from(`${month.manifest.canonicalColumns.join(',')}\n`);
  // The files a drift case names stay as they are, so the drift mapping and the quarantine meet
  // the same files as in the month: a value only a declared cast reads (a decimal comma) would
  // otherwise send a whole day's file through the mapped reader.
  const drifted = new Set(month.manifest.cases.flatMap((c) => c.files.map((f) => join(month.dir, f.path))));
  let files = 0;
  let joined = 0;
  let copied = 0;
  let bytes = 0;
  for (const day of dropDays(join(month.dir, 'drops'))) {
    const folder = join(dir, 'drops', day.folder);
    mkdirSync(folder, { recursive: true });
    const all = join(folder, 'store_all.csv');
    const fd = openSync(all, 'w');
    try {
      writeFileSync(fd, header);
      for (const file of day.files) {
        const text = readFileSync(file);
        // Only a file headed exactly so (delimiter and line ending included) goes in under the one header.
        if (drifted.has(file) || !text.subarray(0, header.length).equals(header)) {
          copyFileSync(file, join(folder, basename(file)));
          files++;
          copied++;
          bytes += text.length;
          continue;
        }
        const lines = text.subarray(header.length);
        writeFileSync(fd, lines);
        // A last line without its newline would run into the next file's first.
        if (lines.length > 0 && lines[lines.length - 1] !== 0x0a) writeFileSync(fd, '\n');
        joined++;
      }
    } finally {
      closeSync(fd);
    }
    files++;
    bytes += statSync(all).size;
  }
  symlinkSync(relative(dir, join(month.dir, 'reference')), join(dir, 'reference'));
  const madeSeconds = (performance.now() - started) / 1000;
  const record: OneFileADay = { month: from, dir, files, joined, copied, bytes, madeSeconds };
  writeFileSync(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  log(`data: ${fmtInt(joined)} drop files joined into ${files - copied} (one a day), ${copied} copied beside them, ${(bytes / 1e9).toFixed(2)} GB in ${madeSeconds.toFixed(1)} s`);
  return record;
}

/** What the Spark peer is told of the example's config. */
interface RetailConfig {
  lakeCompression?: string;
  sources: Record<string, { path: string; columns: Record<string, string>; rules?: { column: string; notNull?: boolean }[]; drift?: Record<string, unknown> }>;
  models: Record<string, { sql: string }>;
}

/** The reference tables the ETL step loads beside the drops, and the drops' source. */
const REFERENCE_MODELS = ['stores', 'products', 'customers'];
const DROPS_SOURCE = 'store_drops';
/** The steps the two layouts are compared on, and what names the one-file-a-day runs of them. */
const CRAWL_STEP = 'crawl';
const LOAD_STEP = 'ETL (drift-mapped load)';
const ONE_FILE_A_DAY = ', one file a day';

/**
 * The Spark peer's spec, from the example's own declarations: the drops' columns, required
 * columns and drift mapping, and the reference models' sources, with the month's folder for the
 * example's data folder.
 */
async function sparkSpec(root: string, monthDir: string) {
  const config = ((await import(pathToFileURL(join(root, PROJECT, 'tributary.config.ts')).href)) as { default: RetailConfig }).default;
  // The config's paths start with its data folder (RETAIL_DATA, else the committed sample).
  const data = process.env.RETAIL_DATA ?? 'data/sample';
  const inMonth = (path: string) => join(monthDir, relative(data, path));
  const required = (rules: { column: string; notNull?: boolean }[] = []) => rules.filter((r) => r.notNull).map((r) => r.column);
  const drops = config.sources[DROPS_SOURCE]!;
  const dropsDir = join(monthDir, 'drops');
  return {
    // Spark's lz4 is Hadoop's framing; the project's lz4 is LZ4_RAW.
    compression: config.lakeCompression === 'lz4' ? 'lz4_raw' : (config.lakeCompression ?? 'snappy'),
    reference: REFERENCE_MODELS.map((name) => {
      const sourceName = /\{\{\s*source\('(\w+)'\)\s*\}\}/.exec(config.models[name]!.sql)![1]!;
      const source = config.sources[sourceName]!;
      return { name, path: inMonth(source.path), columns: source.columns, required: required(source.rules) };
    }),
    sales: { drops: dropsDir, pattern: relative(dropsDir, inMonth(drops.path)), columns: drops.columns, required: required(drops.rules), drift: drops.drift ?? {} },
  };
}

/** What bench/peers/retail_spark.py writes to result.json. */
interface SparkResult {
  read: number;
  loaded: number;
  rejected: number;
  netSalesCentsByDt: Record<string, number>;
  reference: Record<string, number>;
  files: number;
  layouts: { delimiter: string; header: string[]; files: number }[];
  unmappable: Record<string, string>;
  seconds: Record<string, number>;
}

/** Where a step's project finds its month (RETAIL_DATA) and keeps its state (--data-dir). */
interface Layout {
  monthDir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}

interface Step {
  step: string;
  command?: string;
  args: string[];
  layout: Layout;
  unit: string;
  rows: number;
  models?: boolean;
  spark?: boolean;
}

/** `tributary runs` of a project, as the reconciliation reads them. */
interface RunRecord {
  target: string;
  status: string;
  read: number | null;
  written: number;
  quarantined: number;
}

interface Reconciliation {
  lines: number;
  loaded: number;
  quarantined: number;
  incompleteInManifest: number;
  everyLineAccounted: boolean;
  netSalesPerDayEqual: boolean;
}

/** The load against the generator's own totals: every line loaded or quarantined, the incomplete ones quarantined; net sales per day. */
function reconcile(manifest: DriftManifest, runs: RunRecord[], netSalesCentsByDt: Record<string, number>): Reconciliation {
  const load = runs.find((r) => r.target === 'sales_lines' && r.status === 'success')!;
  const loaded = Number(load.written);
  const quarantined = Number(load.quarantined);
  const lines = manifest.totals.rows;
  return {
    lines,
    loaded,
    quarantined,
    incompleteInManifest: manifest.totals.incompleteRows,
    everyLineAccounted: Number(load.read) === lines && loaded + quarantined === lines && quarantined === manifest.totals.incompleteRows,
    netSalesPerDayEqual: JSON.stringify(netSalesCentsByDt) === JSON.stringify(manifest.totals.netSalesCentsByDt),
  };
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
  /** Seconds per part of a peer's run, by its own clock. */
  parts?: Record<string, number>;
}

async function run(context: SuiteContext): Promise<void> {
  const size = { days: positiveIntegerEnv('BENCH_RETAIL_DAYS', FULL.days), linesPerDay: positiveIntegerEnv('BENCH_RETAIL_LINES_PER_DAY', FULL.linesPerDay) };
  const full = size.days === FULL.days && size.linesPerDay === FULL.linesPerDay;
  const base = join(context.resultsDir, full ? 'retail' : `retail-${size.days}x${size.linesPerDay}`);
  const month = await ensureMonth(context.dataDir, size, context.log);
  const oneFileADay = process.env.BENCH_RETAIL_ONE_FILE_A_DAY === '0' ? undefined : ensureOneFileADay(month, context.log);
  const work = join(context.dataDir, 'work', 'retail');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const fromSource = process.env.BENCH_CLI === 'source';
  if (!fromSource) {
    context.log('  building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: context.root });
  }
  const cli = fromSource ? ['--import', 'tsx', 'test/cli-entry.ts'] : ['bin/tributary.js'];
  const layoutOf = (monthDir: string, dataDir: string): Layout => ({ monthDir, dataDir, env: { ...process.env, RETAIL_DATA: monthDir } });
  const small = layoutOf(month.dir, join(work, 'project-data'));
  const oneADay = oneFileADay && layoutOf(oneFileADay.dir, join(work, 'project-data-one-file-a-day'));
  const tributary = (layout: Layout, ...args: string[]) => [...cli, ...args, '--project', PROJECT, '--data-dir', layout.dataDir];
  context.log('  PySpark: installing the pinned peers if missing (.ci/bench-tools.sh), untimed');
  await installPythonPeers(context);
  const pyspark = (await runCapture(join(context.root, BENCH_PYTHON), ['-c', 'import importlib.metadata as m; print(m.version("pyspark"))'])).trim();
  const sparkOut = join(work, 'spark');
  const sparkSpecFile = join(work, 'spark-spec.json');
  writeFileSync(sparkSpecFile, `${JSON.stringify(await sparkSpec(context.root, month.dir), null, 2)}\n`);
  // Both layouts in the page cache: whether the month was just made or reused must not decide which reads from disk.
  const drops = [small, ...(oneADay ? [oneADay] : [])].flatMap((layout) => dropDays(join(layout.monthDir, 'drops')).flatMap((day) => day.files));
  context.log(`page cache: reading the drops once (${fmtInt(drops.length)} files)`);
  context.log(`page cache: warm in ${(await warmPageCache(drops)).toFixed(1)} s`);

  const crawlAndLoad = (layout: Layout, suffix: string): Step[] => [
    { step: `${CRAWL_STEP}${suffix}`, args: tributary(layout, 'crawl', join(layout.monthDir, 'drops'), '--table', 'sales_raw'), layout, unit: 'sales lines', rows: month.lines },
    { step: `${LOAD_STEP}${suffix}`, args: tributary(layout, 'run', ...REFERENCE_MODELS, 'sales_lines', '--quiet'), layout, unit: 'sales lines', rows: month.lines, models: true },
  ];
  const steps: Step[] = [
    ...crawlAndLoad(small, ''),
    // Right after the month's own, so that both layouts meet the machine alike.
    ...(oneADay ? crawlAndLoad(oneADay, ONE_FILE_A_DAY) : []),
    {
      step: 'ETL, PySpark local[2]',
      command: BENCH_PYTHON,
      args: ['bench/peers/retail_spark.py', '--spec', sparkSpecFile, '--out', sparkOut, '--driver-memory', SPARK_DRIVER_MEMORY],
      layout: small,
      unit: 'sales lines',
      rows: month.lines,
      spark: true,
    },
    { step: 'sales models', args: tributary(small, 'run', ...SALES_MODELS, '--quiet'), layout: small, unit: 'sales lines', rows: month.lines - month.incomplete, models: true },
    { step: 'recommender', args: tributary(small, 'run', ...RECOMMENDER_MODELS, '--quiet'), layout: small, unit: 'behaviour events', rows: month.behaviourEvents, models: true },
  ];
  const results: StepResult[] = [];
  let spark: SparkResult | undefined;
  for (const [index, step] of steps.entries()) {
    const loadAverageBefore = Number(loadavg()[0]!.toFixed(2));
    context.log(`step ${index + 1}/${steps.length} ${step.step}: start (load average ${loadAverageBefore})`);
    const logFile = join(work, `step-${index + 1}.log`);
    const m = await spawnMeasured(step.command ?? process.execPath, step.args, {
      cwd: context.root,
      env: step.layout.env,
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
    if (step.models) result.models = Object.fromEntries(await modelTimings(context, cli, PROJECT, step.layout.dataDir));
    if (step.spark) {
      spark = JSON.parse(readFileSync(join(sparkOut, 'result.json'), 'utf8')) as SparkResult;
      result.parts = spark.seconds;
    }
    results.push(result);
    context.log(`step ${index + 1}/${steps.length} ${step.step}: ${formatSeconds(m.wallSeconds)} s, peak RSS ${(m.peakRssBytes / MB).toFixed(0)} MB, ${fmtInt(result.rowsPerSecond)} ${step.unit}/s`);
  }

  const sql = async <T>(layout: Layout, query: string) =>
    JSON.parse(await runCapture(process.execPath, [...cli, 'sql', '--project', PROJECT, '--data-dir', layout.dataDir, '-f', 'json', query], { cwd: context.root, env: layout.env })) as T[];
  const runsOf = async (layout: Layout) =>
    JSON.parse(await runCapture(process.execPath, [...cli, 'runs', '--project', PROJECT, '--data-dir', layout.dataDir, '--limit', '200', '--format', 'json'], { cwd: context.root, env: layout.env })) as RunRecord[];
  const centsByDt = (rows: { dt: string; cents: number }[]) => Object.fromEntries(rows.map((d) => [d.dt, d.cents]));
  const runs = await runsOf(small);
  const netByDay = centsByDt(await sql<{ dt: string; cents: number }>(small, `SELECT dt::VARCHAR AS dt, (sum(net_sales) * 100)::DOUBLE AS cents FROM daily_sales_by_store GROUP BY 1 ORDER BY 1`));
  const reconciliation = reconcile(month.manifest, runs, netByDay);
  const sparkAgreement = agreement(spark!, month.manifest, reconciliation, netByDay, (target) =>
    Number(runs.find((r) => r.target === target && r.status === 'success')?.written ?? Number.NaN),
  );
  // The one-file-a-day project stops at the load: its net sales are sales_enriched's, from the lines.
  const layouts =
    oneFileADay &&
    oneADay &&
    compareLayouts(
      oneFileADay,
      reconcile(
        month.manifest,
        await runsOf(oneADay),
        centsByDt(await sql<{ dt: string; cents: number }>(oneADay, `SELECT dt::VARCHAR AS dt, (sum(CAST(quantity * unit_price - discount AS DECIMAL(14, 2))) * 100)::DOUBLE AS cents FROM sales_lines GROUP BY 1 ORDER BY 1`)),
      ),
      results,
    );
  const hot = await sql<{ store_id: number; share: number }>(small, `SELECT store_id, share::DOUBLE AS share FROM store_skew WHERE is_hot ORDER BY rank`);
  const evaluation = await sql<{ metric: string; item_item: number; popularity: number }>(
    small,
    `SELECT metric, max(value::DOUBLE) FILTER (WHERE model = 'item_item') AS item_item, max(value::DOUBLE) FILTER (WHERE model = 'popularity') AS popularity FROM rec_evaluation GROUP BY 1 ORDER BY 1`,
  );
  context.log(`reconciliation: ${JSON.stringify(reconciliation)}`);
  if (layouts) context.log(`reconciliation, one file a day: ${JSON.stringify(layouts.reconciliation)}`);
  context.log(`spark: ${fmtInt(spark!.loaded)} loaded, ${fmtInt(spark!.rejected)} rejected; ${sparkAgreement.agrees ? 'agrees with the manifest and Tributary' : `DISAGREES: ${sparkAgreement.differences.join('; ')}`}`);
  context.log(`recommender: ${evaluation.map((e) => `${e.metric} ${e.item_item.toFixed(4)} vs ${e.popularity.toFixed(4)}`).join('; ')}`);

  const events = streamEvents();
  const stream = await skewedStreamRuns(context.dataDir, events, context.log);
  rmSync(work, { recursive: true, force: true });

  const machine = machineInfo();
  const { manifest: _manifest, ...monthRecord } = month;
  const report: Report = {
    machine,
    size: { ...size, seed: FULL.seed, start: FULL.start },
    month: monthRecord,
    steps: results,
    reconciliation,
    spark: { pyspark, driverMemory: SPARK_DRIVER_MEMORY, result: spark!, agreement: sparkAgreement },
    oneFileADay: layouts,
    hotStores: hot, evaluation, stream: { events, partitions: PARTITIONS, runs: stream.runs } };
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

interface SparkAgreement {
  netSalesPerDayEqualManifest: boolean;
  netSalesPerDayEqualTributary: boolean;
  /** Every difference from the manifest or from Tributary's load, in words; none when they agree. */
  differences: string[];
  agrees: boolean;
}

/** The Spark peer's load against the generator's manifest and Tributary's: lines, rejects, net sales per day, reference rows. */
function agreement(
  spark: SparkResult,
  manifest: DriftManifest,
  tributary: { loaded: number; quarantined: number },
  tributaryNet: Record<string, number>,
  tributaryWritten: (model: string) => number,
): SparkAgreement {
  const differences: string[] = [];
  if (spark.read !== manifest.totals.rows) differences.push(`read ${fmtInt(spark.read)} lines, the manifest has ${fmtInt(manifest.totals.rows)}`);
  if (spark.loaded !== tributary.loaded) differences.push(`loaded ${fmtInt(spark.loaded)} lines, Tributary ${fmtInt(tributary.loaded)}`);
  if (spark.rejected !== tributary.quarantined) differences.push(`rejected ${fmtInt(spark.rejected)} lines, Tributary quarantined ${fmtInt(tributary.quarantined)}`);
  const netDiffers = (other: Record<string, number>) =>
    [...new Set([...Object.keys(other), ...Object.keys(spark.netSalesCentsByDt)])].sort().filter((dt) => spark.netSalesCentsByDt[dt] !== other[dt]);
  const fromManifest = netDiffers(manifest.totals.netSalesCentsByDt);
  const fromTributary = netDiffers(tributaryNet);
  if (fromManifest.length) differences.push(`net sales differ from the manifest's on ${fromManifest.join(', ')}`);
  if (fromTributary.length) differences.push(`net sales differ from Tributary's on ${fromTributary.join(', ')}`);
  for (const model of REFERENCE_MODELS) {
    if (spark.reference[model] !== tributaryWritten(model)) differences.push(`${model}: ${spark.reference[model]} rows, Tributary ${tributaryWritten(model)}`);
  }
  return { netSalesPerDayEqualManifest: fromManifest.length === 0, netSalesPerDayEqualTributary: fromTributary.length === 0, differences, agrees: differences.length === 0 };
}

/** Many small files against one file a day: the crawl and the load of each, wall time small ÷ one a day. */
interface OneFileADayComparison {
  layout: OneFileADay;
  reconciliation: Reconciliation;
  /** The steps of each layout, by name in `steps`. */
  steps: { crawl: { small: string; oneADay: string }; load: { small: string; oneADay: string } };
  smallOverOneADay: { files: number; crawl: number; load: number };
}

function compareLayouts(layout: OneFileADay, reconciliation: Reconciliation, results: StepResult[]): OneFileADayComparison {
  const steps = {
    crawl: { small: CRAWL_STEP, oneADay: `${CRAWL_STEP}${ONE_FILE_A_DAY}` },
    load: { small: LOAD_STEP, oneADay: `${LOAD_STEP}${ONE_FILE_A_DAY}` },
  };
  const wall = (step: string) => results.find((r) => r.step === step)!.wallSeconds;
  return {
    layout,
    reconciliation,
    steps,
    smallOverOneADay: {
      files: (layout.joined + layout.copied) / layout.files,
      crawl: wall(steps.crawl.small) / wall(steps.crawl.oneADay),
      load: wall(steps.load.small) / wall(steps.load.oneADay),
    },
  };
}

interface Report {
  machine: ReturnType<typeof machineInfo>;
  size: MonthSize & { seed: number; start: string };
  month: Omit<Month, 'manifest'>;
  steps: StepResult[];
  reconciliation: Reconciliation;
  spark: { pyspark: string; driverMemory: string; result: SparkResult; agreement: SparkAgreement };
  /** Absent when BENCH_RETAIL_ONE_FILE_A_DAY=0. */
  oneFileADay?: OneFileADayComparison;
  hotStores: { store_id: number; share: number }[];
  evaluation: { metric: string; item_item: number; popularity: number }[];
  stream: { events: number; partitions: number; runs: RunResult[] };
}

/** Every line of a load accounted for, in words, with the manifest's figures. */
function accounted(rec: Reconciliation): string {
  return `${fmtInt(rec.loaded)} loaded + ${fmtInt(rec.quarantined)} quarantined of ${fmtInt(rec.lines)} lines (manifest: ${rec.incompleteInManifest} incomplete): ${rec.everyLineAccounted ? 'every line accounted for' : '**MISMATCH**'}; net sales per day ${rec.netSalesPerDayEqual ? 'equal the manifest’s' : '**differ from the manifest’s**'}`;
}

function oneFileADaySection(report: Report): string[] {
  const comparison = report.oneFileADay;
  const title = '## Many small files or one file a day';
  if (!comparison) return [title, '', 'Not measured (BENCH_RETAIL_ONE_FILE_A_DAY=0).', ''];
  const { layout, steps, smallOverOneADay: ratio } = comparison;
  const step = (name: string) => report.steps.find((r) => r.step === name)!;
  const row = (name: string, files: string, crawl: StepResult, load: StepResult) =>
    `| ${name} | ${files} | ${formatSeconds(crawl.wallSeconds)} | ${fmtInt(crawl.rowsPerSecond)} | ${formatSeconds(load.wallSeconds)} | ${fmtInt(load.rowsPerSecond)} |`;
  const times = (r: number) => `${r.toFixed(2)}×`;
  const costs = (r: number) => `${Math.abs((r - 1) * 100).toFixed(0)} % ${r >= 1 ? 'more' : 'less'}`;
  return [
    title,
    '',
    `The same sales lines laid out as one file a day (\`bench/data/${basename(layout.dir)}\`, made by the bench, untimed): each day’s drop files headed as the main layout joined into \`drops/dt=…/store_all.csv\` under one header line (${fmtInt(layout.joined)} files), the ${layout.copied} files the manifest names for a drift case (or headed otherwise) copied beside it unchanged, so the drift mapping and the quarantine meet the same files; the reference files linked. The same two commands with \`RETAIL_DATA\` pointed at it, in a project data folder of their own, right after the month’s own crawl and load; lines/s is the month’s ${fmtInt(report.month.lines)} sales lines over wall time.`,
    '',
    '| layout | files | crawl wall (s) | crawl lines/s | ETL wall (s) | ETL lines/s |',
    '|---|---:|---:|---:|---:|---:|',
    row('many small files (a store’s drop a day)', fmtInt(layout.joined + layout.copied), step(steps.crawl.small), step(steps.load.small)),
    row('one file a day (and the drifted files)', fmtInt(layout.files), step(steps.crawl.oneADay), step(steps.load.oneADay)),
    `| small ÷ one a day | ${fmtInt(ratio.files)}× | ${times(ratio.crawl)} | | ${times(ratio.load)} | |`,
    '',
    `Many small files take ${times(ratio.crawl)} the wall time of one file a day to crawl (${costs(ratio.crawl)}) and ${times(ratio.load)} to load (${costs(ratio.load)}). Reconciliation of the one-file-a-day load with the generator's manifest: ${accounted(comparison.reconciliation)} (net sales from its sales_lines, as sales_enriched computes them).`,
    '',
  ];
}

function markdown(report: Report, chart: string): string {
  const { machine, size, month, steps, reconciliation: rec } = report;
  const slowest = (r: StepResult) =>
    Object.entries(r.parts ?? Object.fromEntries(Object.entries(r.models ?? {}).map(([model, t]) => [model, t.seconds])))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([part, seconds]) => `${part} ${seconds.toFixed(1)} s`)
      .join(', ');
  const { result: spark, agreement: sa } = report.spark;
  return [
    '# Retail: a month of skewed store drops, the sales models, the recommender and the skewed stream',
    '',
    `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Commit ${machine.commit}, run at ${new Date().toISOString()}.`,
    `Data: the retail generator, ${size.days} days from ${size.start} × ${fmtInt(size.linesPerDay)} sales lines a day (seed ${size.seed}): ${fmtInt(month.lines)} lines in ${fmtInt(month.files)} files (${(month.bytes / 1e9).toFixed(2)} GB), ${month.incomplete} incomplete, ${fmtInt(month.behaviourEvents)} behaviour events. Hot stores (≥ 5 % of lines): ${report.hotStores.map((h) => `${h.store_id} (${(h.share * 100).toFixed(1)} %)`).join(', ')}.`,
    '',
    '| step | wall (s) | peak RSS (MB) | peak private (MB) | rows/s | load avg before | slowest models (Spark: parts) |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...steps.map(
      (r) => `| ${r.step} | ${formatSeconds(r.wallSeconds)} | ${(r.peakRssBytes / MB).toFixed(0)} | ${(r.peakAnonBytes / MB).toFixed(0)} | ${fmtInt(r.rowsPerSecond)} ${r.unit}/s | ${r.loadAverageBefore} | ${slowest(r) || '—'} |`,
    ),
    '',
    `Reconciliation with the generator's manifest: ${accounted(rec)}.`,
    '',
    `PySpark peer (PySpark ${report.spark.pyspark}, \`local[2]\`, ${report.spark.driverMemory} driver heap, Java 17; bench/peers/retail_spark.py): the same load as the ETL step, told the example’s declared columns, required columns and drift mapping (the spec the suite writes from tributary.config.ts). It reads each drop’s header line in the driver and groups the ${fmtInt(spark.files)} files by layout (${spark.layouts.length} layouts${Object.keys(spark.unmappable).length ? `, ${Object.keys(spark.unmappable).length} unmappable` : ''}: ${spark.layouts.map((l) => `${fmtInt(l.files)} × ${l.delimiter === ',' ? '' : `'${l.delimiter}' `}[${l.header.join(', ')}]`).join('; ')}); Spark’s CSV reader reads each layout as text (the main one as the drops folder, files filtered by name; 64 KB as the cost of opening a file, Spark’s small-files setting), each column is typed exactly or its line rejected, as are lines too short or too long and empty required values; shuffled by day and written as Parquet partitioned by dt (a file a day), snappy; lines read and rejected counted in the same pass; net sales per day from the Parquet written. Its wall time includes starting the JVM; the rejected lines are counted, not kept (Tributary quarantines each with file, line and reason).`,
    '',
    `Spark: ${fmtInt(spark.read)} lines read, ${fmtInt(spark.loaded)} loaded, ${fmtInt(spark.rejected)} rejected; net sales per day ${sa.netSalesPerDayEqualManifest ? 'equal' : '**differ from**'} the manifest’s and ${sa.netSalesPerDayEqualTributary ? 'equal' : '**differ from**'} Tributary’s; ${sa.agrees ? 'agrees with Tributary (lines loaded and quarantined, reference rows) and the manifest' : `**differs**: ${sa.differences.join('; ')}`}.`,
    '',
    ...oneFileADaySection(report),
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
