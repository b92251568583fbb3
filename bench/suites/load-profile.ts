/**
 * Load profile (issue 23): where a load's time goes, stage by stage, for the two loads whose
 * figures fall short of their goals (the clickstream CSV and the Segment JSON lines), beside the
 * read their bare-DuckDB peers run.
 *
 * One process, the engine Tributary opens, each example's source opened through Tributary's own
 * source connector. A stage is a query over the source's relation that asks for more of its
 * columns than the stage before: DuckDB computes only the expressions a result needs, so the
 * difference between two stages is the cost of the work the second adds (the lines, their JSON
 * parse, the exact typing and its reasons). The independent line count is timed apart: in a load
 * it runs in a worker thread, beside a CSV scan and after a JSON-lines scan (whose failing lines it
 * then finds in the same read). CPU seconds (the process's user + system time) are
 * reported beside wall time, since on a shared 2-core machine they move less; each stage runs
 * REPEATS times and the median counts. Samples, since the stages cost per line: a 5,000,000-row
 * clickstream file and two days of Segment drops (BENCH_PROFILE_ROWS, BENCH_PROFILE_SEGMENT_DAYS).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadProject } from '../../src/config/project.js';
import { openSource } from '../../src/connectors/registry.js';
import { countLines } from '../../src/connectors/sources/line-count.js';
import type { SourceScan } from '../../src/connectors/sources/types.js';
import { Engine, quoteIdent } from '../../src/engine/index.js';
import { PARSE_ERROR, ruleChecks, verdictExpression } from '../../src/quality/index.js';
import { clickstreamSourceSql } from '../peers/spec.js';
import { barChartSvg } from '../lib/chart.js';
import { ensureEcommerceFile } from '../lib/dataset.js';
import { machineInfo } from '../lib/machine.js';
import { warmPageCache } from '../lib/measure.js';
import { formatSeconds, positiveIntegerEnv, type Suite, type SuiteContext } from '../lib/suite.js';
import { writeSpec } from './batch.js';
import { dropFiles, ensureDrops, exampleConfig, peerSpec, sourceSql } from './segment.js';

const REPEATS = 5;

interface Stage {
  label: string;
  short: string;
  /**
   * Who runs it: the bare-DuckDB peer's read, a prefix of Tributary's load, or one of the two over
   * the same input already decompressed (what decompression costs each: it is not a load's option).
   */
  side: 'duckdb' | 'tributary' | 'uncompressed';
  wallSeconds: number;
  cpuSeconds: number;
  /** The least and most CPU seconds of its rounds: how much the machine moved. */
  cpuRange: [number, number];
  /** What the stage's query returned (row count first), so a reader can see it read everything. */
  result: string;
}

interface LoadProfile {
  load: string;
  input: string;
  lines: number;
  stages: Stage[];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const cpuSeconds = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1e6;
};

interface StageWork {
  label: string;
  /** Its name on the chart. */
  short: string;
  side: Stage['side'];
  work: () => Promise<string>;
}

/**
 * Runs the stages in turns, REPEATS rounds of all of them, so that a drift in the machine's speed
 * falls on every stage alike; the median wall and CPU seconds of each.
 */
async function timed(stages: readonly StageWork[], log: (line: string) => void): Promise<Stage[]> {
  const walls = stages.map((): number[] => []);
  const cpus = stages.map((): number[] => []);
  const results = stages.map(() => '');
  for (let round = 0; round < REPEATS; round++) {
    for (const [i, stage] of stages.entries()) {
      const cpu = cpuSeconds();
      const started = performance.now();
      results[i] = await stage.work();
      walls[i]!.push((performance.now() - started) / 1000);
      cpus[i]!.push(cpuSeconds() - cpu);
    }
    log(`  round ${round + 1} of ${REPEATS} (load average ${loadavg()[0]!.toFixed(2)}): ${stages.map((s, i) => `${i + 1}: ${cpus[i]!.at(-1)!.toFixed(2)} s CPU`).join(', ')}`);
  }
  return stages.map((s, i) => ({ label: s.label, short: s.short, side: s.side, wallSeconds: median(walls[i]!), cpuSeconds: median(cpus[i]!), cpuRange: [Math.min(...cpus[i]!), Math.max(...cpus[i]!)], result: results[i]! }));
}

/** A query that makes DuckDB produce every named column (a count of each), and its answer as text. */
async function countColumns(engine: Engine, relation: string, columns: readonly string[], extra: readonly string[] = []): Promise<string> {
  const selected = ['count(*) AS n', ...columns.map((c, i) => `count(${quoteIdent(c)}) AS c${i}`), ...extra.map((e, i) => `${e} AS e${i}`)];
  const [row] = await engine.queryJson<Record<string, unknown>>(`SELECT ${selected.join(', ')} FROM ${relation}`);
  return Object.values(row!).map(String).join(' ');
}

