/**
 * Batch suite: the full-size November clickstream file through the clickstream rules into a
 * date-partitioned Parquet lake and the four dashboard tables, by Tributary and by the same job
 * written directly against bare DuckDB, nodejs-polars, Python polars, pandas with pyarrow and
 * PySpark in local mode (the Python peers from PyPI, in a venv the bench installs). Each peer runs alone, as its
 * own child process, one after another; the bench measures wall time and the peak memory of
 * the child's process tree, then checks that every peer computed the same dashboard numbers.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NOVEMBER_2019 } from '../../examples/ecommerce-clickstream/generators/ecommerce.js';
import { barChartSvg } from '../lib/chart.js';
import { benchRows, ensureEcommerceFile, type Dataset } from '../lib/dataset.js';
import { machineInfo, pythonPeers } from '../lib/machine.js';
import { BENCH_PYTHON, installPythonPeers } from '../lib/python-peers.js';
import { runCapture, spawnMeasured, warmPageCache, type Measurement } from '../lib/measure.js';
import { modelTimings, phasesSentence } from '../lib/run-records.js';
import { MB, formatSeconds, type Suite, type SuiteContext } from '../lib/suite.js';
import type { RunPhase } from '../../src/catalog/index.js';
import type { ClickstreamSpec, PeerKpis, SourceRule } from '../peers/spec.js';

const PROJECT = 'examples/ecommerce-clickstream';

interface PeerRun {
  /** Command and arguments, run from the repository root. */
  command: string;
  args: string[];
}

interface Peer {
  name: string;
  /** Shown under the table: what the peer does differently, if anything. */
  note: string;
  /** Untimed preparation (e.g. building Tributary). */
  prepare?: (context: SuiteContext) => Promise<void>;
  command: (input: Dataset, out: string, spec: string) => PeerRun;
  /** Untimed: the peer's dashboard numbers after its run. */
  kpis: (out: string, context: SuiteContext) => Promise<PeerKpis>;
}

const readKpisFile = async (out: string): Promise<PeerKpis> => JSON.parse(readFileSync(join(out, 'kpis.json'), 'utf8')) as PeerKpis;

const tributaryArgs = (out: string) => ['--project', PROJECT, '--data-dir', out];

