import { z } from 'zod';
import { identifier } from '../../core/schemas.js';
import { quoteIdent } from '../../engine/index.js';
import { checkCommon, checkLabel, defineCheck } from './types.js';

export const uniqueCheck = defineCheck({
  kind: 'unique',
  description: 'no value of the column appears twice',
  config: z.object({ test: z.literal('unique'), ...checkCommon, column: identifier }).strict(),
  create: (c) => ({
    name: checkLabel('unique', c.table, c.column),
    table: c.table,
    severity: c.severity ?? 'error',
    offendingRows: `SELECT ${quoteIdent(c.column)}, count(*) AS n FROM ${quoteIdent(c.table)} GROUP BY 1 HAVING count(*) > 1`,
  }),
});
