import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { crawl, exportDdl, type ExportDialect } from '../catalog/index.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import { loadProject, type LoadOptions } from '../core/project.js';
import { createProgress } from '../core/progress.js';
import { openWorkspace, runModels, type Workspace } from '../models/index.js';
import { runChecks } from '../quality/index.js';
import { scaffoldProject } from './init.js';
import { renderRows, type OutputFormat } from './output.js';

/** The repository (or installed package) root, where `examples/` and `shared/` are found. */
const PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

interface ProjectFlags {
  project?: string;
  dataDir?: string;
  source?: string[];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function parseSources(values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`expected NAME=PATH, got '${value}'`);
    out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

function loadOptions(flags: ProjectFlags): LoadOptions {
  return { dataDir: flags.dataDir, sourcePaths: parseSources(flags.source) };
}

async function withWorkspace<T>(flags: ProjectFlags, body: (ws: Workspace) => Promise<T>): Promise<T> {
  const project = await loadProject(flags.project, loadOptions(flags));
  const ws = await openWorkspace(project);
  try {
    return await body(ws);
  } finally {
    ws.close();
  }
}

function isoDate(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new InvalidArgumentError(`expected a date like 2019-11-05, got '${value}'`);
  }
  return value;
}

function datesBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = Date.parse(`${from}T00:00:00Z`); d <= Date.parse(`${to}T00:00:00Z`); d += 86_400_000) {
    out.push(new Date(d).toISOString().slice(0, 10));
  }
  if (!out.length) throw new TributaryError(`--from ${from} is after --to ${to}`, { hint: 'swap them' });
  return out;
}

const READ_ONLY = new Set(['SELECT', 'EXPLAIN', 'PRAGMA', 'RELATION']);

/** Ad-hoc SQL is for reading: a statement that would change data is refused before it runs. */
async function queryReadOnly(ws: Workspace, sql: string): Promise<Record<string, unknown>[]> {
  const kinds = await ws.engine.statementTypes(sql);
  const refused = kinds.find((k) => !READ_ONLY.has(k));
  if (refused) {
    throw new TributaryError(`refused: a ${refused} statement would change data, and ad-hoc SQL is read-only`, {
      hint: 'write changes as models in the project and run them with `tributary run`',
    });
  }
  return ws.engine.queryJson(sql);
}

function projectOptions(command: Command): Command {
  return command
    .option('-p, --project <dir>', 'project folder (default: the current folder)')
    .addOption(new Option('--data-dir <dir>', 'keep the lake and the warehouse under this folder instead of the project'))
    .option('--source <name=path>', 'read a source from another path (repeatable)', collect);
}

