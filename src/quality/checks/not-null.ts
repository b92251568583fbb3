import { z } from 'zod';
import { identifier } from '../../core/schemas.js';
import { quoteIdent } from '../../engine/index.js';
import { checkCommon, checkLabel, defineCheck } from './types.js';

export const notNullCheck = defineCheck({
  kind: 'not_null',
  description: 'every row has a value in the column',
  config: z.object({ test: z.literal('not_null'), ...checkCommon, column: identifier }).strict(),
  create: (c) => ({
    name: checkLabel('not_null', c.table, c.column),
    table: c.table,
    severity: c.severity ?? 'error',
    offendingRows: `SELECT * FROM ${quoteIdent(c.table)} WHERE ${quoteIdent(c.column)} IS NULL`,
  }),
});
