import { z } from 'zod';
import { TributaryError } from '../core/errors.js';
import { defineMaterialization } from './types.js';

const schema = z.object({ kind: z.literal('ephemeral') }).strict();

/** Never built: its SQL is inlined where another model reads it (and run by stream jobs, per batch). */
export const ephemeralMaterialization = defineMaterialization({
  kind: 'ephemeral',
  description: 'never built on its own: its SQL is inlined into the models that read it',
  usedBy: ['model'],
  config: schema,
  create: (_config, context) => ({
    kind: 'ephemeral',
    label: 'ephemeral',
    reference: 'inline',
    partitions: false,
    intervals: false,
    store: undefined,
    shape: (base) => base,
    writeMode: () => {
      throw new TributaryError(`an ephemeral model has no table to write`, { place: { field: context.field }, hint: 'materialize it as a table, a view or in the lake to keep its rows' });
    },
  }),
});
