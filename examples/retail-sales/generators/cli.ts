import { parseArgs } from 'node:util';
import { generateRetail, type RetailOptions } from './index.js';
import { PRESETS, type PresetName } from './presets.js';

/**
 * Writes a retail data set.
 *   npx tsx examples/retail-sales/generators/cli.ts --preset sample --out examples/retail-sales/data/sample --overwrite
 *   npx tsx examples/retail-sales/generators/cli.ts --preset benchmark --out /data/retail
 *   npx tsx examples/retail-sales/generators/cli.ts --out /tmp/retail --days 3 --lines-per-day 200000
 * Flags override the preset's values (default preset: sample); --log-lines / --orders replace the
 * preset's stream limits.
 */
const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'sample' },
    out: { type: 'string' },
    seed: { type: 'string' },
    start: { type: 'string' },
    days: { type: 'string' },
    'lines-per-day': { type: 'string' },
    stores: { type: 'string' },
    products: { type: 'string' },
    customers: { type: 'string' },
    'sessions-per-day': { type: 'string' },
    'log-lines': { type: 'string' },
    orders: { type: 'string' },
    workers: { type: 'string' },
    overwrite: { type: 'boolean', default: false },
  },
});
if (!values.out) throw new Error('--out DIR is required');
if (!(values.preset in PRESETS)) throw new Error(`--preset must be one of ${Object.keys(PRESETS).join(', ')}`);
const preset: Omit<RetailOptions, 'out'> = PRESETS[values.preset as PresetName];
const number = (text: string | undefined) => (text === undefined ? undefined : Number(text.replace(/_/g, '')));
const limitsGiven = values['log-lines'] !== undefined || values.orders !== undefined;
const options: RetailOptions = {
  ...preset,
  out: values.out,
  seed: number(values.seed) ?? preset.seed,
  start: values.start ?? preset.start,
  days: number(values.days) ?? preset.days,
  linesPerDay: number(values['lines-per-day']) ?? preset.linesPerDay,
  stores: number(values.stores) ?? preset.stores,
  products: number(values.products) ?? preset.products,
  customers: number(values.customers) ?? preset.customers,
  sessionsPerDay: number(values['sessions-per-day']) ?? preset.sessionsPerDay,
  streamLimits: limitsGiven ? { logLines: number(values['log-lines']), orders: number(values.orders) } : preset.streamLimits,
  workers: number(values.workers),
  overwrite: values.overwrite,
  onProgress: (p) => process.stderr.write(`\r${p.phase} ${(p.fraction * 100).toFixed(0)}% ${p.rows.toLocaleString('en-US')} lines   `),
};
const result = await generateRetail(options);
process.stderr.write('\n');
const { cases, totals } = result.manifest;
console.log(
  JSON.stringify(
    {
      out: options.out,
      files: result.files.length,
      rows: result.rows,
      bytes: result.bytes,
      seconds: Number(result.seconds.toFixed(2)),
      rowsPerSecond: result.rowsPerSecond,
      hotStoreIds: result.manifest.hotStoreIds,
      hotStoreShare: Number((totals.rowsByStoreTop.filter((r) => result.manifest.hotStoreIds.includes(r.storeId)).reduce((sum, r) => sum + r.rows, 0) / totals.rows).toFixed(4)),
      incompleteRows: totals.incompleteRows,
      cases: cases.map((c) => ({ id: c.id, storeId: c.storeId, from: c.fromDt, to: c.toDt, rows: c.rowsAffected })),
      streams: { ...result.streams, files: result.streams.files.length },
    },
    null,
    1,
  ),
);