export const peers: Peer[] = [
  {
    name: 'tributary',
    note: '`tributary run` on the example project (rules, quarantine accounting, catalog, checks included).',
    prepare: async (context) => {
      context.log('  building Tributary (npm run build)');
      await runCapture('npm', ['run', 'build'], { cwd: context.root });
    },
    command: (input, out) => ({
      command: process.execPath,
      args: ['bin/tributary.js', 'run', ...tributaryArgs(out), '--source', `clickstream=${input.file}`, '--quiet'],
    }),
    kpis: async (out, context) => {
      const sql = async (query: string) => {
        const text = await runCapture(process.execPath, ['bin/tributary.js', 'sql', ...tributaryArgs(out), '-f', 'json', query], { cwd: context.root });
        return (JSON.parse(text) as Record<string, unknown>[])[0] ?? {};
      };
      const k = await sql('SELECT * FROM kpis');
      const c = await sql(
        'SELECT (SELECT count(*) FROM operations_per_minute) AS m, (SELECT count(*) FROM by_department_brand) AS d, (SELECT count(*) FROM by_product) AS p',
      );
      return {
        operations: Number(k.operations),
        revenue: Number(k.revenue),
        purchases: Number(k.purchases),
        views: Number(k.views),
        carts: Number(k.carts),
        minuteRows: Number(c.m),
        departmentBrandRows: Number(c.d),
        productRows: Number(c.p),
      };
    },
  },
  {
    name: 'duckdb',
    note: 'bare @duckdb/node-api running the example’s own SQL files (macros, events → `COPY … PARTITION_BY (dt)`, four tables) over the rows that pass the source’s declared rules.',
    command: (input, out, spec) => ({
      command: process.execPath,
      args: ['--import', 'tsx', 'bench/peers/duckdb.ts', '--input', input.file, '--out', out, '--spec', spec],
    }),
    kpis: readKpisFile,
  },
  {
    name: 'polars',
    note: 'nodejs-polars lazy queries on the streaming engine, keeping the rows that pass the source’s declared rules; it memory-maps the input CSV, so its RSS includes the file’s cached pages; events staged to one Parquet file then split per day (no partitioned sink in the Node binding); price as Float64.',
    command: (input, out, spec) => ({
      command: process.execPath,
      args: ['--import', 'tsx', 'bench/peers/polars.ts', '--input', input.file, '--out', out, '--spec', spec],
    }),
    kpis: readKpisFile,
  },
  {
    name: 'polars-py',
    note: 'Python polars, lazy on the streaming engine, keeping the rows that pass the source’s declared rules; events through polars’ partitioned Parquet sink in one pass; price as the declared DECIMAL.',
    prepare: installPythonPeers,
    command: (input, out, spec) => ({ command: BENCH_PYTHON, args: ['bench/peers/polars_job.py', '--input', input.file, '--out', out, '--spec', spec] }),
    kpis: readKpisFile,
  },
  {
    name: 'pandas',
    note: 'pandas, chunked (2 M rows), keeping the rows that pass the source’s declared rules; events appended per chunk to one Parquet file per day through pyarrow; price as float64 (pandas has no DECIMAL).',
    prepare: installPythonPeers,
    command: (input, out, spec) => ({ command: BENCH_PYTHON, args: ['bench/peers/pandas_job.py', '--input', input.file, '--out', out, '--spec', spec] }),
    kpis: readKpisFile,
  },
  {
    name: 'spark',
    note: 'PySpark in local mode (`local[2]`, 2 GB driver heap, Java 17), the seeds’ engine: typed CSV scan, the rules, `partitionBy(dt)` Parquet lake, four tables from the lake; price as the declared DECIMAL. Its wall time includes starting the JVM (about 10 s).',
    prepare: installPythonPeers,
    command: (input, out, spec) => ({ command: BENCH_PYTHON, args: ['bench/peers/spark_job.py', '--input', input.file, '--out', out, '--spec', spec, '--driver-memory', '2g'] }),
    kpis: readKpisFile,
  },
];

interface PeerResult {
  peer: string;
  note: string;
  ok: boolean;
  error?: string;
  wallSeconds?: number;
  peakRssBytes?: number;
  peakAnonBytes?: number;
  peakTreeRssBytes?: number;
  peakSingleHwmBytes?: number;
  rowsPerSecond?: number;
  mbPerSecond?: number;
  kpis?: PeerKpis;
  agrees?: boolean;
  disagreements?: string[];
  /** 1-minute load average just before the peer started: other work on the machine. */
  loadBefore?: number;
  /** Seconds per step, as the peer's own log says (Tributary's models, bare DuckDB's statements). */
  steps?: Record<string, number>;
  /** Tributary's loads, by model: their seconds and phases, as their run records say. */
  loads?: Record<string, { seconds: number; timing: RunPhase[] }>;
  command?: string;
  log?: string;
}

/** The example's source declaration, handed to peers as plain JSON. */
export async function writeSpec(context: SuiteContext, file: string): Promise<ClickstreamSpec> {
  const config = (await import(pathToFileURL(join(context.root, PROJECT, 'tributary.config.ts')).href)) as {
    default: {
      engine?: { memoryLimit?: string };
      lakeCompression?: string;
      lakeParquetVersion?: string;
      macros?: string;
      sources: Record<string, { columns?: Record<string, string>; csv?: { timestampFormat?: string }; rules?: SourceRule[] }>;
    };
  };
  const source = config.default.sources.clickstream;
  if (!source?.columns) throw new Error(`${PROJECT}: source 'clickstream' declares no columns`);
  const spec: ClickstreamSpec = {
    columns: source.columns,
    timestampFormat: source.csv?.timestampFormat ?? '%Y-%m-%d %H:%M:%S',
    memoryLimit: config.default.engine?.memoryLimit ?? '1500MB',
    compression: config.default.lakeCompression ?? 'snappy',
    parquetVersion: config.default.lakeParquetVersion ?? 'v1',
    macrosFile: join(context.root, PROJECT, config.default.macros ?? 'macros.sql'),
    modelsDir: join(context.root, PROJECT, 'models'),
    rules: source.rules ?? [],
  };
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  return spec;
}

