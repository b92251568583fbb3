import { z } from 'zod';
import { mergeFunction } from '../connectors/index.js';
import { identifier } from '../core/schemas.js';
import { defineMaterialization } from './types.js';

const schema = z
  .object({
    kind: z.literal('merge'),
    /** Columns identifying a row; none: a single row of totals. */
    keys: z.array(identifier).optional(),
    /** How each other column combines the stored value with a batch's: sum (the default), min, max, count, or { last: orderingColumn }. */
    merge: z.record(identifier, mergeFunction).optional(),
  })
  .strict();

/** Each micro-batch's rows are combined into the rows with the same keys (running totals, latest values). */
export const mergeMaterialization = defineMaterialization({
  kind: 'merge',
  description: "each micro-batch's rows combined into the rows with the same keys (sum, min, max, count, latest)",
  usedBy: ['stream'],
  config: schema,
  create: (config, context) => {
    const store = context.defaultStore();
    return {
      kind: 'merge',
      label: 'merge',
      reference: store.readable ? 'relation' : 'elsewhere',
      partitions: false,
      intervals: false,
      store,
      shape: (base) => ({ ...base, keys: config.keys, merge: config.merge ?? {} }),
      writeMode: () => ({ kind: 'merge' }),
    };
  },
});
