import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { convertPathToPattern } from 'tinyglobby';
import type { CommandSpec, OutputFormat } from '../commands/index.js';
import { commandDeclarations } from '../commands/declarations.js';
import { commandInput, CommandInputError } from '../commands/input.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { shellWord } from '../core/shell.js';
import { isCalendarDay } from '../core/interval.js';
import { packageInfo } from '../core/package.js';
import { engineVersion } from '../engine/version.js';
import { findConfigFile } from '../config/folders.js';
import type { Project } from '../config/project.js';
import type { Workspace } from '../state/workspace.js';
import { scaffoldProject } from './init.js';
import { interruptOnSignals, interruptedExitCode } from './interrupt.js';
import { runOnServer, runningServer, serverForCommand, terminalIO } from './remote.js';

interface ProjectFlags {
  project?: string;
  dataDir?: string;
  target?: string;
  vars?: string;
  /** `--source NAME=PATH` flags, by name. */
  source?: Record<string, string>;
  /** A running server to send the command to (`--server`, TRIBUTARY_SERVER). */
  server?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * One `--source NAME=PATH` flag (repeatable), its path made absolute here (a server has another
 * working folder). Checked as commander parses it, so a wrong one is reported as a usage error.
 */
function sourceFlag(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`expected NAME=PATH, got '${value}'`);
  // A relative path is the user's from here: the folder it is relative to is a name, not a pattern
  // (a server, elsewhere, matches it).
  const given = value.slice(eq + 1);
  return { ...previous, [value.slice(0, eq)]: path.isAbsolute(given) ? given : `${convertPathToPattern(process.cwd())}/${given.split(path.sep).join('/')}` };
}

/** The address of a running Tributary server. */
function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`expected the server's address like http://127.0.0.1:7070, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`expected an http:// or https:// address, got '${value}'`);
  return value.replace(/\/+$/, '');
}

function isoDate(value: string): string {
  if (!isCalendarDay(value)) throw new InvalidArgumentError(`expected a day of the calendar like 2019-11-05, got '${value}'`);
  return value;
}

function positive(value: string): number {
  const n = count(value);
  if (n < 1) throw new InvalidArgumentError(`expected a whole number above 0, got '${value}'`);
  return n;
}

function count(value: string): number {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError(`expected a port from 0 to 65535 (0: any free one), got '${value}'`);
  return n;
}

/*
 * What only a command run here needs (the project's config, the engine, the commands' code) is
 * imported when it runs: a command sent to a running server loads none of it.
 */

async function projectOf(flags: ProjectFlags): Promise<Project> {
  const { loadProject } = await import('../config/project.js');
  return loadProject(flags.project, { dataDir: flags.dataDir, target: flags.target, vars: flags.vars });
}

/**
 * Runs a command on a project's state: inside the server when one owns it (`tributary up`), or
 * here, opening the state for the length of the command.
 */
async function execute(name: string, input: unknown, flags: ProjectFlags, quiet = false): Promise<void> {
  const declaration = commandDeclarations[name]!;
  // Refused here, before a project is opened or a server asked; a server checks what it is sent again.
  const checked = commandInput(declaration, input);
  const io = terminalIO(quiet);
  // --vars is checked against the project before anything runs.
  const sent = flags.server || flags.vars !== undefined ? undefined : serverForCommand(flags);
  if (sent) return runOnServer(sent.url, name, checked, io, sent.record);
  const project = await projectOf(flags);
  const server = flags.server ? { url: flags.server, target: project.target.name, record: undefined } : runningServer(project);
  if (server) {
    if (server.target !== project.target.name) {
      throw new TributaryError(`the server running this project (${server.url}) works on target '${server.target}', not '${project.target.name}'`, {
        hint: `run the command without --target (or with --target ${server.target}), or stop the server and run it here`,
      });
    }
    return runOnServer(server.url, name, checked, io, server.record);
  }
  const [{ commands }, { openWorkspace }, { openScheduler }] = await Promise.all([import('../commands/index.js'), import('../state/workspace.js'), import('../owner/scheduler.js')]);
  const ws = await openWorkspace(project);
  const interrupt = declaration.stoppable ? interruptOnSignals((message) => io.err(message)) : undefined;
  try {
    await commands[name]!.run({ ws, io, signal: interrupt?.signal, openScheduler: (options) => openScheduler(ws, options) }, checked);
  } finally {
    interrupt?.dispose();
    await ws.close();
  }
}

