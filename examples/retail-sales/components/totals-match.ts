import { defineCheck, quoteIdent, z } from 'tributary';

/**
 * A check of this project's own, registered in `components`: a measure summed over one table
 * equals the same measure over another. The sales models join and roll up the loaded lines; a
 * join that lost or doubled a line, or a rollup that dropped a store, shows here as totals that
 * differ. Written with `totalsMatch.configure({ ... })` in `checks`.
 */
export const totalsMatch = defineCheck({
  kind: 'totals_match',
  description: 'a measure summed over one table equals the same measure over another: nothing was lost or doubled on the way',
  config: z
    .object({
      test: z.literal('totals_match'),
      table: z.string().regex(/^[a-z_][a-z0-9_]*$/),
      severity: z.enum(['error', 'warn']).optional(),
      /** An aggregate over `table`, e.g. `sum(net_sales)`. */
      measure: z.string().min(1),
      /** The table it must match and the same measure written over that table. */
      against: z.object({ table: z.string().regex(/^[a-z_][a-z0-9_]*$/), measure: z.string().min(1) }).strict(),
    })
    .strict(),
  create: (c) => ({
    name: `totals_match(${c.table} = ${c.against.table})`,
    table: c.table,
    severity: c.severity ?? 'error',
    // One row (the two totals) when they differ; none when they match.
    offendingRows: `SELECT t.total AS ${quoteIdent(c.table)}, a.total AS ${quoteIdent(c.against.table)}
      FROM (SELECT ${c.measure} AS total FROM ${quoteIdent(c.table)}) AS t, (SELECT ${c.against.measure} AS total FROM ${quoteIdent(c.against.table)}) AS a
      WHERE t.total IS DISTINCT FROM a.total`,
  }),
});
