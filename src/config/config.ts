import { z } from 'zod';
import { componentUnion, componentUnionWithShorthand, componentUnionWithUrl } from '../core/component.js';
import { columnsSchema, identifier, partitionBySchema, ruleSchema } from '../core/schemas.js';
import { jobsSchemaFor } from '../scheduler/definitions/index.js';
import { builtinComponents, type ComponentRegistry } from './components.js';

const filterSchema = z
  .object({
    /** The SQL parameter it sets: a tile reads it as $id (NULL when unset). */
    id: identifier,
    label: z.string(),
    kind: z.enum(['date', 'select']),
    /** For select: a query whose first column lists the choices. */
    options: z.string().optional(),
  })
  .strict();

const tileSchema = z
  .object({
    id: identifier,
    title: z.string(),
    kind: z.enum(['kpi', 'timeseries', 'bar', 'treemap', 'table', 'pie', 'funnel', 'heatmap']),
    /**
     * The query. Conventions by kind: kpi → one row, column `value`; timeseries → a time column,
     * a series column (optional) and a value column; bar/pie/funnel → label and value; treemap →
     * parent, child and value; heatmap → x, y and value; table → anything.
     */
    sql: z.string().min(1),
    /** Columns of a 12-column grid. */
    width: z.number().int().min(1).max(12).default(4),
    format: z.enum(['number', 'currency', 'percent']).optional(),
    /**
     * A timeseries of live data: its time axis spans the last `window` minutes up to the viewer's
     * clock, and moves with it. Times are read as UTC (events are stamped in UTC). The query should
     * keep to the same window (`WHERE minute >= timezone('UTC', now()) - INTERVAL 60 MINUTE`).
     */
    window: z.number().int().min(1).optional(),
  })
  .strict();

export const dashboardSchema = z
  .object({
    title: z.string(),
    description: z.string().optional(),
    filters: z.array(filterSchema).default([]),
    tabs: z.array(z.object({ title: z.string(), tiles: z.array(tileSchema).min(1) }).strict()).min(1),
  })
  .strict();

export type DashboardConfig = z.input<typeof dashboardSchema>;
export type Dashboard = z.output<typeof dashboardSchema>;
export type Tile = z.output<typeof tileSchema>;

/** Typed identity for dashboard files, like defineProject. */
export function defineDashboard<const T extends DashboardConfig>(dashboard: T): T {
  return dashboard;
}

/**
 * The project file's shape. The zod schema is the single source of truth: the TypeScript types
 * users write against are inferred from it, and the same schema validates the file at load time.
 * Sources, inputs, stores, materialisations, checks and task kinds come from the component
 * registry (Tributary's and the project's own): each component brings the schema of its config.
 */
function schemasFor<R extends ComponentRegistry>(registry: R) {
  /**
   * How a model's rows land: 'table' (a serving table in the embedded warehouse, or in a store of
   * the target: { kind: 'table', store: 'warehouse' }), 'lake' (partitioned Parquet), 'view'
   * (computed when read), 'ephemeral' (inlined where read). A bare kind stands for { kind }.
   */
  const materializeSchema = componentUnionWithShorthand('kind', registry.modelMaterializations as R['modelMaterializations'], 'materialization');
  /** How a stream table's micro-batches land in its sink: 'append' (the default) or { kind: 'merge', keys, merge }. */
  const streamMaterializeSchema = componentUnionWithShorthand('kind', registry.streamMaterializations as R['streamMaterializations'], 'materialization');
  const storeSchema = componentUnion('kind', registry.stores as R['stores'], 'store');
  return {
    materializeSchema,
    streamMaterializeSchema,
    storeSchema,
    sourceSchema: componentUnion('format', registry.sources as R['sources'], 'source'),
    /** A stream's input: its config, or a URL (`kafka://host:9092/topic`) an environment variable can hold. */
    inputSchema: componentUnionWithUrl('kind', registry.inputs as R['inputs'], 'input'),
    checkSchema: componentUnion('test', registry.checks as R['checks'], 'check'),
    /** A sink: a store and the tables a stream keeps in it. */
    sinkSchema: <T extends z.ZodType>(tables: T) =>
      componentUnion('kind', (registry.stores as R['stores']).map((s) => ({ kind: s.kind, config: (s.config as unknown as z.ZodObject).extend({ tables }) })), 'store') as z.ZodType<
        z.output<typeof storeSchema> & { tables: z.output<T> },
        z.input<typeof storeSchema> & { tables: z.input<T> }
      >,
    jobsSchema: jobsSchemaFor(registry.tasks),
  };
}

