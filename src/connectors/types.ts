import type { ColumnInfo } from '../catalog/index.js';
import type { SourceConfig } from '../core/config.js';
import type { Engine } from '../engine/index.js';

/** A row a reader refused before it became a typed row: a bad CSV line, say. */
export interface RejectedRow {
  file: string;
  line: number | null;
  column: string | null;
  reason: string;
  raw: string | null;
}

export interface SourceContext {
  engine: Engine;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
  /** Scratch space for this run (unpacked archives); removed after the run. */
  scratchDir: string;
  runId: string;
  date?: string;
  log: (message: string) => void;
}

/**
 * An opened source: SQL that yields its typed rows, plus what the run needs to account for them.
 * The relation is evaluated by the engine inside a model's query, so a source costs one scan.
 */
export interface SourceScan {
  files: string[];
  bytes: number;
  columns: ColumnInfo[];
  /** True when the relation carries a per-row `__error` column (NULL when the row parsed). */
  hasParseError: boolean;
  /**
   * The rows as a SQL relation. `located` numbers them: it adds `__file` and `__record` (1-based
   * record number within its file) and reads in file order, for finding quarantined rows' lines.
   */
  relation(options?: { located?: boolean }): string;
  /** Fails when an input file proved damaged (a truncated .gz, say); awaited before commit. */
  verified(): Promise<void>;
  /** Rows the reader itself refused during scans of `relation()`; read after the scan ran. */
  rejects(): Promise<RejectedRow[]>;
  /** The line in `file` of a record number from a located scan. */
  lineOf(file: string, record: number, rejects: readonly RejectedRow[]): number;
  close(): Promise<void>;
}

/** One per file format; registered in `registry.ts`. */
export interface SourceConnector {
  format: SourceConfig['format'];
  open(name: string, config: SourceConfig, context: SourceContext): Promise<SourceScan>;
}

/** The columns a source declares, in order; undefined when it leaves them to inference. */
export function declaredColumns(config: SourceConfig): ColumnInfo[] | undefined {
  return config.columns ? Object.entries(config.columns).map(([name, type]) => ({ name, type })) : undefined;
}