const LINE_COUNT = 'Tributary: the independent line count (a worker thread, beside a CSV scan, after a JSON-lines scan)';

async function countedLines(files: readonly string[]): Promise<string> {
  const counted = await countLines(files);
  return `${counted.reduce((n, c) => n + c.lines, 0)} lines, ${counted.reduce((n, c) => n + c.blank, 0)} blank`;
}

/** The source's relation with the rules' verdict, as a load judges each record. */
function judged(scan: SourceScan, rules: Parameters<typeof ruleChecks>[0]): string {
  return `(SELECT *, ${verdictExpression(ruleChecks(rules), scan.hasParseError)} AS __verdict FROM ${scan.relation()})`;
}

async function openScan(context: SuiteContext, example: string, sourceName: string, path: string | string[], scratch: string): Promise<{ engine: Engine; scan: SourceScan; rules: Parameters<typeof ruleChecks>[0] }> {
  const project = await loadProject(join(context.root, example), { dataDir: scratch });
  const config = project.config.sources[sourceName]!;
  const read = { ...config, path };
  const engine = await Engine.open({ memoryLimit: project.config.engine?.memoryLimit, tempDirectory: join(scratch, 'tmp') });
  const scan = await openSource(project.components.sources, read, {
    name: sourceName,
    engine,
    baseDir: project.dir,
    scratchDir: scratch,
    runId: 'profile',
    log: context.log,
  });
  return { engine, scan, rules: config.rules ?? [] };
}

async function profileClickstream(context: SuiteContext, scratch: string): Promise<LoadProfile> {
  const rows = positiveIntegerEnv('BENCH_PROFILE_ROWS', 5_000_000);
  const samplePath = join(context.root, 'examples/ecommerce-clickstream/data/2019-Nov-sample.csv');
  const dataset = await ensureEcommerceFile({ dataDir: context.dataDir, rows, samplePath, log: context.log });
  await warmPageCache([dataset.file]);
  mkdirSync(scratch, { recursive: true });
  const spec = await writeSpec(context, join(scratch, 'spec.json'));
  const { engine, scan, rules } = await openScan(context, 'examples/ecommerce-clickstream', 'clickstream', dataset.file, scratch);
  const columns = scan.columns.map((c) => c.name);
  context.log(`load profile: the clickstream CSV, ${rows.toLocaleString('en-US')} rows`);
  try {
    const stages = await timed(
      [
        {
          label: 'bare DuckDB: read_csv with the declared types, the rules as a filter (the batch peer’s read)',
          short: 'CSV: bare DuckDB',
          side: 'duckdb',
          work: () => countColumns(engine, clickstreamSourceSql(spec, dataset.file), columns),
        },
        { label: 'Tributary: the reader (declared types; the price read wider), rejects stored', short: 'CSV: the reader', side: 'tributary', work: () => countColumns(engine, scan.relation(), columns) },
        {
          label: 'Tributary: + exact typing with reasons, and the rules’ verdict',
          short: 'CSV: + typing, verdict',
          side: 'tributary',
          work: () => countColumns(engine, judged(scan, rules), columns, [`count(${PARSE_ERROR})`, `count_if(__verdict = 'ok')`]),
        },
        { label: LINE_COUNT, short: 'CSV: line count', side: 'tributary', work: () => countedLines([dataset.file]) },
      ],
      context.log,
    );
    return { load: 'clickstream CSV', input: `${relative(context.root, dataset.file)}: ${rows.toLocaleString('en-US')} rows, ${(dataset.bytes / 1e9).toFixed(2)} GB`, lines: rows, stages };
  } finally {
    await scan.close();
    engine.close();
  }
}