export function projectSchemaFor<R extends ComponentRegistry>(registry: R) {
  const { materializeSchema, streamMaterializeSchema, storeSchema, sourceSchema, inputSchema, checkSchema, sinkSchema, jobsSchema } = schemasFor(registry);

const modelSchema = z
  .object({
    /** A .sql file relative to the project folder, or the SQL itself. */
    sql: z.string().min(1),
    materialize: materializeSchema,
    /** Partition column → SQL expression over the model's columns; `{ year: 'year' }` partitions by the model's own column. */
    partitionBy: partitionBySchema.optional(),
    /**
     * The column that places a row in time. A run for a data interval (`--date`, a schedule)
     * replaces exactly the rows whose time falls in the interval, whatever the partitioning.
     */
    timeColumn: identifier.optional(),
    /** Serving tables: answer key lookups (`GET /v1/lookup/<table>/<key>`) from an index kept in step with each commit. */
    lookup: z.object({ key: identifier }).strict().optional(),
    /** Labels a selector picks models by: `tributary run --select tag:daily`. */
    tags: z.array(identifier).default([]),
    description: z.string().optional(),
    /** Column → what it holds (dbt: a column's description in schema.yml), shown by the catalog and `tributary ls --columns`. */
    columns: z.record(z.string().min(1), z.string()).optional(),
  })
  .strict();

const topicSchema = z
  .object({
    partitions: z.number().int().min(1).max(1024),
    /** Delete the oldest data once a partition holds more than this many MB. */
    retentionMB: z.number().positive().optional(),
    /** Delete data older than this many hours. */
    retentionHours: z.number().positive().optional(),
    /** fsync each append: survives power loss, not only a killed process. */
    syncEveryAppend: z.boolean().optional(),
    /**
     * Keys that get a partition each (a hot store id, say); other keys hash over the rest. Either
     * the keys, or where to learn them: `{ from: { table, column }, share, max }` gives a
     * partition of its own to each value of the column that carries at least `share` of the
     * table's rows (the `max` largest), chosen at start and again whenever the table changes. A
     * change applies from the next record appended; readers finish what was appended before it
     * first, so each key's records stay in order (see log/log.ts, Topic.setHotKeys).
     */
    hotKeys: z
      .union([
        z.array(z.string()),
        z
          .object({
            from: z.object({ table: identifier, column: identifier }).strict(),
            share: z.number().gt(0).max(1).default(0.05),
            max: z.number().int().min(1).default(4),
          })
          .strict(),
      ])
      .optional(),
    /** JSON field whose value is the record key (for partitioning). */
    keyField: z.string().optional(),
  })
  .strict();

const streamTableObject = z
  .object({
    /** The model whose SQL computes this table from each micro-batch. */
    model: identifier,
    /** How each batch lands: 'append' inserts its rows; { kind: 'merge', keys, merge } combines them into rows with the same keys. */
    materialize: streamMaterializeSchema.default({ kind: 'append' } as never),
    partitionBy: partitionBySchema.optional(),
    /** Answer key lookups on this table (see models.lookup). */
    lookup: z.object({ key: identifier }).strict().optional(),
    /**
     * Event-time tumbling windows: rows whose `time` is older than the watermark (the newest event
     * time seen minus `latenessSeconds`) arrive after their window closed; they are counted and
     * written to the stream's late table instead.
     */
    window: z.object({ time: identifier, sizeSeconds: z.number().positive().default(60), latenessSeconds: z.number().min(0) }).strict().optional(),
  })
  .strict();
/** A stream table; the spelling before materialisations were components (`mode`, `keys`, `merge`) is refused with the new one. */
const streamTableSchema = z.preprocess((value, ctx) => {
  const moved = value && typeof value === 'object' ? ['mode', 'keys', 'merge'].filter((k) => k in value) : [];
  if (moved.length) {
    ctx.addIssue({
      code: 'custom',
      message: `${moved.join(', ')} moved into materialize: write materialize: 'append', or materialize: { kind: 'merge', keys: [...], merge: {...} }`,
      input: value,
    });
  }
  return value;
}, streamTableObject);

const streamSchema = z
  .object({
    input: inputSchema,
    /**
     * The consumer group the job reads as (default: the job's name): its committed offsets, kept
     * with each sink's rows, belong to the group. Jobs reading the same topic as different groups
     * each receive every record; two jobs cannot share a group.
     */
    group: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -').optional(),
    /** The micro-batch is what `{{ source('<binds>') }}` reads in the models it runs. */
    binds: identifier,
    /** Schema of each event, column → DuckDB type (or `{ type, key, from }`). */
    columns: columnsSchema,
    /** How events' fields are read: empty strings as missing, camelCase keys. */
    json: z.object({ emptyAsNull: z.boolean().optional(), keys: z.enum(['as-named', 'camelCase']).optional() }).strict().optional(),
    rules: z.array(ruleSchema).optional(),
    /** Milliseconds from one micro-batch's start to the next's (a batch that takes longer is followed at once); 0 runs the next batch as soon as one commits. */
    triggerMs: z.number().int().min(0).default(1000),
    /** Most events in one micro-batch; the input holds the rest (backpressure). */
    maxBatch: z.number().int().positive().default(200_000),
    sinks: z.record(identifier, sinkSchema(z.record(identifier, streamTableSchema))),
  })
  .strict();

const engineSchema = z
  .object({
    threads: z.number().int().positive().optional(),
    memoryLimit: z.string().optional(),
    /**
     * Rows per row group in the warehouse file (default 30,720, a quarter of DuckDB's): smaller
     * groups shorten the checkpoints a stream's commits wait for; larger ones make bulk writes
     * and scans a little cheaper.
     */
    rowGroupSize: z
      .number()
      .int()
      .multipleOf(2048, "a multiple of 2048, DuckDB's vector size (30720, 61440, 122880)")
      .min(2048)
      .max(122_880, "at most 122880, DuckDB's own size: larger groups need a newer storage version than the warehouse file's")
      .optional(),
  })
  .strict();

/**
 * Where a project's tables go, by name, as dbt's profiles: `dev` with every table embedded, `prod`
 * with the warehouse in PostgreSQL. A table names its store (`{ kind: 'table', store: 'warehouse' }`);
 * the active target (`--target`, TRIBUTARY_TARGET, else `target`, else the first) says what it is.
 */
const targetSchema = z
  .object({
    description: z.string().optional(),
    /** Store name → where it is: { kind: 'duckdb' } (embedded), { kind: 'postgres', urlEnv }, { kind: 'mysql', urlEnv }. */
    stores: z.record(identifier, storeSchema).default({}),
  })
  .strict();

/**
 * A client of the project's data (a brand it reports to) with a token of its own. The server
 * applies its row scope to everything the token reads: dashboards, the SQL lab, lookups.
 */
const accessClientSchema = z
  .object({
    /** The environment variable holding the client's token: tokens never live in the project file. */
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'),
    /**
     * Column → value, e.g. { brand: 'LEGO' }: a table with these columns shows only the rows that
     * hold the values; a table without them is hidden unless listed in `public`.
     */
    rows: z.record(identifier, z.union([z.string(), z.number(), z.boolean()])).refine((rows) => Object.keys(rows).length > 0, 'name at least one column'),
    /** Tables without the row columns that the client may read whole (reference data: stores, calendars). */
    public: z.array(identifier).default([]),
    /** Dashboards the client may open, computed over its rows. */
    dashboards: z.array(identifier).default([]),
  })
  .strict();

/** A module of the project (a generator, a replayer): a TypeScript file and what it does. */
const moduleSchema = z.object({ module: z.string().min(1), description: z.string().optional() }).strict();

const projectSchema = z
  .object({
    name: identifier,
    description: z.string().optional(),
    /**
     * Where the lake lives: a folder relative to the project (default `lake`), or S3-compatible
     * object storage, `s3://bucket/prefix` (endpoint, region and credentials from the environment:
     * AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). TRIBUTARY_LAKE overrides it.
     */
    lake: z.string().min(1).optional(),
    /**
     * Parquet compression of lake files. snappy (the default) is read by every engine; lz4 (LZ4_RAW)
     * writes fastest and is read by DuckDB, Trino/Athena and Spark 3.4+; zstd is smallest.
     */
    lakeCompression: z.enum(['snappy', 'lz4', 'zstd', 'gzip', 'uncompressed']).default('snappy'),
    /**
     * Parquet format version of lake files. v1 (the default) is read by every engine; v2's
     * delta encodings write faster and smaller, and are read by DuckDB, Spark 3, Trino/Athena.
     */
    lakeParquetVersion: z.enum(['v1', 'v2']).default('v1'),
    /** Hours a replaced lake file stays in the lake's history, where time travel (`AT (VERSION => n)`) reads it. 0 deletes at once. */
    lakeHistoryHours: z.number().min(0).default(24),
    /** Where the embedded warehouse and catalog live. Default `.tributary`. */
    state: z.string().optional(),
    /**
     * The catalog (and the warehouse's tables) in PostgreSQL, shared by every process of the
     * project (workers, several `tributary up`): its URL from the environment variable `urlEnv`.
     * TRIBUTARY_CATALOG overrides it with a URL. Without either, both live in the state folder.
     */
    catalog: z
      .object({ urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as CATALOG_URL') })
      .strict()
      .optional(),
    /** SQL file of macros created before any model runs. */
    macros: z.string().optional(),
    engine: engineSchema.optional(),
    /** The project's targets; none: one target where every table is embedded. */
    targets: z.record(identifier, targetSchema).default({}),
    /** The target used when neither `--target` nor TRIBUTARY_TARGET names one (default: the first declared). */
    target: identifier.optional(),
    /** Models a run builds at the same time, as dbt's threads (`--threads`); the engine's own threads are shared among them. */
    threads: z.number().int().min(1).max(64).default(1),
    sources: z.record(identifier, sourceSchema).default({}),
    models: z.record(identifier, modelSchema).default({}),
    checks: z.array(checkSchema).default([]),
    topics: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -'), topicSchema).default({}),
    streams: z.record(identifier, streamSchema).default({}),
    /** Dashboard name → dashboard file (TypeScript exporting defineDashboard(...)), relative to the project. */
    dashboards: z.record(identifier, z.string().min(1)).default({}),
    /** Data generators of the project (`tributary generate <name>`): modules exporting defineGenerator(...). */
    generators: z.record(identifier, moduleSchema).default({}),
    /** Live event replayers (`tributary produce <name>`): modules exporting defineReplayer(...). */
    replayers: z.record(identifier, moduleSchema.extend({ topic: z.string().min(1) }).strict()).default({}),
    /**
     * What `tributary demo` runs: the batch models first (all, or the ones listed: a model that
     * reads a stream's table can only be built once the stream has written, so a job builds it),
     * then live data: this replayer's events into the log, or this generator's live files into a
     * folder (relative to the project) that a stream reads, such as a spool input's `dir`.
     */
    demo: z
      .object({
        replay: identifier.optional(),
        runBatch: z.union([z.boolean(), z.array(identifier).min(1)]).default(true),
        writer: z.object({ generator: identifier, out: z.string().min(1) }).strict().optional(),
      })
      .strict()
      .optional(),
    /**
     * Jobs the scheduler runs (`tributary up` runs the scheduler): DAGs of tasks with a schedule,
     * data intervals, sensors, retries, backfills, notifications and reconciliation.
     */
    jobs: jobsSchema.default({}),
    /** Queries the SQL lab offers as examples. */
    lab: z.object({ examples: z.array(z.object({ title: z.string(), sql: z.string().min(1) }).strict()) }).strict().optional(),
    /** Client tokens scoped to rows (brand clients); declaring any makes the server require TRIBUTARY_TOKEN for the admin. */
    access: z.object({ clients: z.record(identifier, accessClientSchema).default({}) }).strict().optional(),
    /**
     * The project's own components (or an npm package's): sources, inputs, stores,
     * materialisations, checks and task kinds made with defineSource, defineInput, defineStore,
     * defineMaterialization, defineCheck and defineTask. Their kinds are then valid where their
     * family goes, checked by their own schemas.
     */
    components: z.array(z.custom<{ family: string; kind: string }>()).optional(),
  })
  .strict();
  return { projectSchema, modelSchema, checkSchema, targetSchema, topicSchema, streamSchema, streamTableSchema };
}

const builtin = projectSchemaFor(builtinComponents);
/** The project file's schema with Tributary's components (a project with its own is checked by projectSchemaFor). */
export const projectSchema = builtin.projectSchema;

export type ProjectConfig = z.input<typeof projectSchema>;
export type ResolvedConfig = z.output<typeof projectSchema>;
export type SourceConfig = ResolvedConfig['sources'][string];
export type ModelConfig = z.output<typeof builtin.modelSchema>;
export type CheckConfig = z.output<typeof builtin.checkSchema>;
export type TargetConfig = z.output<typeof builtin.targetSchema>;
export type TopicConfig = z.output<typeof builtin.topicSchema>;
export type StreamConfig = z.output<typeof builtin.streamSchema>;
export type StreamSinkConfig = StreamConfig['sinks'][string];
export type StreamTableConfig = z.output<typeof builtin.streamTableSchema>;
export type JobsConfig = ResolvedConfig['jobs'];
export type { Rule } from '../core/schemas.js';

/** Typed identity: gives editors completion and type errors in `tributary.config.ts`. */
export function defineProject<const T extends ProjectConfig>(config: T): T {
  return config;
}
