import type { z } from 'zod';
import { componentFor } from '../core/component.js';
import { unknownTypeError } from '../core/errors.js';
import { declaredColumns, type ColumnSpec } from '../core/schemas.js';
import type { InputComponent, InputContext, StreamInput } from './inputs/types.js';
import type { SourceComponent, SourceContext, SourceScan } from './sources/types.js';
import type { Store, StoreComponent, StoreContext } from './stores/types.js';
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
 * Every connector Tributary ships, in one place. Each is one file that declares its kind, the
 * schema of its config and a factory; the project schema is assembled from these lists (and the
 * project's own components), and the runtime finds a component by the kind its config names. A
 * new connector is a new file and a line here.
 */
export const sources = [csvSource, jsonlSource, jsonSource, parquetSource] as const;
/** Record formats (json, delimited, combined-log) are listed in formats/index.ts, which the inputs import. */
export { formats } from './formats/index.js';
export const inputs = [logInput, kafkaInput, natsInput, spoolInput] as const;
export const stores = [lakeStore, duckdbStore, postgresStore, mysqlStore] as const;

export type SourceConfig = z.output<(typeof sources)[number]['config']>;
export type InputConfig = z.output<(typeof inputs)[number]['config']>;
export type StoreConfig = z.output<(typeof stores)[number]['config']>;

// The one dispatch by kind: the config was validated against these same components.
export async function openSource(list: readonly SourceComponent[], config: { format: string; columns?: Record<string, ColumnSpec> }, context: SourceContext): Promise<SourceScan> {
  if (config.columns) await refuseUnknownTypes(config.columns, context);
  return componentFor(list, config.format).create(config, context);
}

/**
 * A declared type the engine does not know is named at its column before any file is read: the
 * load's own statement would fail with the engine's words, under the model's name.
 */
async function refuseUnknownTypes(columns: Record<string, ColumnSpec>, context: SourceContext): Promise<void> {
  const unknown = await context.engine.unknownType(declaredColumns(columns));
  if (unknown) throw unknownTypeError(unknown, { field: `sources.${context.name}.columns.${unknown.name}` });
}

export function openInput(list: readonly InputComponent[], config: { kind: string }, context: InputContext): Promise<StreamInput> {
  return componentFor(list, config.kind).create(config, context);
}

/** Whether a stream's input is the reading process's own (see InputComponent.local). */
export function inputIsLocal(list: readonly InputComponent[], config: { kind: string }): boolean {
  return componentFor(list, config.kind).local === true;
}

export function openStore(list: readonly StoreComponent[], config: { kind: string }, context: StoreContext): Store {
  return componentFor(list, config.kind).create(config, context);
}