async function profileSegment(context: SuiteContext, scratch: string): Promise<LoadProfile> {
  const days = positiveIntegerEnv('BENCH_PROFILE_SEGMENT_DAYS', 2);
  const drops = await ensureDrops(context.dataDir, { days, eventsPerDay: 1_050_000 }, context.log);
  const spec = peerSpec(context.root, await exampleConfig(context.root), drops, 'unused');
  const files = dropFiles(drops.dir).sort();
  await warmPageCache(files);
  mkdirSync(scratch, { recursive: true });
  const { engine, scan, rules } = await openScan(context, 'examples/segment-warehouse', 'segment_events', files, scratch);
  // The same lines decompressed beforehand, untimed, for what decompression costs each read.
  const uncompressedDir = join(scratch, 'uncompressed');
  mkdirSync(uncompressedDir, { recursive: true });
  const uncompressed = files.map((file) => {
    const to = join(uncompressedDir, basename(file).replace(/\.gz$/, ''));
    writeFileSync(to, gunzipSync(readFileSync(file)));
    return to;
  });
  await warmPageCache(uncompressed);
  const plain = await openScan(context, 'examples/segment-warehouse', 'segment_events', uncompressed, join(scratch, 'plain'));
  const columns = scan.columns.map((c) => c.name);
  // Fields whose typing cannot refuse a value: asking for them costs the JSON parse and nothing more.
  const parsedOnly = columns.filter((name) => !/TIMESTAMP|DATE|INT|DECIMAL|DOUBLE|FLOAT|BOOL/i.test(scan.columns.find((c) => c.name === name)!.type));
  context.log(`load profile: the Segment JSON lines, ${days} day(s), ${drops.lines.toLocaleString('en-US')} lines in ${files.length} files`);
  try {
    const stages = await timed(
      [
        {
          label: 'bare DuckDB: read_json with the declared types, ignore_errors, the rules as a filter (the Segment peer’s read)',
          short: 'JSON: bare DuckDB',
          side: 'duckdb',
          work: () => countColumns(engine, sourceSql(spec), columns),
        },
        { label: 'Tributary: gunzip and split lines (read_csv, one VARCHAR a line), rejects stored', short: 'JSON: gunzip, lines', side: 'tributary', work: () => countColumns(engine, scan.relation(), ['__line']) },
        {
          label: `Tributary: + the JSON parse of each line (json_transform; the ${parsedOnly.length} fields that need no typing)`,
          short: 'JSON: + parse',
          side: 'tributary',
          work: () => countColumns(engine, scan.relation(), ['__line', ...parsedOnly]),
        },
        {
          label: 'Tributary: + exact typing with reasons, and the rules’ verdict',
          short: 'JSON: + typing, verdict',
          side: 'tributary',
          work: () => countColumns(engine, judged(scan, rules), ['__line', ...columns], [`count(${PARSE_ERROR})`, `count_if(__verdict = 'ok')`]),
        },
        { label: LINE_COUNT, short: 'JSON: line count', side: 'tributary', work: () => countedLines(files) },
        {
          label: 'bare DuckDB’s read (1) over the same files decompressed beforehand',
          short: 'JSON: bare, plain',
          side: 'uncompressed',
          work: () => countColumns(engine, sourceSql({ ...spec, drops: join(uncompressedDir, '*.json') }), columns),
        },
        { label: 'Tributary’s line split (2) over the same files decompressed beforehand', short: 'JSON: lines, plain', side: 'uncompressed', work: () => countColumns(plain.engine, plain.scan.relation(), ['__line']) },
        { label: 'the line count (5) over the same files decompressed beforehand', short: 'JSON: count, plain', side: 'uncompressed', work: () => countedLines(uncompressed) },
      ],
      context.log,
    );
    return { load: 'Segment JSON lines', input: `${relative(context.root, drops.dir)}: ${drops.lines.toLocaleString('en-US')} lines (${drops.malformed} malformed) in ${files.length} gzipped files, ${(drops.bytes / 1e9).toFixed(2)} GB`, lines: drops.lines, stages };
  } finally {
    await scan.close();
    engine.close();
    await plain.scan.close();
    plain.engine.close();
  }
}

/** What decompression costs each read, from the stages over the input decompressed beforehand: the gzipped input is read twice in a load, by the engine and by the line count. */
function decompression(p: LoadProfile): string[] {
  const decompressed = p.stages.filter((s) => s.side === 'uncompressed');
  if (decompressed.length !== 3) return [];
  const [bare, lines, count] = [p.stages[0]!, p.stages[1]!, p.stages[p.stages.indexOf(decompressed[0]!) - 1]!];
  const [bareAfter, linesAfter, countAfter] = decompressed as [Stage, Stage, Stage];
  const share = (whole: Stage, after: Stage) => `${(whole.cpuSeconds - after.cpuSeconds).toFixed(2)} of its ${whole.cpuSeconds.toFixed(2)} CPU s`;
  return [
    `Decompression: ${share(bare, bareAfter)} in the bare read (1), ${share(lines, linesAfter)} in Tributary's line split (2), ${share(count, countAfter)} in the line count (5), which decompresses every file a second time. Past decompression, Tributary's read with its verdict costs ${((p.stages[3]!.cpuSeconds - (lines.cpuSeconds - linesAfter.cpuSeconds)) / bareAfter.cpuSeconds).toFixed(2)}× the bare read's parse.`,
    '',
  ];
}

