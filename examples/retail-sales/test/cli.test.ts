import { cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tempDir } from 'tributary/testing';
import { beforeAll, describe, expect, it } from 'vitest';
// The one helper of this repository's own an example's test uses: the CLI as it ships (bin/,
// running the build in dist/), built first when the sources are newer. A user's installed
// package is built already; `runCli` from 'tributary/testing' runs it.
import { ensureBuilt, shipped, startShipped } from '../../../test/support/shipped-cli.js';
import { RETAIL, money, reference } from './harness.js';

/**
 * The example as a user runs it: a copy of the project in a folder outside the repository, driven
 * by the shipped CLI (`bin/tributary.js`, which runs the build in dist/). Load, crawl, query and
 * the quarantine, each checked against the reference.
 */
const REPO = path.resolve(RETAIL, '..', '..');
let project: string;
function tributary(...args: string[]): string {
  const result = shipped(args, project);
  if (result.code !== 0) throw new Error(`tributary ${args.join(' ')} exited with ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

beforeAll(() => {
  // The shipped CLI runs dist/: build it when the sources are newer, as `npm install` would have.
  ensureBuilt();
  const root = tempDir('retail-cli-');
  expect(path.relative(REPO, root).startsWith('..')).toBe(true);
  project = path.join(root, 'retail-sales');
  // The project as committed: no lake or state of a previous run.
  cpSync(RETAIL, project, { recursive: true, filter: (from) => !/[/\\](lake|\.tributary|node_modules)$/.test(from) });
}, 600_000);

describe('the retail example with the shipped CLI, outside the repository', () => {
  it('`tributary run` loads the drops (drift mapped, 6 quarantined) and builds every model', () => {
    const out = tributary('run');
    const salesLines = out.split('\n').find((l) => /│ sales_lines\s+│/.test(l))!;
    expect(salesLines.split('│').map((c) => c.trim()).slice(1, 6)).toEqual(['sales_lines', 'lake', String(reference.rows), String(reference.validRows), String(reference.incomplete.length)]);
    expect(out).toMatch(/│ rec_evaluation\s+│ table\s+│\s+│ 12\s+│/);
  }, 300_000);

  it('`tributary quarantine` names the file and line of each incomplete record', () => {
    const rows = JSON.parse(tributary('quarantine', '--model', 'sales_lines', '-f', 'json')) as { file: string; line: number; reason: string }[];
    expect(rows.map((r) => `${r.file.slice(r.file.indexOf('drops/'))}:${r.line}`).sort()).toEqual(reference.incomplete.map((i) => `${i.path}:${i.line}`).sort());
  });

  it('`tributary sql` answers the sales per day the reference computes', () => {
    const rows = JSON.parse(tributary('sql', '-f', 'json', '--', 'SELECT dt::VARCHAR AS dt, sum(net_sales)::VARCHAR AS net FROM daily_sales_by_store GROUP BY 1 ORDER BY 1')) as { dt: string; net: string }[];
    expect(rows).toEqual(Object.entries(reference.byDay).map(([dt, t]) => ({ dt, net: money(t.netSalesCents) })));
  });

  it('`tributary crawl` registers a partition per day and reports the drift by store and day', () => {
    const out = tributary('crawl', 'data/sample/drops', '--table', 'sales_raw');
    expect(out).toContain(`sales_raw: ${reference.files} csv file(s), ${reference.rows.toLocaleString('en-US')} rows`);
    expect(out).toMatch(/drift by store and day: \d+ finding\(s\) in \d+ of 1404 file\(s\)/);
    expect(out).toMatch(/dt=2024-12-07 *│ store_2235 *│ renamed *│ quantity/);
    for (const i of reference.incomplete) {
      const [, dt, store] = /dt=([\d-]+)\/(store_\d+)\.csv$/.exec(i.path)!;
      expect(out, i.path).toMatch(new RegExp(`dt=${dt} *│ ${store} *│ (empty values|refused rows)`));
    }
  });

  it('`tributary crawl --store PATTERN --format json` names each store by its number, as data', () => {
    const report = JSON.parse(tributary('crawl', 'data/sample/drops', '--table', 'sales_raw', '--store', 'store_(\\d+)', '--format', 'json')) as {
      rows: number;
      storeDrift: { partition: string; store: string; change: string; column: string }[];
    };
    expect(report.rows).toBe(reference.rows);
    expect(report.storeDrift).toContainEqual(expect.objectContaining({ partition: 'dt=2024-12-07', store: '2235', change: 'renamed', column: 'quantity' }));
    expect(report.storeDrift.every((d) => /^\d+$/.test(d.store))).toBe(true);
  });
});

describe('`tributary demo retail-sales` with the shipped CLI', () => {
  it('starts with one command, makes and prints the admin and LEGO tokens, streams replayed orders into both groups’ tables, and scopes LEGO', async () => {
    const dataDir = tempDir('retail-demo-');
    const demo = startShipped(['demo', 'retail-sales', '--port', '0', '--data-dir', dataDir], tmpdir(), { TRIBUTARY_TOKEN: undefined, LEGO_TOKEN: undefined });
    try {
      // The demo prints its address and tokens once everything runs, ending with how to stop it.
      await demo.waitFor(/Ctrl\+C stops everything/);
      const output = demo.output();
      const [, url] = /The retail-sales demo is live: (http:\/\/127\.0\.0\.1:\d+)/.exec(output) ?? [];
      expect(url, output).toBeDefined();
      /** The token the demo printed for a principal: the link it shows, `…/?token=X`. */
      const printed = (who: string) => new RegExp(`as ${who} \\([A-Z_]+\\): ${url!.replace(/\./g, '\\.')}/\\?token=([\\w-]+)  \\(a token made for this demo`).exec(output)?.[1];
      const tokens = { TRIBUTARY_TOKEN: printed('the admin') ?? '', LEGO_TOKEN: printed('client lego') ?? '' };
      expect(tokens.TRIBUTARY_TOKEN).toMatch(/^[\w-]{24}$/);
      expect(tokens.LEGO_TOKEN).toMatch(/^[\w-]{24}$/);
      expect(tokens.LEGO_TOKEN).not.toBe(tokens.TRIBUTARY_TOKEN);
      const sql = async (token: string, query: string) => {
        const response = await fetch(`${url}/api/sql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql: query }) });
        return ((await response.json()) as { rows?: Record<string, string>[] }).rows;
      };
      // The replayed orders reach both groups' tables; the deadline only guards against a hang.
      const counts = () => sql(tokens.TRIBUTARY_TOKEN, 'SELECT (SELECT count(*) FROM online_orders_archive) AS archived, (SELECT count(DISTINCT order_id) FROM online_order_lines) AS live');
      await expect.poll(async () => (await counts())?.[0], { timeout: 240_000 }).toSatisfy((c) => Number(c?.archived) > 0 && Number(c?.live) > 0);
      expect(await sql(tokens.LEGO_TOKEN, 'SELECT brand, sum(net_sales)::VARCHAR AS net FROM brand_daily_sales GROUP BY 1')).toEqual([{ brand: 'LEGO', net: money(reference.byBrand['LEGO']!.netSalesCents) }]);
    } finally {
      await demo.stop();
    }
  }, 300_000);
});
