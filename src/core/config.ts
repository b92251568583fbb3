import { z } from 'zod';

/**
 * The project file's shape. The zod schema is the single source of truth: the TypeScript types
 * users write against are inferred from it, and the same schema validates the file at load time.
 */

const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*$/, 'expected a lower-case SQL identifier (letters, digits, _; not starting with a digit)');

/** A DuckDB type name, e.g. 'BIGINT', 'DECIMAL(10,2)', 'TIMESTAMP', "ENUM('a','b')". */
const columnType = z.string().min(1, 'expected a DuckDB type such as BIGINT or VARCHAR');

const ruleSchema = z
  .object({
    column: identifier,
    notNull: z.boolean().optional(),
    accepted: z.array(z.union([z.string(), z.number()])).min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict()
  .refine((r) => r.notNull || r.accepted || r.min !== undefined || r.max !== undefined, {
    message: 'a rule needs at least one of notNull, accepted, min, max',
  });

const csvOptionsSchema = z
  .object({
    delimiter: z.string().length(1).optional(),
    header: z.boolean().optional(),
    quote: z.string().max(1).optional(),
    escape: z.string().max(1).optional(),
    nullString: z.string().optional(),
    timestampFormat: z.string().optional(),
    dateFormat: z.string().optional(),
    /** Longest line accepted; longer lines are quarantined. Default 2 MB. */
    maxLineBytes: z.number().int().positive().optional(),
  })
  .strict();

const sourceSchema = z
  .object({
    format: z.enum(['csv', 'jsonl', 'parquet']),
    /** File path or glob, relative to the project folder. `{date}` is replaced by the run's date. */
    path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Declared schema, column → DuckDB type. Without it the schema is inferred from the whole file. */
    columns: z.record(z.string(), columnType).optional(),
    csv: csvOptionsSchema.optional(),
    rules: z.array(ruleSchema).optional(),
    description: z.string().optional(),
  })
  .strict();

const modelSchema = z
  .object({
    /** A .sql file relative to the project folder, or the SQL itself. */
    sql: z.string().min(1),
    /**
     * lake: partitioned Parquet; table: a serving table; view: computed when read; ephemeral: never
     * built by `tributary run`, inlined where referenced and run by stream jobs.
     */
    materialize: z.enum(['lake', 'table', 'view', 'ephemeral']),
    /** Partition column → SQL expression over the model's columns, e.g. { dt: 'CAST(event_time AS DATE)' }. */
    partitionBy: z.record(identifier, z.string().min(1)).optional(),
    description: z.string().optional(),
  })
  .strict();

const checkSchema = z
  .object({
    table: identifier,
    column: identifier.optional(),
    test: z.enum(['not_null', 'unique', 'accepted_values', 'min_rows', 'sql']),
    values: z.array(z.union([z.string(), z.number()])).optional(),
    min: z.number().optional(),
    /** For test 'sql': a query that returns the offending rows; the check passes when it returns none. */
    sql: z.string().optional(),
    severity: z.enum(['error', 'warn']).optional(),
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
    /** Keys that get a partition each (a hot store id, say); other keys hash over the rest. */
    hotKeys: z.array(z.string()).optional(),
    /** JSON field whose value is the record key (for partitioning). */
    keyField: z.string().optional(),
  })
  .strict();

const streamInputSchema = z.union([
  z.object({ topic: z.string().min(1) }).strict(),
  z
    .object({
      kafka: z
        .object({ brokers: z.array(z.string().min(1)).min(1), topic: z.string().min(1), clientId: z.string().optional() })
        .strict(),
    })
    .strict(),
  z
    .object({
      nats: z.object({ servers: z.string().min(1), stream: z.string().min(1), subject: z.string().optional() }).strict(),
    })
    .strict(),
]);

const streamTableSchema = z
  .object({
    /** The model whose SQL computes this table from each micro-batch. */
    model: identifier,
    /** append: insert the batch's rows; merge: add the batch's measures into rows with the same keys. */
    mode: z.enum(['append', 'merge']).default('append'),
    /** Columns identifying a row for merge; the other columns are summed. None: a single-row table. */
    keys: z.array(identifier).optional(),
    partitionBy: z.record(identifier, z.string().min(1)).optional(),
    /**
     * Event-time tumbling windows: rows whose `time` is older than the watermark (the newest event
     * time seen minus `latenessSeconds`) arrive after their window closed; they are counted and
     * written to the stream's late table instead.
     */
    window: z.object({ time: identifier, sizeSeconds: z.number().positive().default(60), latenessSeconds: z.number().min(0) }).strict().optional(),
  })
  .strict();

const streamSinkSchema = z
  .object({
    kind: z.enum(['lake', 'duckdb', 'postgres', 'mysql']),
    /** For postgres and mysql: the name of an environment variable holding the connection URL. */
    urlEnv: z.string().optional(),
    tables: z.record(identifier, streamTableSchema),
  })
  .strict();

const streamSchema = z
  .object({
    input: streamInputSchema,
    /** The micro-batch is what `{{ source('<binds>') }}` reads in the models it runs. */
    binds: identifier,
    /** Schema of each event (a JSON object), column → DuckDB type. */
    columns: z.record(z.string(), columnType),
    rules: z.array(ruleSchema).optional(),
    /** Milliseconds between micro-batches; 0 runs the next batch as soon as one commits. */
    triggerMs: z.number().int().min(0).default(1000),
    /** Most events in one micro-batch; the log holds the rest (backpressure). */
    maxBatch: z.number().int().positive().default(200_000),
    sinks: z.record(identifier, streamSinkSchema),
  })
  .strict();

const engineSchema = z
  .object({
    threads: z.number().int().positive().optional(),
    memoryLimit: z.string().optional(),
  })
  .strict();

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
    kind: z.enum(['kpi', 'timeseries', 'bar', 'treemap', 'table', 'pie', 'funnel']),
    /**
     * The query. Conventions by kind: kpi → one row, column `value`; timeseries → a time column,
     * a series column (optional) and a value column; bar/pie/funnel → label and value; treemap →
     * parent, child and value; table → anything.
     */
    sql: z.string().min(1),
    /** Columns of a 12-column grid. */
    width: z.number().int().min(1).max(12).default(4),
    format: z.enum(['number', 'currency', 'percent']).optional(),
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

export const projectSchema = z
  .object({
    name: identifier,
    description: z.string().optional(),
    /** Where the lake lives, relative to the project folder. Default `lake`. */
    lake: z.string().optional(),
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
    /** Where the embedded warehouse and catalog live. Default `.tributary`. */
    state: z.string().optional(),
    /** SQL file of macros created before any model runs. */
    macros: z.string().optional(),
    engine: engineSchema.optional(),
    sources: z.record(identifier, sourceSchema).default({}),
    models: z.record(identifier, modelSchema).default({}),
    checks: z.array(checkSchema).default([]),
    topics: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -'), topicSchema).default({}),
    streams: z.record(identifier, streamSchema).default({}),
    /** Dashboard name → dashboard file (TypeScript exporting defineDashboard(...)), relative to the project. */
    dashboards: z.record(identifier, z.string().min(1)).default({}),
  })
  .strict();

export type ProjectConfig = z.input<typeof projectSchema>;
export type ResolvedConfig = z.output<typeof projectSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type CheckConfig = z.output<typeof checkSchema>;
export type Rule = z.output<typeof ruleSchema>;
export type CsvOptions = z.output<typeof csvOptionsSchema>;
export type TopicConfig = z.output<typeof topicSchema>;
export type StreamConfig = z.output<typeof streamSchema>;
export type StreamSinkConfig = z.output<typeof streamSinkSchema>;
export type StreamTableConfig = z.output<typeof streamTableSchema>;

/** Typed identity: gives editors completion and type errors in `tributary.config.ts`. */
export function defineProject<const T extends ProjectConfig>(config: T): T {
  return config;
}
