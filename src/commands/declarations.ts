import { z } from 'zod';
import type { ExportDialect, TableExportFormat } from '../catalog/index.js';
import { absolutePath, day, format, limit, name, newTableName, selectors, threads } from './input.js';
import type { CommandDeclaration } from './types.js';

/*
 * Every command's name and input, without its code: what the CLI checks a command against before
 * it sends it to a running server, and what the server's API takes. A client that only sends a
 * command loads this and zod, not the engine, the models and the connectors its code needs.
 */

const declare = <Input extends z.ZodType>(declaration: CommandDeclaration<Input>): CommandDeclaration<Input> => declaration;

/** What dbt's commands take: a selection of nodes, and how the ones that run are built. */
const dbtInput = z.strictObject({
  select: selectors,
  exclude: selectors,
  fullRefresh: z.boolean().optional(),
  format,
  /** Nodes built at the same time (build, seed): the profile target's threads by default. */
  threads,
  /** build, test: every test keeps its failing rows in the audit schema. */
  storeFailures: z.boolean().optional(),
});

export const declared = {
  run: declare({
    name: 'run',
    input: z.strictObject({
      /** None: every model. */
      select: selectors,
      exclude: selectors,
      threads,
      date: day.optional(),
      from: day.optional(),
      to: day.optional(),
      quiet: z.boolean().optional(),
      /** Sources read from another path, by name. */
      sources: z.record(name, absolutePath).optional(),
      /** dbt's --full-refresh: incremental models are rebuilt whole. */
      fullRefresh: z.boolean().optional(),
    }),
    stoppable: true,
  }),
  build: declare({ name: 'build', input: dbtInput, stoppable: true }),
  seed: declare({ name: 'seed', input: dbtInput, stoppable: true }),
  snapshot: declare({ name: 'snapshot', input: dbtInput, stoppable: true }),
  test: declare({ name: 'test', input: dbtInput, stoppable: true }),
  sourceFreshness: declare({ name: 'source-freshness', input: z.strictObject({ select: selectors, format }) }),
  compile: declare({ name: 'compile', input: dbtInput }),
  /** `inline`: a query of the user's own instead of a model. */
  show: declare({ name: 'show', input: z.strictObject({ select: selectors, exclude: selectors, limit: limit(5), inline: z.string().optional(), format }) }),
  ls: declare({ name: 'ls', input: z.strictObject({ select: selectors, exclude: selectors, format, columns: z.boolean().optional() }) }),
  sql: declare({ name: 'sql', input: z.strictObject({ query: z.string().trim().min(1, 'expected a query'), format }) }),
  /** No table: the list; `export` and what goes with it: the table's metadata for another engine. */
  catalog: declare({
    name: 'catalog',
    input: z.strictObject({
      table: name.optional(),
      export: z.enum(['athena', 'spark', 'trino'] satisfies ExportDialect[]).optional(),
      tableFormat: z.enum(['iceberg', 'symlink'] satisfies TableExportFormat[]).optional(),
      snapshot: z.number().int().min(0).optional(),
      database: name.optional(),
      location: name.optional(),
      format,
    }),
  }),
  snapshots: declare({ name: 'snapshots', input: z.strictObject({ limit: limit(30), format }) }),
  /** `store`: a regular expression over a file's name whose first group names its store. */
  crawl: declare({ name: 'crawl', input: z.strictObject({ path: absolutePath, table: newTableName, store: z.string().optional(), format }) }),
  /** `target`: one model's (or source's) runs; `group`: one run of several. */
  runs: declare({ name: 'runs', input: z.strictObject({ limit: limit(20), target: name.optional(), group: name.optional(), format }) }),
  /** `all`: every run's rows, replaced runs included. */
  quarantine: declare({ name: 'quarantine', input: z.strictObject({ model: name.optional(), run: name.optional(), all: z.boolean().optional(), limit: limit(50), format }) }),
  deadLetters: declare({ name: 'dead-letters', input: z.strictObject({ origin: name.optional(), limit: limit(50), format }) }),
  compact: declare({ name: 'compact', input: z.strictObject({ table: name }) }),
  vacuum: declare({ name: 'vacuum', input: z.strictObject({ olderThanSeconds: z.number().int().min(0).optional() }) }),
  lookup: declare({ name: 'lookup', input: z.strictObject({ table: name, key: z.string(), format }) }),
  jobs: declare({ name: 'jobs', input: z.strictObject({ format }) }),
  /** `date`: the run's logical day (default: the schedule's latest). */
  trigger: declare({ name: 'trigger', input: z.strictObject({ job: name, date: day.optional() }), stoppable: true }),
  backfill: declare({ name: 'backfill', input: z.strictObject({ job: name, from: day, to: day, rerunFailed: z.boolean().optional() }), stoppable: true }),
  pause: declare({ name: 'pause', input: z.strictObject({ job: name, paused: z.boolean() }) }),
  /** `mark`: the task is marked so instead of run again. */
  clear: declare({ name: 'clear', input: z.strictObject({ run: name, task: name, downstream: z.boolean().optional(), mark: z.enum(['success', 'failed']).optional() }), stoppable: true }),
  jobRuns: declare({ name: 'job-runs', input: z.strictObject({ job: name, limit: limit(20), format }) }),
} as const;

/** The declarations by command name, as the CLI and the server's API name them. */
export const commandDeclarations: Readonly<Record<string, CommandDeclaration>> = Object.fromEntries(Object.values(declared).map((d): [string, CommandDeclaration] => [d.name, d]));