function report(context: SuiteContext, profiles: LoadProfile[]): void {
  const machine = machineInfo();
  writeFileSync(join(context.resultsDir, 'load-profile.json'), `${JSON.stringify({ machine, repeats: REPEATS, profiles }, null, 2)}\n`);
  const perMillion = (p: LoadProfile, s: Stage) => (s.cpuSeconds / p.lines) * 1e6;
  writeFileSync(
    join(context.resultsDir, 'load-profile.svg'),
    barChartSvg({
      title: 'Where a load’s time goes: CPU seconds per million lines, stage by stage',
      subtitle: `${machine.nproc} cores (${machine.cpuModel}); each stage includes the ones before it on its side; commit ${machine.commit}`,
      categories: profiles.flatMap((p) => p.stages.map((s) => s.short)),
      series: [{ name: 'CPU per million lines', unit: 's', values: profiles.flatMap((p) => p.stages.map((s) => Number(perMillion(p, s).toFixed(2)))) }],
    }),
  );
  const sections = profiles.flatMap((p) => {
    const bare = p.stages.find((s) => s.side === 'duckdb')!;
    const tributary = p.stages.filter((s) => s.side === 'tributary');
    const read = tributary[tributary.length - 2]!;
    const count = tributary[tributary.length - 1]!;
    let before = 0;
    return [
      `## ${p.load}`,
      '',
      `Input: ${p.input}.`,
      '',
      '| # | stage | wall s | CPU s | CPU s, least–most | CPU s per M lines | added CPU s | what it returned |',
      '|---:|---|---:|---:|---:|---:|---:|---|',
      ...p.stages.map((s, i) => {
        // Tributary's scan stages each include the one before; the line count stands apart.
        const added = s.side === 'tributary' && s !== count ? s.cpuSeconds - before : s.cpuSeconds;
        if (s.side === 'tributary' && s !== count) before = s.cpuSeconds;
        return `| ${i + 1} | ${s.label} | ${formatSeconds(s.wallSeconds)} | ${s.cpuSeconds.toFixed(2)} | ${s.cpuRange.map((c) => c.toFixed(2)).join('–')} | ${perMillion(p, s).toFixed(2)} | ${s === bare || s.side === 'uncompressed' ? '–' : added.toFixed(2)} | ${s.result} |`;
      }),
      '',
      `Tributary's read with everything a load judges costs ${(read.cpuSeconds / bare.cpuSeconds).toFixed(2)}× the CPU of the bare read, ${((read.cpuSeconds + count.cpuSeconds) / bare.cpuSeconds).toFixed(2)}× with the line count.`,
      '',
      ...decompression(p),
    ];
  });
  const md = [
    '# Load profile: where a load’s time goes',
    '',
    `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}; DuckDB ${machine.duckdb}. Commit ${machine.commit}, run at ${machine.date}.`,
    '',
    `Command: \`npm run bench -- load-profile\`. One process, the engine Tributary opens, each example's source opened by Tributary's own source connector. Each stage is a query asking for more of the source's columns than the one before (a count of each), so DuckDB computes only what that stage adds; the difference between two Tributary stages is the cost of what the second adds (a difference smaller than the spread of the rounds is noise, not a saving). The bare-DuckDB stage is the read its peer runs in \`batch\` and \`segment\`. The line count runs apart here; in a load it runs in a worker thread, beside a CSV scan and after a JSON-lines scan (whose failing lines it then finds by their fingerprints in the same read). ${REPEATS} rounds of all the stages in turn, the median of each; CPU s is the process's user + system time. The write (Parquet) and the models are the same SQL for both sides, so they are left out (their times are in batch.md and segment.md).`,
    '',
    ...sections,
    '![chart](load-profile.svg)',
    '',
  ].join('\n');
  writeFileSync(join(context.resultsDir, 'load-profile.md'), md);
  context.log(`results: ${relative(context.root, join(context.resultsDir, 'load-profile.md'))}`);
}

async function run(context: SuiteContext): Promise<void> {
  const scratch = join(context.dataDir, 'work', 'load-profile');
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const profiles = [await profileClickstream(context, join(scratch, 'clickstream')), await profileSegment(context, join(scratch, 'segment'))];
  report(context, profiles);
  rmSync(scratch, { recursive: true, force: true });
}

export const loadProfileSuite: Suite = {
  name: 'load-profile',
  description: 'where the clickstream CSV load and the Segment JSON load spend their time, stage by stage, beside the bare-DuckDB read',
  run,
};
