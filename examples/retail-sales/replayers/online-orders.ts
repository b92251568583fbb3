import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { TributaryError, defineReplayer } from 'tributary';

/**
 * The web shop's order producer for the demo: the committed sample's online orders in turn, each
 * stamped now with a fresh order id (so a replayed order is a new order, never a duplicate).
 */
function readOrders(folder: string): Record<string, unknown>[] {
  let days: string[];
  try {
    days = readdirSync(folder).filter((d) => d.startsWith('dt=')).sort();
  } catch (error) {
    throw new TributaryError(`cannot read the sample's online orders: ${(error as Error).message}`, { place: { file: folder }, hint: 'regenerate the sample: npx tsx examples/retail-sales/generators/cli.ts --preset sample --out examples/retail-sales/data/sample --overwrite' });
  }
  return days.flatMap((day) =>
    readFileSync(path.join(folder, day, 'orders.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>),
  );
}

export default defineReplayer({
  description: "replays the sample's online orders, stamped now with fresh order ids",
  bursts: { minEvents: 1, maxEvents: 4, minMs: 500, maxMs: 2500 },
  async open(context) {
    const orders = readOrders(path.join(context.projectDir, 'data', 'sample', 'streams', 'online_orders'));
    let sequence = 0;
    return {
      next: (count, now) =>
        Array.from({ length: count }, () => {
          const order = orders[sequence % orders.length]!;
          sequence++;
          const id = `L${now}${String(sequence).padStart(6, '0')}`;
          return JSON.stringify({ ...order, order_id: id, ordered_at: new Date(now).toISOString() });
        }),
    };
  },
});