function projectOptions(command: Command): Command {
  return command
    .option('-p, --project <dir>', 'project folder (default: the current folder)')
    .addOption(new Option('--data-dir <dir>', 'keep the lake and the warehouse under this folder instead of the project'))
    .addOption(new Option('-t, --target <name>', 'the target to run against (its stores; a dbt project: its profile’s output); default: TRIBUTARY_TARGET, else the project’s target').env('TRIBUTARY_TARGET'))
    .option('--vars <yaml>', 'a dbt project’s vars, as a YAML mapping over those of dbt_project.yml, e.g. \'{until: "2024-03-31"}\'')
    .addOption(new Option('--server <url>', 'run the command in this running Tributary server (e.g. the scheduler’s leader on a shared catalog); default: the one `up` started with this data folder').env('TRIBUTARY_SERVER').argParser(serverUrl));
}

type DbtFlags = ProjectFlags & { select?: string[]; exclude?: string[]; fullRefresh?: boolean; threads?: number; storeFailures?: boolean; format: OutputFormat };

/** A dbt command: `build`, `seed`, `test`, `compile`, with dbt's selection flags. */
function dbtCommand(program: Command, name: string, description: string): void {
  const command = projectOptions(program.command(name));
  // Only the commands that run tests keep their failures.
  if (name === 'build' || name === 'test') command.option('--store-failures', 'keep every test’s failing rows in a table of <schema>_dbt_test__audit');
  command
    .argument('[selectors...]', 'nodes, as --select takes them (default: all)')
    .description(description)
    .option('-s, --select <selectors...>', 'name, name+, +name, 2+name, @name, tag:x, path:dir, source:x, globs')
    .option('--exclude <selectors...>', 'nodes to leave out, in the same syntax')
    .option('--full-refresh', 'rebuild incremental models whole')
    .option('--threads <n>', 'nodes built at the same time (default: the profile target’s threads)', positive)
    .addOption(formatOption())
    .action(async (selectors: string[], flags: DbtFlags) => {
      const select = [...selectors, ...(flags.select ?? [])];
      await execute(name, { select: select.length ? select : undefined, exclude: flags.exclude, fullRefresh: flags.fullRefresh, threads: flags.threads, storeFailures: flags.storeFailures, format: flags.format }, flags);
    });
}

const formatOption = () => new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table');

/**
 * Colours on stderr as Node decides them for a terminal (FORCE_COLOR=0, NO_COLOR and TERM=dumb turn
 * them off), and elsewhere only when FORCE_COLOR asks: picocolors alone took FORCE_COLOR=0, and CI,
 * as asking for them.
 */
function stderrColours(): ReturnType<typeof pc.createColors> {
  const stderr = process.stderr;
  const forced = process.env.FORCE_COLOR;
  return pc.createColors(stderr.isTTY ? stderr.hasColors() : forced !== undefined && !['', '0', 'false'].includes(forced) && !process.env.NO_COLOR);
}

