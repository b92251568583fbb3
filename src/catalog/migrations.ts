import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import { packageInfo } from '../core/package.js';
import type { Engine, Transaction } from '../engine/index.js';
import { LEGACY_TABLES, METASTORE_DDL, METASTORE_SHAPES, METASTORE_VERSION } from './schema.js';

/**
 * The metastore's schema on open: a new state is created at METASTORE_VERSION; an existing one
 * has its version read (the row of `tributary.metastore`, or, when there is none, its tables),
 * is checked against that version's shape, and is brought to this release's version by the steps
 * below, all in one transaction before anything else reads the state. A state of a newer release,
 * or one no step leads from, is refused with what to do, and left as it was.
 */

export interface Migration {
  /** The schema version it starts from; it leaves the state at `from + 1`. */
  from: number;
  /** What it changes, in a sentence: recorded in `tributary.migrations`. */
  description: string;
  /**
   * The change, on the one transaction every step of an open shares. It must not commit, and it
   * writes its own SQL literally (not today's DDL), so that it makes the same change for ever.
   */
  up(tx: Transaction): Promise<void>;
}

/** Every step, in order: from version N to N + 1. */
export const MIGRATIONS: readonly Migration[] = [
  {
    from: 2,
    description: 'adds tributary.migrations: each migration with the release that ran it and when',
    up: async (tx) => {
      await tx.run(`CREATE TABLE tributary.migrations (
        version INTEGER NOT NULL, from_version INTEGER, description VARCHAR NOT NULL, release VARCHAR,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    },
  },
  {
    from: 3,
    description: "adds data_files.schema_version: the table's schema a file was written with (files written before have none, and are read by name)",
    up: async (tx) => {
      await tx.run('ALTER TABLE tributary.data_files ADD COLUMN schema_version INTEGER');
    },
  },
  {
    from: 4,
    description: "adds tables.definition (a view's SQL, from which each process makes the view) and runs.host (the machine of the process running it); tables.partition_by loses its default",
    up: async (tx) => {
      await tx.run('ALTER TABLE tributary.tables ADD COLUMN definition VARCHAR');
      await tx.run('ALTER TABLE tributary.runs ADD COLUMN host VARCHAR');
      await tx.run('ALTER TABLE tributary.tables ALTER COLUMN partition_by DROP DEFAULT');
    },
  },
  {
    from: 5,
    description: 'adds tributary.model_batches: the processed batches of each microbatch model, committed with its rows',
    up: async (tx) => {
      await tx.run(`CREATE TABLE tributary.model_batches (
        model VARCHAR NOT NULL, batch_start VARCHAR NOT NULL, batch_end VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        processed_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (model, batch_start))`);
    },
  },
  {
    from: 6,
    description: "adds runs.timing: where a run's time went, phase by phase (runs before it have none)",
    up: async (tx) => {
      await tx.run('ALTER TABLE tributary.runs ADD COLUMN timing VARCHAR');
    },
  },
];

export interface MigrateOptions {
  /** The steps to take (tests register their own); MIGRATIONS by default. */
  migrations?: readonly Migration[];
  /** The version to reach; METASTORE_VERSION by default. */
  version?: number;
}

export interface OpenedSchema {
  /** The schema version the state is at now. */
  version: number;
  /** The version found on open; undefined for a state created now. */
  found: number | undefined;
  /** How the version was found: its row in tributary.metastore, or the state's tables when it had none. */
  foundBy: 'record' | 'shape' | 'created';
  /** The steps run on this open, in order (none for a new or current state). */
  migrated: { from: number; to: number; description: string }[];
}

type Shape = Map<string, Set<string>>;

/** Creates, reads, checks and migrates the metastore's schema on `engine` (the state's owner, before any other use). */
export async function openSchema(engine: Engine, options: MigrateOptions = {}): Promise<OpenedSchema> {
  const target = options.version ?? METASTORE_VERSION;
  const steps = options.migrations ?? MIGRATIONS;
  const release = packageInfo().version;
  const shape = await readShape(engine);

  if (!shape.size) {
    await engine.transaction(async (tx) => {
      await tx.run(METASTORE_DDL);
      await tx.run('INSERT INTO tributary.metastore VALUES ($1)', [target]);
      await tx.run(`INSERT INTO tributary.migrations (version, from_version, description, release) VALUES ($1, NULL, 'created', $2)`, [target, release]);
    });
    return { version: target, found: undefined, foundBy: 'created', migrated: [] };
  }

  let found = shape.has('metastore') ? await recordedVersion(engine) : undefined;
  const foundBy = found === undefined ? 'shape' : 'record';
  if (found === undefined) {
    if (LEGACY_TABLES.some((t) => shape.has(t))) {
      throw cannotMigrate(engine, 'it was written by the first catalog (schema version 1, with tributary.files), which no release can migrate');
    }
    found = identify(shape, target);
    if (found === undefined) {
      throw cannotMigrate(
        engine,
        `it records no schema version and its tables in schema tributary (${[...shape.keys()].sort().join(', ')}) are those of no version this release knows`,
      );
    }
  }
  if (found > target) throw newer(engine, found, target, release, await lastRelease(engine, shape));

  const lacks = missing(shape, METASTORE_SHAPES[found]);
  if (lacks.length) throw cannotMigrate(engine, `it records schema version ${found} but lacks ${lacks.join(', ')}: it is damaged`);
  if (found === target && foundBy === 'record') return { version: target, found, foundBy, migrated: [] };

  const plan: Migration[] = [];
  for (let version = found; version < target; version++) {
    const step = steps.find((s) => s.from === version);
    if (!step) throw cannotMigrate(engine, `it is at schema version ${found}, and this release has no migration from version ${version} to ${version + 1}`);
    plan.push(step);
  }
  let running: Migration | undefined;
  try {
    await engine.transaction(async (tx) => {
      for (const step of plan) {
        running = step;
        await step.up(tx);
      }
      running = undefined;
      await tx.run('DELETE FROM tributary.metastore');
      await tx.run('INSERT INTO tributary.metastore VALUES ($1)', [target]);
      const now = await readShape(tx);
      if (now.has('migrations')) {
        const records: [number, number | null, string][] = [];
        if (foundBy === 'shape') records.push([found!, null, `no version was recorded: identified as version ${found} by its tables`]);
        for (const step of plan) records.push([step.from + 1, step.from, step.description]);
        for (const [version, from, description] of records) {
          await tx.run('INSERT INTO tributary.migrations (version, from_version, description, release) VALUES ($1, $2, $3, $4)', [version, from, description, release]);
        }
      }
      // What the steps made must be the shape this release reads; if not, nothing of it is kept.
      const wrong = missing(now, METASTORE_SHAPES[target]);
      if (wrong.length) throw new Error(`after the migration the state lacks ${wrong.join(', ')}`);
    });
  } catch (error) {
    const what = running ? `the step from version ${running.from} to ${running.from + 1} (${running.description}) failed` : 'it failed';
    throw new TributaryError(
      `the state in ${stateDir(engine)} could not be migrated from schema version ${found} to ${target}: ${what}: ${(error as Error).message.split('\n')[0]}. Nothing was changed: the migration ran in one transaction, which was rolled back`,
      { hint: `${REBUILD(engine)}; or keep the state and report this error to Tributary's maintainers`, cause: error },
    );
  }
  return { version: target, found, foundBy, migrated: plan.map((s) => ({ from: s.from, to: s.from + 1, description: s.description })) };
}

/** The state's tables in schema tributary and their columns. */
async function readShape(engine: Pick<Engine, 'query'>): Promise<Shape> {
  const rows = await engine.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'tributary'`,
  );
  const shape: Shape = new Map();
  for (const r of rows) {
    const columns = shape.get(r.table_name) ?? new Set<string>();
    columns.add(r.column_name);
    shape.set(r.table_name, columns);
  }
  return shape;
}

async function recordedVersion(engine: Engine): Promise<number | undefined> {
  const v = await engine.scalar<number | null>('SELECT max(version) FROM tributary.metastore');
  return v === null || v === undefined ? undefined : Number(v);
}

/** The tables and columns of `expected` that `shape` lacks, as `table` or `table.column`. */
function missing(shape: Shape, expected: Readonly<Record<string, readonly string[]>> | undefined): string[] {
  if (!expected) return [];
  return Object.entries(expected).flatMap(([table, columns]) => {
    const have = shape.get(table);
    return have ? columns.filter((c) => !have.has(c)).map((c) => `tributary.${table}.${c}`) : [`tributary.${table}`];
  });
}

/** The newest known version (up to `target`) whose tables the state has in full. */
function identify(shape: Shape, target: number): number | undefined {
  const versions = Object.keys(METASTORE_SHAPES).map(Number).filter((v) => v <= target).sort((a, b) => b - a);
  return versions.find((v) => !missing(shape, METASTORE_SHAPES[v]).length);
}

async function lastRelease(engine: Engine, shape: Shape): Promise<string | undefined> {
  if (!shape.get('migrations')?.has('release') || !shape.get('migrations')?.has('applied_at')) return undefined;
  try {
    return (await engine.scalar<string | null>('SELECT release FROM tributary.migrations WHERE release IS NOT NULL ORDER BY applied_at DESC LIMIT 1')) ?? undefined;
  } catch {
    return undefined;
  }
}

function stateDir(engine: Engine): string {
  return engine.path === ':memory:' || !engine.path ? 'memory' : path.dirname(path.resolve(engine.path));
}

const REBUILD = (engine: Engine) =>
  `to start afresh, move the state folder (${stateDir(engine)}) and the project's lake folder somewhere else, keeping them until the new state is checked, ` +
  'then run `tributary run` to rebuild both from the sources (stream offsets, dead letters and schedule history start empty)';

function cannotMigrate(engine: Engine, why: string): TributaryError {
  return new TributaryError(`the state in ${stateDir(engine)} cannot be opened by this release: ${why}; it was left as it was`, { hint: REBUILD(engine) });
}

function newer(engine: Engine, found: number, target: number, release: string, by: string | undefined): TributaryError {
  return new TributaryError(
    `the state in ${stateDir(engine)} was written by a newer Tributary: its metastore is at schema version ${found}${by ? ` (set by Tributary ${by})` : ''}, and this Tributary (${release}) reads schema version ${target} and older; it was left as it was`,
    {
      hint:
        `upgrade Tributary to a release that reads schema version ${found} (\`npm install tributary@npm:tributary-data@latest\` in the project, ` +
        'or `npm install -g tributary-data@latest` where it is installed globally) and run again; this release cannot open the state',
    },
  );
}
