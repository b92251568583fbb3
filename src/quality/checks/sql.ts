import { z } from 'zod';
import { checkCommon, checkLabel, defineCheck } from './types.js';

export const sqlCheck = defineCheck({
  kind: 'sql',
  description: 'a query of your own that returns the offending rows',
  config: z.object({ test: z.literal('sql'), ...checkCommon, sql: z.string().min(1) }).strict(),
  create: (c) => ({ name: checkLabel('sql', c.table), table: c.table, severity: c.severity ?? 'error', offendingRows: c.sql }),
});
