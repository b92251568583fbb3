import type { Engine } from '../engine/index.js';

/**
 * Where lake files live: a local folder, or a bucket of S3-compatible object storage. The engine
 * writes a run's Parquet files into the storage's staging area (outside every table folder); a
 * commit in the catalog makes them the table's, then `publish` moves each to its key (the
 * Hive-style path other engines read) and retired files move to history.
 *
 * Keys are relative paths such as `events/dt=2019-11-01/part-<run>-0.parquet`. Publishing never
 * overwrites an existing key: every key names the run that wrote it. Locations (what the engine
 * reads and writes) are local paths or `s3://` URLs.
 */
export interface LakeStorage {
  /** Describes the storage for messages and the catalog: the folder, or the bucket and prefix. */
  readonly location: string;
  /**
   * How old a staged or unlisted object must be before it is taken for a dead run's and removed:
   * 0 for a lake one process owns; longer where several processes share it (a younger object may
   * belong to a commit under way in another one).
   */
  readonly graceMs: number;
  /** Prepares an engine to read and write here (an object store's extension and credentials). */
  open(engine: Engine): Promise<void>;
  /** Where one run writes its staged files: a fresh local folder, or a prefix of the bucket. */
  stagingLocation(runId: string): Promise<string>;
  /** A location below another. */
  join(location: string, ...parts: string[]): string;
  /** Makes a folder for a file the engine writes there, where folders exist. */
  prepareFolder(location: string): Promise<void>;
  /** Removes staged files that will not be committed (rows a load diverted, empty partitions). */
  removeStaged(locations: readonly string[]): Promise<void>;
  /** Runs with staged files left behind, none newer than `graceMs`, that this process is not writing. */
  staleStagedRuns(inProgress: ReadonlySet<string>, graceMs: number): Promise<string[]>;
  /** Removes a run's staged files. */
  discardStaging(runId: string): Promise<void>;
  /** Makes a staged file readable at `key`. Idempotent once done. */
  publish(stagedLocation: string, key: string): Promise<void>;
  /** Moves a key to another key (retired files into history). Idempotent once done, and once `copy` made `to`. */
  move(from: string, to: string): Promise<void>;
  /**
   * Makes a key readable at another key too, leaving it where it is: a retired file goes into
   * history while a query that started before its commit may still read it at its key.
   * Idempotent once done.
   */
  copy(from: string, to: string): Promise<void>;
  /** Writes a small object the process made itself (exported table metadata); refuses a key that exists. */
  writeNew(key: string, body: Uint8Array): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix (a table's folder), recursively, with when each was written. */
  list(prefix: string): Promise<{ key: string; modifiedMs: number }[]>;
  /** What the engine reads for a key: a local path or an `s3://` URL. */
  readPath(key: string): string;
}