export function buildProgram(): Command {
  const program = new Command('tributary')
    .description('Batch files and event streams in; clean, modelled, reconciled tables out.')
    // Not .version(): its text is made before any command runs, and the engine's version loads the engine.
    .option('-V, --version', 'the package version and its DuckDB engine')
    .on('option:version', () => {
      const text = `tributary ${packageInfo().version} (DuckDB ${engineVersion()})`;
      process.stdout.write(`${text}\n`);
      throw new CommanderError(0, 'commander.version', text);
    })
    .showHelpAfterError('(run `tributary --help` for usage)');

  program
    .command('init')
    .argument('[dir]', 'folder to create the project in', '.')
    .description('create a working project: config, sample data, models and package.json')
    .action((dir: string) => {
      const created = scaffoldProject(path.resolve(dir));
      console.log(`Created a Tributary project in ${path.resolve(dir)}:\n${created.map((f) => `  ${f}`).join('\n')}`);
      console.log(`\nNext: cd ${shellWord(dir)} && npm install && npx tributary run && npx tributary sql "select * from daily_revenue"`);
    });

  projectOptions(program.command('run'))
    .argument('[selectors...]', 'models to run, as --select takes them (default: all, in dependency order)')
    .description('run models: load sources into the lake and build tables, then run checks')
    .option('-s, --select <selectors...>', 'models to run: name, name+, +name, 2+name, @name, tag:x, path:dir, source:x, globs')
    .option('--exclude <selectors...>', 'models not to run, in the same syntax')
    .option('--threads <n>', 'models built at the same time (default: the project’s threads)', positive)
    .option('--date <date>', 'rebuild only this day: its partitions and the rows of its time (the data interval)', isoDate)
    .option('--from <date>', 'first day of a backfill', isoDate)
    .option('--to <date>', 'last day of a backfill', isoDate)
    .option('--source <name=path>', 'read a source from another path (repeatable)', sourceFlag)
    .option('--full-refresh', 'a dbt project: rebuild incremental models whole')
    .option('--quiet', 'no progress bars')
    .action(async (selectors: string[], flags: ProjectFlags & { select?: string[]; exclude?: string[]; threads?: number; date?: string; from?: string; to?: string; quiet?: boolean; fullRefresh?: boolean }) => {
      const select = [...selectors, ...(flags.select ?? [])];
      await execute(
        'run',
        { select: select.length ? select : undefined, exclude: flags.exclude, threads: flags.threads, date: flags.date, from: flags.from, to: flags.to, quiet: flags.quiet, sources: flags.source, fullRefresh: flags.fullRefresh },
        flags,
        flags.quiet,
      );
    });

  dbtCommand(program, 'build', 'a dbt project: seeds, models and tests in DAG order; a failing test skips what reads the node it tests');
  dbtCommand(program, 'seed', 'a dbt project: load its seeds (CSV files) into tables, every row accounted for');
  dbtCommand(program, 'snapshot', 'a dbt project: record what changed in its snapshots’ rows (SCD type 2: versions closed and added)');
  projectOptions(program.command('source').description('a dbt project: its sources').command('freshness'))
    .description('a dbt project: how long ago each source table was last loaded, against its freshness limits')
    .option('-s, --select <selectors...>', 'source tables: source:name or source:name.table')
    .addOption(formatOption())
    .action(async (flags: DbtFlags) => {
      await execute('source-freshness', { select: flags.select, format: flags.format }, flags);
    });
  dbtCommand(program, 'test', 'a dbt project: run its tests (schema.yml generic tests, custom generic tests, singular tests)');
  dbtCommand(program, 'compile', 'a dbt project: print each model’s SQL as the engine receives it (Jinja rendered, refs resolved)');
  projectOptions(program.command('show'))
    .argument('[selectors...]', 'the model, as --select takes it')
    .description('a dbt project: the first rows a model’s SQL computes now, without building it (dbt show)')
    .option('-s, --select <selectors...>', 'the model to preview')
    .option('--exclude <selectors...>', 'nodes to leave out')
    .option('--limit <n>', 'rows to show', count, 5)
    .option('--inline <sql>', 'a query of your own instead of a model, with ref(), source(), var() and macros (dbt show --inline)')
    .addOption(formatOption())
    .action(async (selectors: string[], flags: DbtFlags & { limit: number; inline?: string }) => {
      const select = [...selectors, ...(flags.select ?? [])];
      await execute('show', { select: select.length ? select : undefined, exclude: flags.exclude, limit: flags.limit, inline: flags.inline, format: flags.format }, flags);
    });

  program
    .command('extensions')
    .argument('<action>', 'install: download and install DuckDB’s signed extensions Tributary may load (httpfs, postgres, iceberg, avro)')
    .description('DuckDB’s own extensions for a lake on S3 and a catalog in PostgreSQL; the embedded default needs none')
    .action(async (action: string) => {
      if (action !== 'install') throw new TributaryError(`unknown action '${action}'`, { hint: 'tributary extensions install' });
      const { Engine, EXTENSIONS, extensionDirectory } = await import('../engine/index.js');
      const engine = await Engine.open();
      try {
        for (const name of Object.keys(EXTENSIONS) as (keyof typeof EXTENSIONS)[]) {
          await engine.install(name);
          console.log(`✔ ${name} (${EXTENSIONS[name].for}) installed in ${extensionDirectory()}`);
        }
      } finally {
        engine.close();
      }
    });

  program
    .command('components')
    .argument('[family]', 'one family: sources, inputs, stores, modelMaterializations, streamMaterializations, checks, tasks')
    .description('every component a project may name, Tributary’s and the project’s own: where it goes and its options')
    .option('-p, --project <dir>', 'a project whose own components to include (default: the current folder, if it is one)')
    .action(async (family: string | undefined, flags: { project?: string }) => {
      const { describeComponents } = await import('../commands/components.js');
      const { builtinComponents } = await import('../config/components.js');
      const dir = path.resolve(flags.project ?? '.');
      const registry = flags.project || findConfigFile(dir) ? (await projectOf(flags)).components : builtinComponents;
      console.log(describeComponents(registry, family));
    });

  projectOptions(program.command('ls'))
    .argument('[selectors...]', 'models to list, as --select takes them (default: all)')
    .description('the models a selection picks, in the order a run builds them: how each lands, what it reads, its tags; with --columns, where each column comes from')
    .option('-s, --select <selectors...>', 'name, name+, +name, 2+name, @name, tag:x, path:dir, source:x, globs')
    .option('--exclude <selectors...>', 'models to leave out, in the same syntax')
    .option('--columns', 'one row per model column: the upstream columns it derives from, how (copy, transform), its description')
    .addOption(formatOption())
    .action(async (selectors: string[], flags: ProjectFlags & { select?: string[]; exclude?: string[]; columns?: boolean; format: OutputFormat }) => {
      const select = [...selectors, ...(flags.select ?? [])];
      await execute('ls', { select: select.length ? select : undefined, exclude: flags.exclude, columns: flags.columns, format: flags.format }, flags);
    });

  projectOptions(program.command('sql'))
    .argument('<query>', 'a read-only SQL query over lake and serving tables')
    .description('run one query (the Athena role); every row is printed')
    // A query may begin with a `--` comment: it is the query, not an option.
    .allowUnknownOption()
    .addOption(formatOption())
    .action(async (query: string, flags: ProjectFlags & { format: OutputFormat }) => {
      await execute('sql', { query, format: flags.format }, flags);
    });

  projectOptions(program.command('lookup'))
    .argument('<table>', 'a serving table declared with lookup: { key }')
    .argument('<key>', 'the key, as text (64-bit ids exact)')
    .description('one row by its key (the serving layer’s key–value lookup); while `tributary up` runs, answered from its in-memory index')
    .addOption(formatOption())
    .action(async (table: string, key: string, flags: ProjectFlags & { format: OutputFormat }) => {
      await execute('lookup', { table, key, format: flags.format }, flags);
    });

  projectOptions(program.command('shell'))
    .description('interactive SQL over lake and serving tables; end statements with ;')
    .action(async (flags: ProjectFlags) => {
      const project = await projectOf(flags);
      const io = terminalIO();
      const running = runningServer(project);
      const url = running?.url;
      let local: { ws: Workspace; sql: CommandSpec } | undefined;
      if (!url) {
        const [{ openWorkspace }, { commands }] = await Promise.all([import('../state/workspace.js'), import('../commands/index.js')]);
        local = { ws: await openWorkspace(project), sql: commands.sql! };
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'tributary> ' });
      let buffer = '';
      try {
        rl.prompt();
        for await (const line of rl) {
          buffer += `${line}\n`;
          if (!buffer.trim().endsWith(';')) {
            if (buffer.trim()) process.stdout.write('      ...> ');
            else rl.prompt();
            continue;
          }
          const input = { query: buffer.trim().replace(/;$/, ''), format: 'table' };
          try {
            if (url) await runOnServer(url, 'sql', input, io, running?.record);
            else await local!.sql.run({ ws: local!.ws, io }, commandInput(local!.sql, input));
          } catch (error) {
            console.error(printable(errorMessage(error)));
          }
          buffer = '';
          rl.prompt();
        }
      } finally {
        await local?.ws.close();
      }
    });

  projectOptions(program.command('catalog'))
    .argument('[table]', 'describe one table')
    .description('list tables, or describe one: columns, partitions, lineage, schema history (--format json: all of it as one object; csv: its columns)')
    .addOption(new Option('--export <engine>', 'write the lake table\'s metadata at a snapshot beside it and print what registers it in another engine').choices(['athena', 'spark', 'trino']))
    .addOption(new Option('--table-format <format>', 'with --export: Iceberg metadata, or Hive symlink manifests (default: iceberg)').choices(['iceberg', 'symlink']))
    .option('--snapshot <n>', 'with --export: the snapshot to export (default: the table\'s latest; `tributary snapshots` lists them)', count)
    .option('--database <name>', 'with --export: the database (schema) to register the table in (default: default)')
    .option('--location <uri>', 'with --export: where that engine finds the table\'s folder, when elsewhere (e.g. s3://bucket/lake/events)')
    .addOption(formatOption())
    .action(
      async (
        table: string | undefined,
        flags: ProjectFlags & { export?: string; tableFormat?: string; snapshot?: number; database?: string; location?: string; format: OutputFormat },
      ) => {
        const { export: engine, tableFormat, snapshot, database, location, format } = flags;
        await execute('catalog', { table, export: engine, tableFormat, snapshot, database, location, format }, flags);
      },
    );

  projectOptions(program.command('snapshots'))
    .description('the catalog’s commits, newest first: what each changed (a table AT (VERSION => n) reads one)')
    .option('--limit <n>', 'snapshots to show', count, 30)
    .addOption(formatOption())
    .action(async (flags: ProjectFlags & { limit: number; format: OutputFormat }) => execute('snapshots', { limit: flags.limit, format: flags.format }, flags));

  projectOptions(program.command('crawl'))
    .argument('<path>', 'folder (or file) of dropped data files')
    .requiredOption('--table <name>', 'table to register them as')
    .option('--store <pattern>', "which store a file belongs to: a regular expression over its name, the first group names the store (default: the name without extensions), e.g. 'store_(\\d+)'")
    .addOption(formatOption())
    .description('infer the schema of dropped files, register the table and its partitions, report drift per store and day')
    .action(async (target: string, flags: ProjectFlags & { table: string; store?: string; format: OutputFormat }) =>
      execute('crawl', { path: path.resolve(target), table: flags.table, store: flags.store, format: flags.format }, flags),
    );

  projectOptions(program.command('quarantine'))
    .description('rows not loaded now (each input line once, from the runs whose data the tables hold), with the reason, file and line')
    .option('--model <model>', 'only this model’s')
    .option('--run <runId>', 'only this run’s (a failed run’s too)')
    .option('--all', 'every run’s rows, replaced runs included')
    .option('--limit <n>', 'rows to show', count, 50)
    .addOption(formatOption())
    .action(async (flags: ProjectFlags & { model?: string; run?: string; all?: boolean; limit: number; format: OutputFormat }) =>
      execute('quarantine', { model: flags.model, run: flags.run, all: flags.all, limit: flags.limit, format: flags.format }, flags),
    );

  projectOptions(program.command('dead-letters'))
    .description('events a stream job or the collector refused (not JSON, mistyped, failing a rule), newest first, with the reason')
    .option('--origin <origin>', "only these: 'job:<stream job>' or 'collector:<topic>'")
    .option('--limit <n>', 'events to show', count, 50)
    .addOption(formatOption())
    .action(async (flags: ProjectFlags & { origin?: string; limit: number; format: OutputFormat }) =>
      execute('dead-letters', { origin: flags.origin, limit: flags.limit, format: flags.format }, flags),
    );

  projectOptions(program.command('runs'))
    .description('recent runs with their trigger, attempt, rows read, written and quarantined; with --job, a job’s runs and their tasks')
    .option('--limit <n>', 'runs to show', count, 20)
    .option('--model <name>', 'only runs of this model (or source load)')
    .option('--group <id>', 'only runs of this group (one `tributary run`, one scheduled job run)')
    .option('--job <job>', 'the runs of a scheduled job, one per data interval, with each task’s state')
    .addOption(formatOption())
    .action(async (flags: ProjectFlags & { limit: number; model?: string; group?: string; job?: string; format: OutputFormat }) =>
      flags.job
        ? execute('job-runs', { job: flags.job, limit: flags.limit, format: flags.format }, flags)
        : execute('runs', { limit: flags.limit, target: flags.model, group: flags.group, format: flags.format }, flags),
    );

  projectOptions(program.command('jobs'))
    .description('the project’s scheduled jobs: schedule, next run, last run')
    .addOption(formatOption())
    .action(async (flags: ProjectFlags & { format: OutputFormat }) => execute('jobs', { format: flags.format }, flags));

  projectOptions(program.command('trigger'))
    .argument('<job>', 'a job of the project')
    .description('run a job now, for a day (default: its latest complete interval); without a server it runs here, to the end')
    .option('--date <date>', 'the data interval’s day', isoDate)
    .action(async (job: string, flags: ProjectFlags & { date?: string }) => execute('trigger', { job, date: flags.date }, flags));

  projectOptions(program.command('backfill'))
    .argument('<job>', 'a job of the project')
    .description('one run per interval from one day to another (both included); runs that exist are left as they are')
    .requiredOption('--from <date>', 'first day', isoDate)
    .requiredOption('--to <date>', 'last day', isoDate)
    .option('--rerun-failed', 'clear the failed tasks of failed runs in the range and run them again')
    .action(async (job: string, flags: ProjectFlags & { from: string; to: string; rerunFailed?: boolean }) =>
      execute('backfill', { job, from: flags.from, to: flags.to, rerunFailed: flags.rerunFailed }, flags),
    );

  for (const [name, paused] of [['pause', true], ['unpause', false]] as const) {
    projectOptions(program.command(name))
      .argument('<job>', 'a job of the project')
      .description(paused ? 'stop scheduling a job’s runs (triggers still work)' : 'schedule a paused job again (missed intervals follow its catchup)')
      .action(async (job: string, flags: ProjectFlags) => execute('pause', { job, paused }, flags));
  }

  projectOptions(program.command('clear'))
    .argument('<run>', 'a job run id (tributary runs --job JOB lists them)')
    .argument('<task>', 'a task of that run')
    .description('clear a task of a run for a re-run (with --downstream, the tasks after it too), or mark it by hand')
    .option('--downstream', 'clear the tasks that follow it too')
    .addOption(new Option('--mark <state>', 'mark the task instead of clearing it').choices(['success', 'failed']))
    .action(async (run: string, task: string, flags: ProjectFlags & { downstream?: boolean; mark?: 'success' | 'failed' }) =>
      execute('clear', { run, task, downstream: flags.downstream, mark: flags.mark }, flags),
    );

  projectOptions(program.command('compact'))
    .argument('<table>', 'lake table')
    .description('rewrite each partition’s small files as one, atomically')
    .action(async (table: string, flags: ProjectFlags) => execute('compact', { table }, flags));

  projectOptions(program.command('vacuum'))
    .description('remove what no commit references: staged files of dead runs, unlisted files, expired history (on shared storage only past a grace period)')
    .option('--older-than <seconds>', 'only what is older than this (default: an hour on object storage, at once on a local lake)', count)
    .action(async (flags: ProjectFlags & { olderThan?: number }) => execute('vacuum', { olderThanSeconds: flags.olderThan }, flags));

  projectOptions(program.command('generate'))
    .argument('[name]', 'a generator of the project (none: list them)')
    .description('write realistic data with a generator the project declares')
    .option('--out <path>', 'where to write (default: the generator’s)')
    .option('--size <n>', 'how much to write, in the generator’s unit (rows, events a day…)', count)
    .option('--rows <n>', 'the same as --size', count)
    .option('--seed <n>', 'random seed: the same seed writes the same data', count, 42)
    .option('--set <key=value>', 'a further option of the generator (repeatable)', collect)
    .action(async (name: string | undefined, flags: ProjectFlags & { out?: string; size?: number; rows?: number; seed: number; set?: string[] }) => {
      const { generate } = await import('./examples.js');
      await generate(await projectOf(flags), name, flags);
    });

  projectOptions(program.command('produce'))
    .argument('[name]', 'a replayer of the project (none: list them)')
    .description('send live events with a replayer the project declares: bursts like the original producer, or --rate N per second')
    .option('--to <url>', 'the Tributary server to send to (default: the project’s running server)', serverUrl)
    .option('--rate <n>', 'events per second', count)
    .option('--count <n>', 'stop after this many events', count)
    .option('--into-log', 'append straight into the project’s log instead of sending to a server (the server must not be running)')
    .action(async (name: string | undefined, flags: ProjectFlags & { to?: string; rate?: number; count?: number; intoLog?: boolean }) => {
      const { produce } = await import('./examples.js');
      await produce(await projectOf(flags), name, flags);
    });

  projectOptions(program.command('up'))
    .description('run the server (UI, API, collector, status, metrics), the log, the stream jobs and the scheduler in one process')
    .option('--host <host>', 'address to listen on; anything but loopback needs TRIBUTARY_TOKEN', '127.0.0.1')
    .option('--port <port>', 'port to listen on', portNumber, 7070)
    .action(async (flags: ProjectFlags & { host: string; port: number }) => {
      const project = await projectOf(flags);
      const running = runningServer(project);
      if (running) {
        throw new TributaryError(`a Tributary server already runs this project at ${running.url}`, {
          hint: 'use that one, or stop it (Ctrl+C where it runs) first; a second server of a shared catalog needs a data folder of its own (--data-dir)',
        });
      }
      const { startStack } = await import('../owner/stack.js');
      const stack = await startStack(project, { host: flags.host, port: flags.port, token: process.env.TRIBUTARY_TOKEN, targetNamed: Boolean(flags.target ?? process.env.TRIBUTARY_TARGET) });
      // Bound beyond loopback, the address a listener reports is only one of those it answers on.
      const exposed = !['127.0.0.1', 'localhost', '::1'].includes(flags.host);
      console.error(`Tributary is up at ${stack.url} (project ${stack.project})${exposed ? `, and on ${flags.host} for other machines (every request needs TRIBUTARY_TOKEN)` : ''}. Ctrl+C stops it.`);
    });

  projectOptions(program.command('drain'))
    .description('run the stream jobs until their inputs have nothing more, then stop (replays, backfills, benchmarks)')
    .option('--max-batch <n>', 'events per micro-batch instead of the configured maxBatch', count)
    .option('--json', 'print the jobs’ final status as JSON')
    .action(async (flags: ProjectFlags & { maxBatch?: number; json?: boolean }) => {
      const project = await projectOf(flags);
      const url = runningServer(project)?.url;
      if (url) throw new TributaryError(`the server at ${url} runs this project's stream jobs`, { hint: 'see them with `tributary status`, or stop the server to drain here' });
      const { drain } = await import('./up.js');
      await drain(project, flags);
    });

  projectOptions(program.command('worker'))
    .description('join the project through its shared catalog (TRIBUTARY_CATALOG): run its stream jobs with the other workers, splitting their partitions, and take the scheduler leader’s model runs')
    .option('--stream <name...>', 'only these stream jobs')
    .option('--max-batch <n>', 'events per micro-batch instead of the configured maxBatch', count)
    .action(async (flags: ProjectFlags & { stream?: string[]; maxBatch?: number }) => {
      const { work } = await import('./up.js');
      await work(await projectOf(flags), flags);
    });

  projectOptions(program.command('status'))
    .description('per stream job: lag, events/s, last batch, latency, dead letters, late events')
    .option('--url <url>', 'the running Tributary server (default: the project’s)', serverUrl)
    .action(async (flags: ProjectFlags & { url?: string }) => {
      const { showStatus } = await import('./up.js');
      await showStatus(flags.url ?? runningServer(await projectOf(flags))?.url ?? 'http://127.0.0.1:7070');
    });

  program
    .command('demo')
    .argument('[example]', 'which example to run (its folder under examples/; default: the package’s demo)')
    .description('an example end to end on embedded defaults: batch load, log, stream job, live events, dashboard')
    .option('--port <port>', 'port for the dashboard', portNumber, 7070)
    .option('--rate <n>', 'events per second instead of the example’s bursts', count)
    .option('--data-dir <dir>', 'keep the lake and warehouse here (default: inside the example; for an installed package, in its copy under ~/.tributary/demos)')
    .action(async (example: string | undefined, flags: { port: number; rate?: number; dataDir?: string }) => {
      const { demo } = await import('./examples.js');
      await demo(example, flags);
    });

  return program;
}

/** Runs the CLI and returns the exit code; errors print as file:line, what, and what to do next. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Every command's usage error comes back here (exit 2); commander's own would exit 1 on the spot.
  const throwUsageErrors = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(throwUsageErrors);
  };
  throwUsageErrors(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    // Only commander's own codes are strings of this form (a DOMException's code is a number).
    const code = (error as { code?: unknown }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (typeof code === 'string' && code.startsWith('commander.')) return 2;
    // A message may quote data (a value, a line): printed safe for the terminal.
    console.error(`${stderrColours().red('error:')} ${printable(errorMessage(error))}`);
    if (process.env.TRIBUTARY_DEBUG && error instanceof Error) console.error(error.stack);
    if (error instanceof CommandInputError) return 2;
    return interruptedExitCode() ?? 1;
  }
}
