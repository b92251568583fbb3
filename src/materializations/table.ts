import { z } from 'zod';
import { identifier } from '../core/schemas.js';
import { defineMaterialization } from './types.js';

const schema = z
  .object({
    kind: z.literal('table'),
    /**
     * A store of the project's target (`targets.<target>.stores`) that holds the table, such as a
     * PostgreSQL warehouse; none: the embedded DuckDB warehouse, next to the catalog.
     */
    store: identifier.optional(),
  })
  .strict();

/** A serving table, rebuilt by each run (a run for a data interval replaces that interval's rows). */
export const tableMaterialization = defineMaterialization({
  kind: 'table',
  description: 'a serving table in the embedded warehouse or in a store of the target (PostgreSQL, MySQL), rebuilt by each run',
  usedBy: ['model'],
  config: schema,
  create: (config, context) => {
    const store = config.store ? context.named(config.store) : context.defaultStore();
    return {
      kind: 'table',
      label: config.store ? `table in ${config.store} (${store.kind})` : 'table',
      reference: store.readable ? 'relation' : 'elsewhere',
      partitions: false,
      intervals: true,
      store,
      shape: (base) => base,
      writeMode: (scope) => ({ kind: 'replace', scope }),
    };
  },
});
