import { z } from 'zod';
import { defineMaterialization } from './types.js';

const schema = z.object({ kind: z.literal('lake') }).strict();

/** Hive-partitioned Parquet in the lake, rebuilt by each run (a run for a data interval replaces its partitions or rows). */
export const lakeMaterialization = defineMaterialization({
  kind: 'lake',
  description: 'Hive-partitioned Parquet in the lake (partitionBy), rebuilt by each run; a run for a day replaces that day',
  usedBy: ['model'],
  config: schema,
  create: (_config, context) => ({
    kind: 'lake',
    label: 'lake',
    reference: 'relation',
    partitions: true,
    intervals: true,
    store: context.lake(),
    shape: (base) => base,
    writeMode: (scope) => ({ kind: 'replace', scope }),
  }),
});
