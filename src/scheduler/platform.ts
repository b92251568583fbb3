import type { RunKind } from './store.js';

/**
 * What the scheduler needs from the rest of Tributary. The lead implements this once (engine, models,
 * quality, lake, project loader); tests pass a fake. Nothing here knows about job definitions.
 */

/** A run's data interval as the platform sees it: [start, end), `ds` its start date in the job's zone. */
export interface RunInterval {
  start: Date;
  end: Date;
  ds: string;
  timezone: string;
}

/** Passed to every long platform call: abort when the task times out, and lines for the task's log. */
export interface PlatformCall {
  signal: AbortSignal;
  log(line: string): void;
  /** Which task attempt asks: the platform records its work under the run, with its attempt. */
  origin?: { job: string; task: string; runId: string; runKind: RunKind; attempt: number; attemptOffset: number };
}

export interface ChecksReport {
  passed: number;
  failures: Array<{ check: string; table?: string; message: string }>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface CompactionReport {
  table: string;
  partitions: number;
  filesBefore: number;
  filesAfter: number;
}

export interface Platform {
  /** Runs the selected models for the interval (selector syntax is the platform's: names, 'orders+', 'tag:daily'). */
  runModels(request: PlatformCall & { select: readonly string[]; exclude: readonly string[]; fullRefresh: boolean; interval: RunInterval }): Promise<unknown>;
  /** Runs the project's checks (all, or those of some tables) for the interval. */
  runChecks(request: PlatformCall & { tables?: readonly string[]; interval: RunInterval }): Promise<ChecksReport>;
  /** Rewrites each partition's small files of lake tables as one, atomically (readers and writers go on). */
  compactTables(request: PlatformCall & { tables: readonly string[] }): Promise<CompactionReport[]>;
  /** Runs one SQL statement on the engine; rows as objects in column order. */
  query(sql: string, options: { signal: AbortSignal }): Promise<ReadonlyArray<Record<string, unknown>>>;
  /** Whether an object (a key relative to the lake root) exists in the lake's storage. */
  lakeObjectExists(key: string, options: { signal: AbortSignal }): Promise<boolean>;
  /** Imports a project module (a path relative to the project root), e.g. through tsx. */
  importModule(path: string): Promise<Record<string, unknown>>;
  /** The scheduler's own diagnostics (not task logs, which go to the store and to events). */
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  now(): Date;
  /**
   * The newest commit (a snapshot id) that changed any of these tables, if one did. A job scheduled
   * on table changes compares it at start with what its last run was triggered by, so commits made
   * while no scheduler listened (the process was down, or starting) still get their run.
   */
  lastChange?(tables: readonly string[]): Promise<number | undefined>;
  /** Relative file globs, shell working directories and module paths resolve against it. */
  projectDir: string;
  /** Where secrets such as webhook URLs are read from (process.env, possibly with a .env file merged in). */
  env: Readonly<Record<string, string | undefined>>;
}