export function buildProgram(): Command {
  const program = new Command('tributary')
    .description('Batch files and event streams in; clean, modelled, reconciled tables out.')
    .version('0.1.0')
    .showHelpAfterError('(run `tributary --help` for usage)');

  program
    .command('init')
    .argument('[dir]', 'folder to create the project in', '.')
    .description('create a working project: config, sample data and models')
    .action((dir: string) => {
      const created = scaffoldProject(path.resolve(dir));
      console.log(`Created a Tributary project in ${path.resolve(dir)}:\n${created.map((f) => `  ${f}`).join('\n')}`);
      console.log(`\nNext: cd ${dir} && tributary run && tributary sql "select * from daily_revenue"`);
    });

  projectOptions(program.command('run'))
    .argument('[models...]', 'models to run (default: all, in dependency order)')
    .description('run models: load sources into the lake and build tables, then run checks')
    .option('--date <date>', 'rebuild only this day’s partition', isoDate)
    .option('--from <date>', 'first day of a backfill', isoDate)
    .option('--to <date>', 'last day of a backfill', isoDate)
    .option('--quiet', 'no progress bars')
    .action(async (models: string[], flags: ProjectFlags & { date?: string; from?: string; to?: string; quiet?: boolean }) => {
      if ((flags.from && !flags.to) || (!flags.from && flags.to)) {
        throw new TributaryError('--from and --to go together', { hint: 'give both, or use --date for one day' });
      }
      const dates = flags.date ? [flags.date] : flags.from && flags.to ? datesBetween(flags.from, flags.to) : undefined;
      await withWorkspace(flags, async (ws) => {
        const results = await runModels(ws, { models, dates, quiet: flags.quiet });
        const checks = await runChecks(ws.engine, ws.project.config.checks, new Set(results.map((r) => r.model)));
        for (const c of checks) console.error(`${c.passed ? '✔' : c.severity === 'error' ? '✘' : '!'} check ${c.name}: ${c.detail}`);
        console.log(
          renderRows(
            results.map((r) => ({
              model: r.model,
              materialize: r.materialize,
              read: r.read ?? '',
              written: r.written,
              quarantined: r.read === null ? '' : r.quarantined,
              partitions: r.partitions || '',
              seconds: r.seconds.toFixed(2),
            })),
            'table',
          ),
        );
        const failed = checks.filter((c) => !c.passed && c.severity === 'error');
        if (failed.length) {
          throw new TributaryError(`${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`, {
            hint: 'the tables were written; inspect them with `tributary sql` and fix the model or the data',
          });
        }
      });
    });

  projectOptions(program.command('sql'))
    .argument('<query>', 'a read-only SQL query over lake and serving tables')
    .description('run one query (the Athena role)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action(async (query: string, flags: ProjectFlags & { format: OutputFormat }) => {
      const project = await loadProject(flags.project, loadOptions(flags));
      const { runningServer } = await import('./up.js');
      const server = runningServer(project);
      if (server) {
        // The server owns the warehouse while it runs; ask it (same read-only rules as the SQL lab).
        const { queryServer } = await import('./produce.js');
        const result = await queryServer(server, query);
        console.log(renderRows(result.rows, flags.format, result.columns.map((c) => c.name)));
        return;
      }
      await withWorkspace(flags, async (ws) => console.log(renderRows(await queryReadOnly(ws, query), flags.format)));
    });

  projectOptions(program.command('shell'))
    .description('interactive SQL over lake and serving tables; end statements with ;')
    .action(async (flags: ProjectFlags) => {
      await withWorkspace(flags, async (ws) => {
        const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'tributary> ' });
        let buffer = '';
        rl.prompt();
        for await (const line of rl) {
          buffer += `${line}\n`;
          if (!buffer.trim().endsWith(';')) {
            if (buffer.trim()) process.stdout.write('      ...> ');
            else rl.prompt();
            continue;
          }
          try {
            console.log(renderRows(await queryReadOnly(ws, buffer), 'table'));
          } catch (error) {
            console.error(errorMessage(error));
          }
          buffer = '';
          rl.prompt();
        }
      });
    });

  projectOptions(program.command('catalog'))
    .argument('[table]', 'describe one table')
    .description('list tables, or describe one: columns, partitions, lineage, schema history')
    .addOption(new Option('--export <engine>', 'print the DDL that registers the lake table in another engine').choices(['athena', 'spark', 'trino']))
    .option('--location <uri>', 'with --export: where that engine finds the files (e.g. s3://bucket/lake/events)')
    .action(async (table: string | undefined, flags: ProjectFlags & { export?: ExportDialect; location?: string }) => {
      await withWorkspace(flags, async (ws) => {
        if (flags.export) {
          const info = table ? await ws.catalog.table(table) : undefined;
          if (!info) throw new TributaryError(`--export needs a table in the catalog${table ? `; there is no '${table}'` : ''}`, { hint: 'tributary catalog lists them' });
          console.log(exportDdl(info, flags.export, flags.location));
          return;
        }
        if (!table) {
          const tables = await ws.catalog.tables();
          console.log(
            renderRows(
              tables.map((t) => ({ table: t.name, kind: t.kind, rows: t.rows ?? '', files: t.files || '', partitioned_by: t.partition_by.join(', '), updated: t.updated_at.slice(0, 19) })),
              'table',
            ),
          );
          return;
        }
        const info = await ws.catalog.table(table);
        if (!info) {
          throw new TributaryError(`no table '${table}' in the catalog`, { hint: 'run `tributary catalog` to list tables, or `tributary run` to build them' });
        }
        console.log(`${info.name} (${info.kind}${info.location ? `, ${info.location}` : ''})${info.description ? `\n${info.description}` : ''}`);
        console.log(renderRows(info.columns, 'table'));
        if (info.partition_by.length) {
          const parts = await ws.catalog.partitions(table);
          console.log(renderRows(parts.map((p) => ({ partition: Object.entries(p.partition).map(([k, v]) => `${k}=${v}`).join('/'), files: p.files, rows: p.rows, bytes: p.bytes })), 'table'));
        }
        const lineage = (await ws.catalog.lineage()).filter((l) => l.model === table || l.upstream === table);
        if (lineage.length) console.log(`lineage:\n${lineage.map((l) => `  ${l.upstream} (${l.upstream_kind}) → ${l.model}`).join('\n')}`);
        const versions = await ws.catalog.schemaVersions(table);
        if (versions.length > 1) console.log(`schema versions: ${versions.length} (latest ${versions.at(-1)!.detected_at})`);
      });
    });

  projectOptions(program.command('crawl'))
    .argument('<path>', 'folder (or file) of dropped data files')
    .requiredOption('--table <name>', 'table to register them as')
    .description('infer the schema of dropped files, register the table and its partitions, report drift')
    .action(async (target: string, flags: ProjectFlags & { table: string }) => {
      await withWorkspace(flags, async (ws) => {
        const report = await crawl(ws.engine, ws.catalog, target, flags.table);
        console.log(
          `${report.table}: ${report.files} ${report.format} file(s), ${report.rows.toLocaleString('en-US')} rows, ` +
            `${report.partitions} partition(s)${report.partitionBy.length ? ` by ${report.partitionBy.join(', ')}` : ''}`,
        );
        console.log(renderRows(report.columns, 'table'));
        const describe = (d: NonNullable<typeof report.sinceLastCrawl>) =>
          [
            ...d.added.map((c) => `added ${c.name} ${c.type}`),
            ...d.removed.map((c) => `removed ${c.name}`),
            ...d.retyped.map((c) => `${c.name} ${c.from} → ${c.to}`),
          ].join('; ');
        for (const d of report.dropDrift) console.log(`schema drift at ${d.partition}: ${describe(d.drift)}`);
        if (report.sinceLastCrawl && !report.sinceLastCrawl.unchanged) console.log(`schema drift since the last crawl: ${describe(report.sinceLastCrawl)}`);
      });
    });

  projectOptions(program.command('quarantine'))
    .description('rows that were not loaded, with the reason, file and line')
    .option('--model <model>', 'only this model’s')
    .option('--run <runId>', 'only this run’s')
    .option('--limit <n>', 'rows to show', (v) => Number.parseInt(v, 10), 50)
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action(async (flags: ProjectFlags & { model?: string; run?: string; limit: number; format: OutputFormat }) => {
      await withWorkspace(flags, async (ws) => {
        const rows = await ws.catalog.quarantine({ model: flags.model, runId: flags.run, limit: flags.limit });
        console.log(renderRows(rows.map((r) => ({ ...r, raw: r.raw && r.raw.length > 120 ? `${r.raw.slice(0, 117)}...` : r.raw })), flags.format));
      });
    });

  projectOptions(program.command('runs'))
    .description('recent runs with rows read, written and quarantined')
    .option('--limit <n>', 'runs to show', (v) => Number.parseInt(v, 10), 20)
    .action(async (flags: ProjectFlags & { limit: number }) => {
      await withWorkspace(flags, async (ws) => {
        const runs = await ws.catalog.runs(flags.limit);
        console.log(renderRows(runs.map((r) => ({ run: r.run_id, model: r.model, status: r.status, read: r.read ?? '', written: r.written, quarantined: r.quarantined, started: r.started_at.slice(0, 19), error: r.error ?? '' })), 'table'));
      });
    });

  projectOptions(program.command('compact'))
    .argument('<table>', 'lake table')
    .description('rewrite each partition’s small files as one, atomically')
    .action(async (table: string, flags: ProjectFlags) => {
      await withWorkspace(flags, async (ws) => {
        const result = await ws.lake.compact(table, ws.catalog.newRunId());
        console.log(`${table}: compacted ${result.partitions} partition(s), ${result.filesBefore} → ${result.filesAfter} files`);
      });
    });

  program
    .command('generate')
    .argument('<dataset>', 'what to generate: ecommerce')
    .description('write realistic data at any size, learned from the real sample')
    .requiredOption('--rows <n>', 'rows to write', (v) => Number.parseInt(v.replace(/_/g, ''), 10))
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 42)
    .option('--sample <file>', 'the real sample to learn from', path.join(PACKAGE_ROOT, '..', 'shared', 'data', 'ecommerce', '2019-Nov-sample.csv'))
    .action(async (dataset: string, flags: { rows: number; out: string; seed: number; sample: string }) => {
      if (dataset !== 'ecommerce') throw new TributaryError(`unknown dataset '${dataset}'`, { hint: 'available: ecommerce' });
      if (!Number.isFinite(flags.rows) || flags.rows <= 0) throw new InvalidArgumentError('--rows must be a positive number');
      const { generateEcommerce } = await import('../generate/index.js');
      const progress = createProgress({ label: `generate ${dataset}` });
      const result = await generateEcommerce({ rows: flags.rows, out: path.resolve(flags.out), samplePath: flags.sample, seed: flags.seed, onProgress: (p: { rows: number; bytes: number; fraction: number }) => progress.update(p) });
      progress.done(`${result.rows.toLocaleString('en-US')} rows, ${(result.bytes / 1e9).toFixed(2)} GB in ${result.seconds.toFixed(1)}s → ${flags.out}`);
    });

  projectOptions(program.command('up'))
    .description('run the server (collector, status, metrics), the log and the stream jobs in one process')
    .option('--host <host>', 'address to listen on; anything but loopback needs TRIBUTARY_TOKEN', '127.0.0.1')
    .option('--port <port>', 'port to listen on', (v) => Number.parseInt(v, 10), 7070)
    .action(async (flags: ProjectFlags & { host: string; port: number }) => {
      const { startStack } = await import('./up.js');
      const project = await loadProject(flags.project, loadOptions(flags));
      const stack = await startStack(project, { host: flags.host, port: flags.port, token: process.env.TRIBUTARY_TOKEN });
      console.error(`Tributary is up at ${stack.url} (project ${project.config.name}). Ctrl+C stops it.`);
    });

  projectOptions(program.command('drain'))
    .description('run the stream jobs until their inputs have nothing more, then stop (replays, backfills, benchmarks)')
    .option('--max-batch <n>', 'events per micro-batch instead of the configured maxBatch', (v) => Number.parseInt(v, 10))
    .option('--json', 'print the jobs’ final status as JSON')
    .action(async (flags: ProjectFlags & { maxBatch?: number; json?: boolean }) => {
      const project = await loadProject(flags.project, loadOptions(flags));
      for (const stream of Object.values(project.config.streams)) if (flags.maxBatch) stream.maxBatch = flags.maxBatch;
      const { openLog, startStreams } = await import('../stream/runtime.js');
      const ws = await openWorkspace(project);
      const log = openLog(ws);
      try {
        const runtime = await startStreams(ws, log, { start: false });
        // Stopped on failure too: an input's open connection (Kafka, NATS) would keep the process alive.
        try {
          const results: Record<string, { events: number; seconds: number }> = {};
          for (const job of runtime.jobs) {
            const started = Date.now();
            const events = await job.drain();
            results[job.name] = { events, seconds: (Date.now() - started) / 1000 };
            if (!flags.json) console.error(`✔ ${job.name}: ${events.toLocaleString('en-US')} events in ${results[job.name]!.seconds.toFixed(1)} s`);
          }
          if (flags.json) console.log(JSON.stringify({ results, status: runtime.jobs.map((j) => j.snapshot()) }));
        } finally {
          await runtime.stop();
        }
      } finally {
        log.close();
        ws.close();
      }
    });

  program
    .command('produce')
    .argument('<dataset>', 'what to replay: ecommerce')
    .description('replay the real sample as live events: bursts of 1–10 every 1–3 s, or --rate N per second')
    .option('--to <url>', 'the Tributary server to send to', 'http://127.0.0.1:7070')
    .option('--topic <topic>', 'topic to send to', 'clickstream')
    .option('--rate <n>', 'events per second', (v) => Number.parseInt(v, 10))
    .option('--count <n>', 'stop after this many events', (v) => Number.parseInt(v, 10))
    .option('--sample <file>', 'the real sample to replay', path.join(PACKAGE_ROOT, '..', 'shared', 'data', 'ecommerce', '2019-Nov-sample.csv'))
    .option('--into-log', 'append straight into the project’s log instead of sending to a server (the server must not be running)')
    .option('-p, --project <dir>', 'with --into-log: the project whose log to append to')
    .option('--data-dir <dir>', 'with --into-log: the project’s data folder, if not the default')
    .action(async (dataset: string, flags: { to: string; topic: string; rate?: number; count?: number; sample: string; intoLog?: boolean; project?: string; dataDir?: string }) => {
      if (dataset !== 'ecommerce') throw new TributaryError(`unknown dataset '${dataset}'`, { hint: 'available: ecommerce' });
      const { produceToServer, produceIntoLog } = await import('./produce.js');
      if (flags.intoLog) await produceIntoLog(await loadProject(flags.project, { dataDir: flags.dataDir }), flags);
      else await produceToServer(flags);
    });

  program
    .command('status')
    .description('per stream job: lag, events/s, last batch, latency, dead letters, late events')
    .option('--url <url>', 'the running Tributary server', 'http://127.0.0.1:7070')
    .action(async (flags: { url: string }) => {
      const { fetchStatus } = await import('./produce.js');
      const status = await fetchStatus(flags.url);
      console.log(
        renderRows(
          status.jobs.map((j) => ({
            job: j.job,
            state: j.state,
            lag: j.lag,
            'events/s': j.eventsPerSecond,
            events: j.events,
            'last batch': j.lastBatch ? `${j.lastBatch.events} in ${j.lastBatch.ms} ms at ${j.lastBatch.at.slice(11, 19)}` : '',
            'batch ms (read/stage/load/sinks)': j.lastBatch
              ? [j.lastBatch.durationMs.read, j.lastBatch.durationMs.stage, j.lastBatch.durationMs.load, ...Object.values(j.lastBatch.durationMs.sinks)].join('/')
              : '',
            'p50/p99 ms': j.latencyMs.p50 === null ? '' : `${j.latencyMs.p50}/${j.latencyMs.p99}`,
            'dead letters': j.deadLetters,
            late: j.late,
            error: j.error ?? '',
          })),
          'table',
        ),
      );
    });

  program
    .command('demo')
    .description('the whole clickstream system on embedded defaults: batch load, log, stream job, producer, live dashboard')
    .option('--port <port>', 'port for the dashboard', (v) => Number.parseInt(v, 10), 7070)
    .option('--rate <n>', 'events per second instead of the original bursts of 1–10 every 1–3 s', (v) => Number.parseInt(v, 10))
    .option('--data-dir <dir>', 'keep the lake and warehouse here (default: inside the example)')
    .action(async (flags: { port: number; rate?: number; dataDir?: string }) => {
      const started = Date.now();
      const example = path.join(PACKAGE_ROOT, 'examples', 'ecommerce-clickstream');
      const project = await loadProject(example, { dataDir: flags.dataDir });
      const sample = project.config.sources.clickstream!.path as string;
      const { startStack } = await import('./up.js');
      const stack = await startStack(project, {
        port: flags.port,
        runBatch: true,
        produce: { sample: project.resolvePath(sample), topic: 'clickstream', rate: flags.rate },
      });
      console.log(`\nThe clickstream demo is live: ${stack.url}  (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      console.log(`  dashboards ${stack.url}/   SQL lab ${stack.url}/lab   catalog ${stack.url}/catalog   streams ${stack.url}/streams`);
      console.log('  events replay from the real sample; Ctrl+C stops everything.');
    });

  return program;
}

/** Runs the CLI and returns the exit code; errors print as file:line, what, and what to do next. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (code?.startsWith('commander.')) return 2;
    console.error(`${pc.red('error:')} ${errorMessage(error)}`);
    if (process.env.TRIBUTARY_DEBUG && error instanceof Error) console.error(error.stack);
    return 1;
  }
}

