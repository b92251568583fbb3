import { z } from 'zod';
import { identifier } from '../core/schemas.js';
import type { TableShape } from '../connectors/index.js';
import { defineMaterialization } from './types.js';

const schema = z
  .object({
    kind: z.literal('incremental'),
    /**
     * How a run's rows join the table, named as dbt names its strategies: `append` adds them;
     * `merge` and `delete+insert` replace the stored rows that share a `uniqueKey` with a new row,
     * then add the rest (in one transaction, so the two leave the same table); `microbatch`
     * replaces the rows of the batches of time (by the model's `timeColumn`) the run takes.
     */
    strategy: z.enum(['append', 'merge', 'delete+insert', 'microbatch']).default('append'),
    uniqueKey: z.array(identifier).min(1).optional(),
    /** microbatch: the length of a batch. */
    batchSize: z.enum(['hour', 'day', 'month', 'year']).optional(),
    /** microbatch: batches before the run's own that each run takes again, for rows that arrive late. */
    lookback: z.number().int().min(0).default(1),
    /** microbatch: the first batch's start (UTC), such as '2019-11-01'. */
    begin: z.iso.date().or(z.iso.datetime()).optional(),
    /**
     * When the model's columns change after its table was made: write the columns both have
     * (`ignore`; a removed column's new rows are NULL), refuse (`fail`), add the new columns
     * (`append_new_columns`), or match the table to the model (`sync_all_columns`).
     */
    onSchemaChange: z.enum(['ignore', 'fail', 'append_new_columns', 'sync_all_columns']).default('ignore'),
  })
  .strict()
  .refine((c) => c.strategy === 'append' || c.strategy === 'microbatch' || c.uniqueKey, { message: 'merge and delete+insert need uniqueKey', path: ['uniqueKey'] })
  .refine((c) => c.strategy !== 'microbatch' || c.batchSize, { message: "microbatch needs batchSize: 'hour', 'day', 'month' or 'year'", path: ['batchSize'] })
  .refine((c) => c.strategy !== 'microbatch' || c.begin, { message: "microbatch needs begin, the first batch's start (e.g. '2019-11-01')", path: ['begin'] });

/** A table a run adds to instead of rebuilding; its first run (or a full refresh, as a `table`) makes it. */
export const incrementalMaterialization = defineMaterialization({
  kind: 'incremental',
  description: "a table each run adds its rows to (append), whose rows with the same unique key it replaces (merge, delete+insert), or whose batches of time it replaces (microbatch)",
  usedBy: ['model'],
  config: schema,
  create: (config, context) => {
    const store = context.defaultStore();
    const base = { kind: 'incremental', label: `incremental (${config.strategy})`, reference: store.readable ? 'relation' : 'elsewhere', partitions: false, store, shape: (shape: TableShape): TableShape => ({ ...shape, onSchemaChange: config.onSchemaChange }) } as const;
    if (config.strategy === 'microbatch') {
      return { ...base, intervals: true, batches: { size: config.batchSize!, lookback: config.lookback, begin: config.begin! }, writeMode: (scope) => ({ kind: 'replace', scope }) };
    }
    return { ...base, intervals: false, writeMode: () => (config.strategy === 'append' ? { kind: 'append' } : { kind: 'upsert', keys: config.uniqueKey! }) };
  },
});
