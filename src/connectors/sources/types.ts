import { withFamily } from '../../core/component.js';
import { z } from 'zod';
import type { ColumnInfo } from '../../catalog/index.js';
import type { Component } from '../../core/component.js';
import type { DataInterval } from '../../core/interval.js';
import { columnsSchema, maxQuarantinedSchema, ruleSchema } from '../../core/schemas.js';
import type { Engine } from '../../engine/index.js';

/** A row a reader refused or a connector set aside before it became a typed row: a bad CSV line, say. */
export interface RejectedRow {
  file: string;
  /** Physical line in the file, when the input has lines. */
  line: number | null;
  /** Record number within the file (1-based), when the input is records without lines (JSON files). */
  record?: number | null;
  column: string | null;
  reason: string;
  raw: string | null;
  /** Bytes of the whole record when `raw` holds less of it (a reader keeps 10,000 characters of a 10 MB line). */
  rawBytes?: number;
}

/**
 * A record a load looks for by its text (a line of a file): the byte length and MD5 (hex) of its text, and how many lines hold that
 * text. The text is what the engine's line reader gives: without the line ending (LF or CRLF), and
 * the first line without a UTF-8 byte-order mark.
 */
export interface LineFingerprint {
  bytes: number;
  md5: string;
  count: number;
}

export interface SourceContext {
  /** The source's name in the project. */
  name: string;
  engine: Engine;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
  /** Scratch space for this run (unpacked archives, repaired copies); removed after the run. */
  scratchDir: string;
  runId: string;
  interval?: DataInterval;
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
  /** True when the relation carries a per-row `__error` column (NULL when the row typed exactly). */
  hasParseError: boolean;
  /**
   * The rows as a SQL relation. `located` numbers them: it adds `__file` and `__record` (1-based
   * record number within its file) and reads in file order, for finding quarantined rows' lines;
   * `files` limits that read to these of `files`. `shapeOnly`: the same columns and types over
   * as few files as give them (a reader may type a column by every file: Hive partition values),
   * for statements that bind the relation without scanning it (a
   * view's definition, DESCRIBE, EXPLAIN), which otherwise do the reader's work for every file:
   * seconds for 90,000 files; a source that has no cheaper relation gives the whole one.
   */
  relation(options?: { located?: boolean; files?: readonly string[]; shapeOnly?: boolean }): string;
  /**
   * True when the relation, unlocated too, carries `__file` (the file of `files` a row came from):
   * a load then learns in its own pass which files hold failing rows, and reads only those again
   * to locate them.
   */
  labelsFiles?: boolean;
  /**
   * A column of the relation, located or not, holding each record's text as it stands in its file
   * (a JSON-lines file's line), beside `__file`: a load puts a fingerprint of each failing record's
   * text in its writer's verdict, and asks `find` for them instead of a located scan; a record
   * quarantined keeps that text.
   */
  rawColumn?: string;
  /**
   * The records with these fingerprints (per file), found by reading each file's bytes once (the
   * independent count's read), as a located relation of just them: the rows `relation({ located:
   * true })` would give for them. Undefined when some could not be found; the load then reads the
   * files holding them again.
   */
  find?(wanted: ReadonlyMap<string, readonly LineFingerprint[]>): Promise<string | undefined>;
  /** Rows the reader itself refused during scans of `relation()`; read after the scan ran. */
  rejects(): Promise<RejectedRow[]>;
  /**
   * Checks the records the reader produced (rows it yielded plus rows it refused) against an
   * independent count of the input's records. Resolves to nothing when they agree. When the
   * connector can isolate what made them disagree (a runaway quote), it resolves to a scan of the
   * repaired input and the rows it set aside; otherwise it throws an error naming file and line.
   * It may also resolve to a scan that reads some files another way when the rows the reader
   * refused show that a declared rule applies to them (a CSV value a declared cast reads).
   */
  reconcile(yielded: number, rejects: readonly RejectedRow[]): Promise<Repair | undefined>;
  /**
   * After a scan of `relation()` failed: a scan of a repaired input to run again with, when the
   * connector knows the cause and how to read past it (a file mixing line endings, say);
   * undefined when it does not, and the error stands.
   */
  recover?(error: Error): Promise<Repair | undefined>;
  /**
   * Physical lines (or record numbers) of records from a located scan, in one file; with `text`, the
   * record as it stands in the file (its lines joined), for a source whose scan does not carry it.
   */
  locate(file: string, records: readonly number[], rejects: readonly RejectedRow[]): Promise<Map<number, RecordPlace>>;
  close(): Promise<void>;
}

/** Where a record of a located scan stands in its file. */
export interface RecordPlace {
  line: number | null;
  record: number | null;
  text?: string;
}

export interface Repair {
  scan: SourceScan;
  setAside: RejectedRow[];
}

/** The fields every source declares, whatever its format. */
export const sourceBase = {
  /** File path or glob, relative to the project folder; `{ds}`, `{yyyy}`, `{mm}`, `{dd}` take the run's day. */
  path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Declared schema, column → DuckDB type (or `{ type, key, from }`). Without it the schema is inferred. */
  columns: columnsSchema.optional(),
  rules: z.array(ruleSchema).optional(),
  /** Most rows a load may quarantine before it fails and commits nothing; default 1 % (and at least 10 rows). */
  maxQuarantined: maxQuarantinedSchema.optional(),
  description: z.string().optional(),
};

export type SourceComponent<Format extends string = string, Config extends z.ZodType = z.ZodType> = Component<Format, Config, SourceContext, Promise<SourceScan>>;

/** A source (Tributary's or a project's): `format` names it in `sources`. */
export function defineSource<const Format extends string, Config extends z.ZodType>(component: SourceComponent<Format, Config>) {
  return withFamily('source', 'format', component);
}