const KPI_FIELDS: (keyof PeerKpis)[] = ['operations', 'revenue', 'purchases', 'views', 'carts', 'minuteRows', 'departmentBrandRows', 'productRows'];

function compare(reference: PeerKpis, other: PeerKpis): string[] {
  const out: string[] = [];
  for (const field of KPI_FIELDS) {
    const a = field === 'revenue' ? Math.round(reference[field] * 100) / 100 : reference[field];
    const b = field === 'revenue' ? Math.round(other[field] * 100) / 100 : other[field];
    if (a !== b) out.push(`${field}: ${b} (reference ${a})`);
  }
  return out;
}

function selectedPeers(): Peer[] {
  const wanted = process.env.BENCH_PEERS?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!wanted?.length) return peers;
  const unknown = wanted.filter((w) => !peers.some((p) => p.name === w));
  if (unknown.length) throw new Error(`BENCH_PEERS: unknown peer(s) ${unknown.join(', ')}; known: ${peers.map((p) => p.name).join(', ')}`);
  return peers.filter((p) => wanted.includes(p.name));
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

async function run(context: SuiteContext): Promise<void> {
  const rows = benchRows();
  const full = rows === NOVEMBER_2019.rows;
  const samplePath = join(context.root, 'examples', 'ecommerce-clickstream', 'data', '2019-Nov-sample.csv');
  const dataset = await ensureEcommerceFile({ dataDir: context.dataDir, rows, samplePath, log: context.log });
  const work = join(context.dataDir, 'work', 'batch');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const specFile = join(work, 'spec.json');
  const spec = await writeSpec(context, specFile);
  context.log(`page cache: reading the input once (${(dataset.bytes / 1e9).toFixed(2)} GB)`);
  const warm = await warmPageCache([dataset.file]);
  context.log(`page cache: warm in ${warm.toFixed(1)} s`);

  const results: PeerResult[] = [];
  const list = selectedPeers();
  for (const [index, peer] of list.entries()) {
    const out = join(work, peer.name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const result: PeerResult = { peer: peer.name, note: peer.note, ok: false };
    results.push(result);
    try {
      await peer.prepare?.(context);
      const { command, args } = peer.command(dataset, out, specFile);
      result.loadBefore = Number(loadavg()[0]!.toFixed(2));
      context.log(`peer ${index + 1}/${list.length} ${peer.name}: start (load average ${result.loadBefore})`);
      const m: Measurement = await spawnMeasured(command, args, {
        cwd: context.root,
        logFile: join(work, `${peer.name}.log`),
        timeoutSeconds: 3 * 3600,
        heartbeatMs: 15_000,
        onHeartbeat: (seconds, rss) => context.log(`  ${peer.name}: ${seconds.toFixed(0)} s, ${(rss / MB).toFixed(0)} MB resident`),
      });
      result.command = m.command.replaceAll(context.root + '/', '');
      result.log = relative(context.root, m.logFile);
      result.wallSeconds = m.wallSeconds;
      result.peakRssBytes = m.peakRssBytes;
      result.peakAnonBytes = m.peakAnonBytes;
      result.peakTreeRssBytes = m.peakTreeRssBytes;
      result.peakSingleHwmBytes = m.peakSingleHwmBytes;
      result.rowsPerSecond = dataset.rows / m.wallSeconds;
      result.mbPerSecond = dataset.bytes / MB / m.wallSeconds;
      if (m.exitCode !== 0) {
        const tail = readFileSync(m.logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
        throw new Error(`exited with ${m.exitCode ?? m.signal}; last lines of ${result.log}:\n${tail}`);
      }
      result.kpis = await peer.kpis(out, context);
      result.steps = stepsOf(readFileSync(m.logFile, 'utf8'));
      if (peer.name === 'tributary') {
        const timings = await modelTimings(context, ['bin/tributary.js'], PROJECT, out);
        result.loads = Object.fromEntries([...timings].flatMap(([model, t]) => (t.timing ? [[model, { seconds: t.seconds, timing: t.timing }]] : [])));
      }
      result.ok = true;
      context.log(
        `peer ${index + 1}/${list.length} ${peer.name}: done in ${formatSeconds(m.wallSeconds)} s, peak RSS ${(m.peakRssBytes / MB).toFixed(0)} MB ` +
          `(private ${(m.peakAnonBytes / MB).toFixed(0)} MB), ` +
          `${fmtInt(result.rowsPerSecond)} rows/s, ${result.mbPerSecond.toFixed(0)} MB/s`,
      );
    } catch (error) {
      result.error = (error as Error).message;
      context.log(`peer ${index + 1}/${list.length} ${peer.name}: FAILED: ${result.error}`);
    } finally {
      if (!process.env.BENCH_KEEP) rmSync(out, { recursive: true, force: true });
    }
  }

  // Do the peers agree? Bare DuckDB is the reference when it ran; otherwise the first success.
  const reference = results.find((r) => r.ok && r.peer === 'duckdb') ?? results.find((r) => r.ok);
  if (reference?.kpis) {
    for (const r of results) {
      if (!r.ok || !r.kpis) continue;
      r.disagreements = compare(reference.kpis, r.kpis);
      r.agrees = r.disagreements.length === 0;
      if (!r.agrees) context.log(`DISAGREEMENT ${r.peer} vs ${reference.peer}: ${r.disagreements.join('; ')}`);
    }
    if (results.every((r) => !r.ok || r.agrees)) context.log(`agreement: every peer that ran computed the same KPIs and table sizes as ${reference.peer}`);
  }

  const python = await runCapture(join(context.root, BENCH_PYTHON), [
    '-c',
    'import sys, importlib.metadata as m; print(sys.version.split()[0], *(f"{p} {m.version(p)}" for p in ("pandas", "pyarrow", "polars", "pyspark")), sep=", ")',
  ]).catch(() => 'not installed');
  const [pythonVersion, ...pythonPackages] = python.trim().split(', ');
  const machine = machineInfo({ python: pythonVersion, pythonPackages: pythonPackages.join(', ') });
  const suffix = full ? '' : `-${rows}`;
  const base = join(context.resultsDir, `batch${suffix}`);
  const report = {
    suite: 'batch',
    rows: dataset.rows,
    inputBytes: dataset.bytes,
    input: relative(context.root, dataset.file),
    generator: { seconds: dataset.generatedSeconds, reused: dataset.generatedSeconds === null },
    memoryLimit: spec.memoryLimit,
    memoryMethod:
      'peakRssBytes: peak over 100 ms samples of the sum of VmRSS over the peer process and its descendants (/proc), or the largest per-process VmHWM if higher; ' +
      'peakAnonBytes: the same for RssAnon (private memory, excluding memory-mapped files such as an mmapped input CSV)',
    reference: reference?.peer ?? null,
    machine,
    peers: results,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown(report, results, dataset));
  const ran = results.filter((r) => r.wallSeconds !== undefined);
  writeFileSync(
    `${base}.svg`,
    barChartSvg({
      title: `Batch: ${fmtInt(dataset.rows)} clickstream rows (${(dataset.bytes / 1e9).toFixed(2)} GB CSV) → Parquet lake + dashboard tables`,
      subtitle: `${machine.nproc} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM · lower is better`,
      categories: ran.map((r) => (r.ok ? r.peer : `${r.peer} (failed)`)),
      series: [
        { name: 'wall time', unit: 's', values: ran.map((r) => (r.wallSeconds === undefined ? null : Number(r.wallSeconds.toFixed(1)))) },
        { name: 'peak RSS', unit: 'MB', values: ran.map((r) => (r.peakRssBytes === undefined ? null : Math.round(r.peakRssBytes / MB))) },
        { name: 'peak private (anon)', unit: 'MB', values: ran.map((r) => (r.peakAnonBytes === undefined ? null : Math.round(r.peakAnonBytes / MB))) },
      ],
    }),
  );
  context.log(`results: ${relative(context.root, base)}.{md,svg,json}`);
}

function markdown(report: { machine: ReturnType<typeof machineInfo>; memoryLimit: string; reference: string | null }, results: PeerResult[], dataset: Dataset): string {
  const m = report.machine;
  const lines = [
    `# Batch benchmark: clickstream file → Parquet lake + dashboard tables`,
    '',
    `Input: ${fmtInt(dataset.rows)} rows, ${(dataset.bytes / 1e9).toFixed(2)} GB of CSV generated by \`generateEcommerce\` (seed ${dataset.seed})` +
      (dataset.generatedSeconds !== null ? `, generated in ${dataset.generatedSeconds.toFixed(1)} s during this run.` : ', reused from an earlier run.'),
    `Job: the clickstream rules (events with department/product/revenue, partitioned by date as Parquet), the \`operations\` view and four dashboard tables.`,
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.os}; Node ${m.node}, @duckdb/node-api ${m.duckdb}, nodejs-polars ${m.nodejsPolars}, ${pythonPeers(m)} (.ci/bench-tools.sh). Commit measured: ${m.commit}. Run at ${m.date}.`,
    `Load average (1 min) before each peer: ${results.map((r) => `${r.peer} ${r.loadBefore ?? '–'}`).join(', ')} (other work on the machine shows here).`,
    `Each peer ran alone as a child process, one after another, with the input already in the page cache. Peak MB: the highest sum of resident memory (VmRSS) over the peer's process tree, sampled every 100 ms from /proc (or a single process's VmHWM if higher). Private MB: the same for RssAnon, i.e. without memory-mapped files: a peer that maps its input CSV (polars) has the file's cached pages counted in its RSS, which the kernel can reclaim. MB = 10^6 bytes; MB/s = input CSV bytes / wall time. DuckDB memory limit: ${report.memoryLimit}.`,
    '',
    '| peer | wall s | rows/s | MB/s | peak MB | private MB | agrees? |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    const agrees = !r.ok ? `failed` : r.agrees === undefined ? 'n/a' : r.agrees ? (r.peer === report.reference ? 'yes (reference)' : 'yes') : `**no**`;
    lines.push(
      `| ${r.peer} | ${r.wallSeconds === undefined ? '–' : formatSeconds(r.wallSeconds)} | ${r.rowsPerSecond === undefined ? '–' : fmtInt(r.rowsPerSecond)} | ` +
        `${r.mbPerSecond === undefined ? '–' : r.mbPerSecond.toFixed(0)} | ${r.peakRssBytes === undefined ? '–' : (r.peakRssBytes / MB).toFixed(0)} | ` +
        `${r.peakAnonBytes === undefined ? '–' : (r.peakAnonBytes / MB).toFixed(0)} | ${agrees} |`,
    );
  }
  lines.push(...profile(results), ...goals(results));
  lines.push('', 'Peers:', '');
  for (const r of results) lines.push(`- **${r.peer}**: ${r.note}${r.command ? ` Command: \`${r.command}\`.` : ''}`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    lines.push('', 'Failures:', '');
    for (const r of failed) lines.push(`- **${r.peer}**: ${(r.error ?? '').split('\n')[0]}`);
  }
  const disagreeing = results.filter((r) => r.ok && r.agrees === false);
  lines.push('', `Agreement (KPIs: operations, revenue rounded to cents, purchases, views, carts; plus the row counts of the other three tables), reference ${report.reference ?? 'none'}:`, '');
  if (!disagreeing.length) lines.push('every peer that completed computed the same numbers.');
  for (const r of disagreeing) lines.push(`- **${r.peer}**: ${r.disagreements?.join('; ')}`);
  const ref = results.find((r) => r.peer === report.reference)?.kpis;
  if (ref) {
    lines.push('', `Reference numbers: ${KPI_FIELDS.map((f) => `${f} ${f === 'revenue' ? ref[f].toFixed(2) : fmtInt(ref[f])}`).join(', ')}.`);
  }
  lines.push('', '![batch chart](./' + (dataset.rows === NOVEMBER_2019.rows ? 'batch' : `batch-${dataset.rows}`) + '.svg)', '');
  return lines.join('\n');
}

/**
 * A peer's steps from its log: Tributary prints `✔ MODEL (kind) in 35.9s: …` per model, bare
 * DuckDB `[duckdb] STEP: 32.9 s` per statement.
 */
function stepsOf(log: string): Record<string, number> {
  const steps: Record<string, number> = {};
  for (const m of log.matchAll(/^✔ (\w+) \([^)]*\) in ([\d.]+)s/gm)) steps[m[1]!] = Number(m[2]);
  for (const m of log.matchAll(/^\[duckdb\] (.+?): ([\d.]+) s$/gm)) steps[m[1]!.replace(' → lake', '').replace(' view', '')] = Number(m[2]);
  return steps;
}

/** Where Tributary's and bare DuckDB's time went, step by step, and the rest of each wall time. */
function profile(results: PeerResult[]): string[] {
  const shown = results.filter((r) => (r.peer === 'tributary' || r.peer === 'duckdb') && r.steps && r.wallSeconds !== undefined);
  if (shown.length < 2) return [];
  const names = [...new Set(shown.flatMap((r) => Object.keys(r.steps!)))].filter((n) => shown.every((r) => r.steps![n] !== undefined));
  const rest = (r: PeerResult) => r.wallSeconds! - names.reduce((sum, n) => sum + r.steps![n]!, 0);
  return [
    '',
    'Where the time goes, Tributary against bare DuckDB (seconds, each from its own log; the rest is start-up, the catalog, the checks):',
    '',
    `| step | ${shown.map((r) => r.peer).join(' | ')} |`,
    `|---|${shown.map(() => '---:').join('|')}|`,
    ...names.map((n) => `| ${n} | ${shown.map((r) => r.steps![n]!.toFixed(1)).join(' | ')} |`),
    `| the rest | ${shown.map((r) => rest(r).toFixed(1)).join(' | ')} |`,
    ...Object.entries(shown.find((r) => r.peer === 'tributary')?.loads ?? {}).flatMap(([model, load]) => [
      '',
      `Inside Tributary's load of \`${model}\` (its run record's phases): ${phasesSentence(load.timing, load.seconds)}; the exact typing, rules and verdicts are in its read and write, the independent count of the input's lines is its line count, and finding the failing rows' lines is its locate.`,
    ]),
  ];
}

/** The product's bars for this job (issue 23), against this run. */
function goals(results: PeerResult[]): string[] {
  const tributary = results.find((r) => r.peer === 'tributary' && r.ok);
  const duckdb = results.find((r) => r.peer === 'duckdb' && r.ok);
  if (!tributary?.wallSeconds || !duckdb?.wallSeconds) return [];
  const ratio = tributary.wallSeconds / duckdb.wallSeconds;
  const peakGB = (tributary.peakRssBytes ?? 0) / 1e9;
  const mark = (met: boolean) => (met ? 'met' : 'short');
  return [
    '',
    `Goals: at most 0.9× bare DuckDB: ${ratio.toFixed(2)}× (${mark(ratio <= 0.9)}); at most 40 s on a quiet machine: ${tributary.wallSeconds.toFixed(1)} s at load ${tributary.loadBefore ?? '–'} (${mark(tributary.wallSeconds <= 40)}); at most 1 GB: ${peakGB.toFixed(2)} GB peak (${mark(peakGB <= 1)}).`,
  ];
}

export const batchSuite: Suite = {
  name: 'batch',
  description: 'full-size clickstream CSV → Parquet lake + dashboard tables: tributary vs bare duckdb, nodejs-polars, Python polars, pandas, PySpark',
  run,
};
