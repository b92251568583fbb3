import { z } from 'zod';
import type { InputContext, StreamInput } from './inputs/types.js';
import type { SourceContext, SourceScan } from './sources/types.js';
import type { Store, StoreContext } from './stores/types.js';
import { kafkaInput } from './inputs/kafka.js';
import { logInput } from './inputs/log.js';
import { natsInput } from './inputs/nats.js';
import { spoolInput } from './inputs/spool.js';
import { csvSource } from './sources/csv.js';
import { jsonSource } from './sources/json.js';
import { jsonlSource } from './sources/jsonl.js';
import { parquetSource } from './sources/parquet.js';
import { duckdbStore } from './stores/duckdb.js';
import { lakeStore } from './stores/lake.js';
import { mysqlStore } from './stores/mysql.js';
import { postgresStore } from './stores/postgres.js';

/**
 * Every component, in one place. Each is one file that declares its kind, the schema of its
 * config and a factory; the project schema is assembled from these lists, and the runtime finds a
 * component by the kind its config names. A new connector is a new file and a line here.
 */
export const sources = [csvSource, jsonlSource, jsonSource, parquetSource] as const;
/** Record formats (json, delimited, combined-log) are listed in formats/index.ts, which the inputs import. */
export { formats } from './formats/index.js';
export const inputs = [logInput, kafkaInput, natsInput, spoolInput] as const;
export const stores = [lakeStore, duckdbStore, postgresStore, mysqlStore] as const;

/** A source as the project declares it: `format` names its component. */
export const sourceSchema = z.discriminatedUnion('format', [csvSource.config, jsonlSource.config, jsonSource.config, parquetSource.config]);
/** A stream's input: `kind` names its component. */
export const inputSchema = z.discriminatedUnion('kind', [logInput.config, kafkaInput.config, natsInput.config, spoolInput.config]);
/** Where a store is: `kind` names its component (sinks add their tables, models their options). */
export const storeSchema = z.discriminatedUnion('kind', [lakeStore.config, duckdbStore.config, postgresStore.config, mysqlStore.config], {
  // Where a store is one choice among others (a model's materialize), say what a store looks like.
  // (zod types this hook for union issues only; a value that is no object reaches it as invalid_type.)
  error: (issue) => ((issue.code as string) === 'invalid_type' ? `a store, { kind: ${stores.map((s) => `'${s.kind}'`).join(' | ')}, … }` : undefined),
});

/** A sink: a store and the tables a stream keeps in it. */
export function sinkSchema<T extends z.ZodType>(tables: T) {
  return z.discriminatedUnion('kind', [
    lakeStore.config.extend({ tables }),
    duckdbStore.config.extend({ tables }),
    postgresStore.config.extend({ tables }),
    mysqlStore.config.extend({ tables }),
  ]);
}

export type SourceConfig = z.output<typeof sourceSchema>;
export type InputConfig = z.output<typeof inputSchema>;
export type StoreConfig = z.output<typeof storeSchema>;

// The one dispatch by kind: the config was validated against these same components.
export function openSource(config: SourceConfig, context: SourceContext): Promise<SourceScan> {
  const component = sources.find((s) => s.kind === config.format)!;
  return (component.create as (c: SourceConfig, x: SourceContext) => Promise<SourceScan>)(config, context);
}

export function openInput(config: InputConfig, context: InputContext): Promise<StreamInput> {
  const component = inputs.find((i) => i.kind === config.kind)!;
  return (component.create as (c: InputConfig, x: InputContext) => Promise<StreamInput>)(config, context);
}

export function openStore(config: StoreConfig, context: StoreContext): Store {
  const component = stores.find((s) => s.kind === config.kind)!;
  return (component.create as (c: StoreConfig, x: StoreContext) => Store)(config, context);
}
