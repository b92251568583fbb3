import { z } from 'zod';
import { identifier } from '../../core/schemas.js';
import { quoteIdent, quoteLiteral } from '../../engine/index.js';
import { checkCommon, checkLabel, defineCheck } from './types.js';

export const acceptedValuesCheck = defineCheck({
  kind: 'accepted_values',
  description: 'every value of the column is one of the listed values',
  config: z.object({ test: z.literal('accepted_values'), ...checkCommon, column: identifier, values: z.array(z.union([z.string(), z.number()])).min(1) }).strict(),
  create: (c) => ({
    name: checkLabel('accepted_values', c.table, c.column),
    table: c.table,
    severity: c.severity ?? 'error',
    offendingRows: `SELECT ${quoteIdent(c.column)}, count(*) AS n FROM ${quoteIdent(c.table)}
      WHERE ${quoteIdent(c.column)} NOT IN (${c.values.map((v) => (typeof v === 'number' ? String(v) : quoteLiteral(v))).join(', ')}) GROUP BY 1`,
  }),
});
