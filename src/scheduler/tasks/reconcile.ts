import { z } from 'zod';
import { countDataLines, matchFiles } from './files.js';
import { renderTemplate, templateSchema } from './template.js';
import { TaskFailure, defineTaskComponent, type TaskContext } from './types.js';
import { firstValue, toFiniteNumber } from './values.js';

/**
 * One side of a reconciliation: a query returning one number, or files whose data lines are
 * counted. `header`: whether each file's first line is a header, not data; by default CSV and TSV
 * files (.csv, .tsv, also gzipped) have one and other files (JSON lines) do not.
 */
const sideSchema = z.union([
  z.strictObject({ sql: templateSchema }),
  z.strictObject({ files: templateSchema, header: z.boolean().optional() }),
]);
type Side = z.output<typeof sideSchema>;

const toleranceSchema = z.strictObject({
  /** Allowed |source − target|. */
  absolute: z.number().nonnegative().optional(),
  /** Allowed |source − target| / max(|source|, |target|), e.g. 0.001 for 0.1 %. */
  relative: z.number().nonnegative().optional(),
});
type Tolerance = z.output<typeof toleranceSchema>;

const DELIMITED_FILE = /\.(csv|tsv)(\.gz)?$/i;

async function measure(ctx: TaskContext, side: Side, label: string): Promise<number> {
  if ('sql' in side) {
    const sql = renderTemplate(side.sql, ctx.vars, 'sql');
    const value = firstValue(await ctx.platform.query(sql, { signal: ctx.signal }));
    const number = toFiniteNumber(value);
    if (number === undefined) {
      throw new TaskFailure(`${label} query returned ${value === undefined ? 'no rows' : JSON.stringify(String(value))}, not a number: ${sql}`);
    }
    return number;
  }
  const glob = renderTemplate(side.files, ctx.vars, 'text');
  const files = await matchFiles(glob, ctx.platform.projectDir);
  if (files.length === 0) ctx.log(`${label}: no file matches ${glob}; counting 0 lines`);
  let lines = 0;
  let headers = 0;
  for (const file of files) {
    const header = side.header ?? DELIMITED_FILE.test(file.path);
    if (header) headers++;
    lines += await countDataLines(file.path, { header, signal: ctx.signal });
  }
  const skipped = !headers ? '' : headers === files.length ? ' (each file’s header line not counted)' : ` (the header line of ${headers} of them not counted)`;
  ctx.log(`${label}: ${lines} data line(s) in ${files.length} file(s) matching ${glob}${skipped}`);
  return lines;
}

function describeTolerance(tolerance: Tolerance): string {
  const parts = [
    tolerance.absolute !== undefined ? `±${tolerance.absolute}` : undefined,
    tolerance.relative !== undefined ? `±${tolerance.relative * 100} %` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? 'exact match' : parts.join(' or ');
}

export function withinTolerance(source: number, target: number, tolerance: Tolerance): boolean {
  const difference = Math.abs(source - target);
  if (tolerance.absolute === undefined && tolerance.relative === undefined) return difference === 0;
  const scale = Math.max(Math.abs(source), Math.abs(target));
  return (
    (tolerance.absolute !== undefined && difference <= tolerance.absolute) ||
    (tolerance.relative !== undefined && difference <= tolerance.relative * scale)
  );
}

/** Compares a count or a sum at the source with the same at the target, for the run's interval. */
export const reconcileTask = defineTaskComponent({
  kind: 'reconcile',
  description: 'Compare a count or sum at a source with the same at a target, within a tolerance',
  config: z.strictObject({
    /** What is compared, for the message: 'rows', 'revenue'. */
    measure: z.string().min(1).default('rows'),
    source: sideSchema,
    target: sideSchema,
    tolerance: toleranceSchema.default({}),
  }),
  create: (config) => ({
    async run(ctx) {
      const source = await measure(ctx, config.source, 'source');
      const target = await measure(ctx, config.target, 'target');
      const difference = target - source;
      const relative = source === 0 ? (target === 0 ? 0 : Infinity) : difference / Math.abs(source);
      const facts = `source ${config.measure} = ${source}, target ${config.measure} = ${target} (difference ${difference >= 0 ? '+' : ''}${difference}, ${Number.isFinite(relative) ? `${(relative * 100).toFixed(2)} %` : 'n/a'}; allowed: ${describeTolerance(config.tolerance)})`;
      if (!withinTolerance(source, target, config.tolerance)) {
        throw new TaskFailure(`reconciliation failed for ${ctx.interval.ds}: ${facts}`);
      }
      ctx.log(`reconciled for ${ctx.interval.ds}: ${facts}`);
      return { status: 'success', result: { measure: config.measure, source, target, difference } };
    },
  }),
});
