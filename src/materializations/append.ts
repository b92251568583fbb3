import { z } from 'zod';
import { defineMaterialization } from './types.js';

const schema = z.object({ kind: z.literal('append') }).strict();

/** Each micro-batch's rows are inserted into the sink's table. */
export const appendMaterialization = defineMaterialization({
  kind: 'append',
  description: "each micro-batch's rows inserted into the stream sink's table",
  usedBy: ['stream'],
  config: schema,
  create: (_config, context) => {
    const store = context.defaultStore();
    return {
      kind: 'append',
      label: 'append',
      reference: store.readable ? 'relation' : 'elsewhere',
      partitions: true,
      intervals: false,
      store,
      shape: (base) => base,
      writeMode: () => ({ kind: 'append' }),
    };
  },
});
