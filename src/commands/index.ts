import { catalogCommand, crawlCommand, snapshotsCommand } from './catalog.js';
import { backfillCommand, clearCommand, jobRunsCommand, jobsCommand, pauseCommand, triggerCommand } from './jobs.js';
import { lookupCommand } from './lookup.js';
import { lsCommand } from './ls.js';
import { runCommand } from './run.js';
import { compactCommand, deadLettersCommand, quarantineCommand, runsCommand, vacuumCommand } from './runs.js';
import { sqlCommand } from './sql.js';
import { buildCommand, compileCommand, seedCommand, showCommand, snapshotCommand, sourceFreshnessCommand, testCommand } from './dbt.js';
import type { CommandSpec } from './types.js';

/** The commands that work on a project's state: run by the CLI itself, or inside the server that owns the state. */
export const commands: Record<string, CommandSpec> = Object.fromEntries(
  [
    runCommand,
    buildCommand,
    seedCommand,
    snapshotCommand,
    sourceFreshnessCommand,
    testCommand,
    compileCommand,
    showCommand,
    lsCommand,
    sqlCommand,
    catalogCommand,
    snapshotsCommand,
    crawlCommand,
    runsCommand,
    quarantineCommand,
    deadLettersCommand,
    compactCommand,
    vacuumCommand,
    lookupCommand,
    jobsCommand,
    triggerCommand,
    backfillCommand,
    pauseCommand,
    clearCommand,
    jobRunsCommand,
  ].map((c): [string, CommandSpec] => [c.name, c]),
);

export { commandInput, CommandInputError, day } from './input.js';
export { runReadOnly, type QueryLimits, type QueryOutcome } from './query.js';
export { renderRows, streamRows, type OutputFormat } from './output.js';
export { modelColumns, type ModelColumn } from './ls.js';
export { intervalOf } from './run.js';
export { jobsView, runsView, taskView, runJson, dsOf, requireLeading } from './jobs.js';
export type { CommandContext, CommandIO, CommandSpec, ProjectScheduler, SchedulerOpener, ServerServices } from './types.js';
