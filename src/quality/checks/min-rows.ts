import { z } from 'zod';
import { quoteIdent } from '../../engine/index.js';
import { checkCommon, checkLabel, defineCheck } from './types.js';

export const minRowsCheck = defineCheck({
  kind: 'min_rows',
  description: 'the table holds at least `min` rows',
  config: z.object({ test: z.literal('min_rows'), ...checkCommon, min: z.number().int().min(0) }).strict(),
  create: (c) => ({
    name: checkLabel('min_rows', c.table),
    table: c.table,
    severity: c.severity ?? 'error',
    offendingRows: `SELECT count(*) AS n FROM ${quoteIdent(c.table)} HAVING count(*) < ${c.min}`,
  }),
});
