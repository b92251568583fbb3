/**
 * Where lake files live. The engine always writes Parquet into a local staging folder; a storage
 * then makes a staged file readable under its key (the Hive-style path other engines read), and
 * removes or moves keys. The local folder is the implementation today; an object store is a
 * second one behind the same surface.
 *
 * Keys are relative paths such as `events/dt=2019-11-01/part-<run>-0.parquet`. Publishing never
 * overwrites an existing key: every key names the run that wrote it.
 */
export interface LakeStorage {
  /** Describes the storage for messages, e.g. the folder or bucket. */
  readonly location: string;
  /** A fresh local folder for one run's staged files. */
  stagingDir(runId: string): string;
  /** Staging folders present, by run id (for clean-up of runs that died). */
  stagedRuns(): string[];
  /** Removes a run's staging folder and whatever it still holds. */
  discardStaging(runId: string): void;
  /** Makes a staged local file readable at `key`. Idempotent once done. */
  publish(stagedPath: string, key: string): Promise<void>;
  /** Moves a key to another key (retired files into history). Idempotent once done. */
  move(from: string, to: string): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix (a table's folder), recursively. */
  list(prefix: string): Promise<string[]>;
  /** What the engine reads for a key: a local path (or, for a remote store, a local cache path). */
  readPath(key: string): string;
}
