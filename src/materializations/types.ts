import type { z } from 'zod';
import { withFamily, type Component } from '../core/component.js';
import type { Metastore } from '../catalog/index.js';
import type { MergeFunction, ReplaceScope, Store, TableShape, WriteMode } from '../connectors/index.js';

/**
 * How a model's rows land in a table: a materialisation. Each is one file that declares its kind,
 * the schema of its config, where it may be used and which store holds its rows; the runner and
 * the stream sinks ask it, and never branch on a kind themselves.
 */

/** The stores a materialisation may write to, as the project's target resolves them. */
export interface MaterializationContext {
  /** Where it is declared, for messages: `models.orders.materialize`, `streams.live.sinks.serving.tables.kpis`. */
  field: string;
  /** The catalog: what the embedded warehouse's own objects (views) commit through. */
  metastore: Metastore;
  /** The store the table's place implies: a model's embedded warehouse, a stream table's sink. */
  defaultStore(): Store;
  /** The lake. */
  lake(): Store;
  /** A store the project's active target names (`targets.<target>.stores.<name>`). */
  named(name: string): Store;
}

/** Who may use a materialisation: a model's runs (batch), a stream's micro-batches, or both. */
export type MaterializationUse = 'model' | 'stream';

export interface Materialization {
  readonly kind: string;
  /**
   * How a model that reads this one names it: a table or view of the engine, the model's SQL
   * inlined in place (ephemeral), or not at all (its rows live in a store the engine does not read).
   */
  readonly reference: 'relation' | 'inline' | 'elsewhere';
  /** Hive partitions (`partitionBy`) are its to write. */
  readonly partitions: boolean;
  /** A run for a data interval replaces that interval's rows (otherwise the model is rebuilt whole). */
  readonly intervals: boolean;
  /** Where its rows are written; none when nothing is (ephemeral). */
  readonly store: Store | undefined;
  /** The table as the store must make it: keys and merge functions added to the model's columns. */
  shape(base: TableShape): TableShape;
  /** What one write does to the rows already there; `scope` is the data interval's rows, when a run has one. */
  writeMode(scope: ReplaceScope | undefined): WriteMode;
  /** How it shows in run summaries: `lake`, `table (postgres)`. */
  readonly label: string;
  /**
   * Set when its table is built in batches of time (dbt's microbatch): a run takes the batches the
   * catalog has not recorded as processed, and the lookback before its own, as one interval.
   */
  readonly batches?: BatchPolicy;
  /**
   * Set when a run's rows are computed from the model's query and the table as it stands (a
   * snapshot keeps every version: it closes those that changed and adds the new ones).
   */
  readonly history?: (input: HistoryInput) => Promise<string>;
}

/** What a materialisation with history is given: the run's query, its table if it exists, and the engine's answers. */
export interface HistoryInput {
  query: string;
  /** The table as it stands (`main."name"`), absent on a first run or a full refresh. */
  table: string | undefined;
  /** The run's instant (ISO, UTC): when versions the run closes or opens without a time of their own start or end. */
  now: string;
  field: string;
  describe(sql: string): Promise<{ name: string; type: string }[]>;
  rows(sql: string): Promise<Record<string, unknown>[]>;
}

/** How a microbatch model's time is cut: batches of `size` from `begin`, the last `lookback` run again for late rows. */
export interface BatchPolicy {
  size: 'hour' | 'day' | 'month' | 'year';
  lookback: number;
  /** The first batch's start, an ISO date or instant (UTC). */
  begin: string;
}

export interface MaterializationComponent<Kind extends string = string, Config extends z.ZodType = z.ZodType>
  extends Component<Kind, Config, MaterializationContext, Materialization> {
  readonly usedBy: readonly MaterializationUse[];
}

/** A materialisation (Tributary's or a project's): `kind` names it in a model's or a stream table's `materialize`. */
export function defineMaterialization<const Kind extends string, Config extends z.ZodType>(component: MaterializationComponent<Kind, Config>) {
  return withFamily('materialization', 'kind', component);
}

export type { MergeFunction };
