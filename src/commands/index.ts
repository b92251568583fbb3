import { catalogCommand, crawlCommand, snapshotsCommand } from './catalog.js';
import { backfillCommand, clearCommand, jobRunsCommand, jobsCommand, pauseCommand, triggerCommand } from './jobs.js';
import { lookupCommand } from './lookup.js';
import { lsCommand } from './ls.js';
import { runCommand } from './run.js';
import { compactCommand, deadLettersCommand, quarantineCommand, runsCommand, vacuumCommand } from './runs.js';
import { sqlCommand } from './sql.js';
import { buildCommand, compileCommand, seedCommand, showCommand, snapshotCommand, sourceFreshnessCommand, testCommand } from './dbt.js';
import type { CommandSpec } from './types.js';
import type { declared } from './declarations.js';

/**
 * The commands that work on a project's state, with their code: run by the CLI itself, or inside
 * the server that owns the state. Every declared command has its code here (the type says so).
 */
const implementations: { readonly [K in keyof typeof declared]: CommandSpec } = {
  run: runCommand,
  build: buildCommand,
  seed: seedCommand,
  snapshot: snapshotCommand,
  test: testCommand,
  sourceFreshness: sourceFreshnessCommand,
  compile: compileCommand,
  show: showCommand,
  ls: lsCommand,
  sql: sqlCommand,
  catalog: catalogCommand,
  snapshots: snapshotsCommand,
  crawl: crawlCommand,
  runs: runsCommand,
  quarantine: quarantineCommand,
  deadLetters: deadLettersCommand,
  compact: compactCommand,
  vacuum: vacuumCommand,
  lookup: lookupCommand,
  jobs: jobsCommand,
  trigger: triggerCommand,
  backfill: backfillCommand,
  pause: pauseCommand,
  clear: clearCommand,
  jobRuns: jobRunsCommand,
};

export const commands: Readonly<Record<string, CommandSpec>> = Object.fromEntries(Object.values(implementations).map((c): [string, CommandSpec] => [c.name, c]));

export { commandInput, CommandInputError, day } from './input.js';
export { runReadOnly, type QueryLimits, type QueryOutcome } from './query.js';
export { renderRows, streamRows, type OutputFormat } from './output.js';
export { modelColumns, type ModelColumn } from './ls.js';
export { intervalOf } from './run.js';
export { jobsView, runsView, taskView, runJson, dsOf, requireLeading } from './jobs.js';
export type { CommandContext, CommandIO, CommandSpec, ProjectScheduler, SchedulerOpener, ServerServices } from './types.js';
