import { z } from 'zod';
import { identifier } from '../../core/schemas.js';
import { quoteIdent } from '../../engine/index.js';
import { checkCommon, checkLabel, defineCheck } from './types.js';

export const relationshipsCheck = defineCheck({
  kind: 'relationships',
  description: 'every value of the column is a value of another table’s column (a foreign key)',
  config: z.object({ test: z.literal('relationships'), ...checkCommon, column: identifier, to: z.object({ table: identifier, column: identifier }).strict() }).strict(),
  create: (c) => {
    const column = quoteIdent(c.column);
    const target = quoteIdent(c.to.column);
    return {
      name: checkLabel('relationships', c.table, c.column),
      table: c.table,
      severity: c.severity ?? 'error',
      offendingRows: `SELECT ${column}, count(*) AS n FROM ${quoteIdent(c.table)} WHERE ${column} IS NOT NULL
        AND ${column} NOT IN (SELECT ${target} FROM ${quoteIdent(c.to.table)} WHERE ${target} IS NOT NULL) GROUP BY 1`,
    };
  },
});
