import { z } from 'zod';
import { identifier } from '../core/schemas.js';
import { defineMaterialization } from './types.js';

const schema = z
  .object({
    kind: z.literal('incremental'),
    /**
     * How a run's rows join the table, named as dbt names its strategies: `append` adds them;
     * `merge` and `delete+insert` replace the stored rows that share a `uniqueKey` with a new row,
     * then add the rest (in one transaction, so the two leave the same table).
     */
    strategy: z.enum(['append', 'merge', 'delete+insert']).default('append'),
    uniqueKey: z.array(identifier).min(1).optional(),
  })
  .strict()
  .refine((c) => c.strategy === 'append' || c.uniqueKey, { message: 'merge and delete+insert need uniqueKey', path: ['uniqueKey'] });

/** A table a run adds to instead of rebuilding; its first run (or a full refresh, as a `table`) makes it. */
export const incrementalMaterialization = defineMaterialization({
  kind: 'incremental',
  description: "a table each run adds its rows to (append), or whose rows with the same unique key it replaces (merge, delete+insert)",
  usedBy: ['model'],
  config: schema,
  create: (config, context) => {
    const store = context.defaultStore();
    return {
      kind: 'incremental',
      label: `incremental (${config.strategy})`,
      reference: store.readable ? 'relation' : 'elsewhere',
      partitions: false,
      intervals: false,
      store,
      shape: (base) => base,
      writeMode: () => (config.strategy === 'append' ? { kind: 'append' } : { kind: 'upsert', keys: config.uniqueKey! }),
    };
  },
});
