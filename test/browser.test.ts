import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startStack, type Stack } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLICKSTREAM, REPO, cliAsync, tempDir } from './helpers.js';
import { browserTestsCanRun, chartContent, launchBrowser, recordCharts, type ChartContent } from './support/browser.js';
import { sample } from './stream-helpers.js';

export const SCREENSHOTS = path.join(REPO, 'test', '.tmp', 'screenshots');
const canRun = await browserTestsCanRun();

let stack: Stack;
let context: BrowserContext;
let page: Page;
let dataDir: string;

describe.runIf(canRun)('the web UI in a real browser', () => {
  beforeAll(async () => {
    dataDir = tempDir();
    stack = await startStack(CLICKSTREAM, { dataDir, runBatch: true });
    context = await launchBrowser();
    await recordCharts(context);
    page = await context.newPage();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  const send = (events: string[]) =>
    fetch(`${stack.url}/v1/topics/clickstream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.join('\n') });

  /** Rows of a read-only query through the server's SQL API (the lab's endpoint), values as its JSON gives them. */
  async function sql<T = Record<string, string>>(query: string): Promise<T[]> {
    const response = await fetch(`${stack.url}/api/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: query, limit: 10_000 }) });
    const body = (await response.json()) as { rows?: T[]; error?: string };
    if (!response.ok || !body.rows) throw new Error(`POST /api/sql ${query}: ${response.status} ${body.error ?? ''}`);
    return body.rows;
  }

  /** The chart drawn in a tile, as ECharts holds it (empty when the tile has no chart yet). */
  const tileChart = async (id: string): Promise<ChartContent> =>
    (await chartContent(page.locator(`[data-tile="${id}"] .chart`))) ?? { series: [], xAxis: [], yAxis: [], xRange: [] };
  /** A bar chart's bars: label and number. */
  const barsOf = (chart: ChartContent) => (chart.yAxis[0] ?? []).map((label, i) => [String(label), Number(chart.series[0]?.data[i])] as const);
  /** A treemap's leaves: 'parent › child' and number. */
  const leavesOf = (chart: ChartContent) =>
    ((chart.series[0]?.data ?? []) as { name: string; children?: { name: string; value: number }[] }[]).flatMap((parent) =>
      (parent.children ?? []).map((child) => [`${parent.name} › ${child.name}`, Number(child.value)] as const),
    );
  /** A timeseries: each series' points in time order. */
  const pointsOf = (chart: ChartContent) =>
    Object.fromEntries(chart.series.map((s) => [s.name, (s.data as [string, number][]).map(([x, y]): [string, number] => [x, Number(y)]).sort((a, b) => (a[0] < b[0] ? -1 : 1))]));
  const byX = (rows: { s: string; x: string; y: string }[]) => {
    const out: Record<string, [string, number][]> = {};
    for (const r of rows) (out[r.s] ??= []).push([r.x, Number(r.y)]);
    for (const points of Object.values(out)) points.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return out;
  };
  const descending = (values: number[], limit: number) => [...values].sort((a, b) => b - a).slice(0, limit);

  /**
   * What a tile must show, from SQL of this test's own over the tables the tile reads. Top-N
   * tiles are checked without depending on how ties at the cut are broken: every number drawn is
   * the table's number for its label, and the numbers drawn are the N largest, in order.
   */
  async function expectTileShowsTheTables(id: string, kind: string): Promise<void> {
    const live = id.startsWith('live_') || id === 'quality' ? 'live_' : '';
    const tile = page.locator(`[data-tile="${id}"]`);
    let match: RegExpExecArray | null;
    if (kind === 'kpi') {
      const measure = id.replace(/^live_/, '');
      const [row] = await sql(`SELECT ${measure} AS value FROM ${live}kpis`);
      await expect.poll(() => tile.locator('.kpi').getAttribute('data-value'), { message: id }).toBe(row!.value);
      const n = Number(row!.value);
      const text = measure === 'revenue' ? n.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }) : n.toLocaleString('en-US', { maximumFractionDigits: 2 });
      expect(await tile.locator('.kpi').textContent(), id).toBe(text);
    } else if (kind === 'bar' && (match = /^(?:live_)?product_(purchases|views|carts)$/.exec(id))) {
      const all = new Map((await sql(`SELECT product, ${match[1]} AS n FROM ${live}by_product`)).map((r) => [r.product!, Number(r.n)]));
      await expect.poll(async () => barsOf(await tileChart(id)).map(([, n]) => n), { message: id }).toEqual(descending([...all.values()], 12));
      const bars = barsOf(await tileChart(id));
      expect(bars.map(([product]) => [product, all.get(product)]), id).toEqual(bars);
    } else if (kind === 'treemap' && (match = /^(?:live_)?(revenue|purchases|views|carts)_map$/.exec(id))) {
      const groups = await sql(`SELECT department, brand, sum(${match[1]}) AS n FROM ${live}by_department_brand GROUP BY ALL HAVING sum(${match[1]}) > 0`);
      const all = new Map(groups.map((r) => [`${r.department} › ${r.brand}`, Number(r.n)]));
      await expect.poll(async () => leavesOf(await tileChart(id)).map(([, n]) => n).sort((a, b) => b - a), { message: id }).toEqual(descending([...all.values()], 150));
      const leaves = leavesOf(await tileChart(id));
      expect(leaves.map(([key]) => [key, all.get(key)]), id).toEqual(leaves);
    } else if (kind === 'timeseries' && id === 'per_hour') {
      const rows = await sql<{ s: string; x: string; y: string }>(
        `SELECT date_trunc('hour', minute) AS x, event_type AS s, sum(operations) AS y FROM operations_per_minute GROUP BY ALL`,
      );
      await expect.poll(async () => pointsOf(await tileChart(id)), { message: id }).toEqual(byX(rows));
    } else if (kind === 'timeseries' && id === 'live_per_minute') {
      const rows = await sql<{ s: string; x: string; y: string }>(
        `SELECT minute AS x, event_type AS s, operations AS y FROM live_operations_per_minute WHERE minute >= timezone('UTC', now()) - INTERVAL 60 MINUTE`,
      );
      await expect.poll(async () => pointsOf(await tileChart(id)), { message: id }).toEqual(byX(rows));
      // The axis is the live hour up to the browser's clock, not the span of whatever minutes the table holds.
      const [from, to] = (await tileChart(id)).xRange;
      expect(to! - from!, id).toBe(60 * 60_000);
      expect(to!, id).toBeGreaterThanOrEqual(Date.parse(`${rows.map((r) => r.x).sort().pop()!.replace(' ', 'T')}Z`));
    } else if (kind === 'funnel' && id === 'live_funnel') {
      const [k] = await sql('SELECT views, carts, purchases FROM live_kpis');
      await expect.poll(async () => ((await tileChart(id)).series[0]?.data ?? []).map((d) => [(d as { name: string }).name, Number((d as { value: number }).value)]), { message: id }).toEqual([
        ['view', Number(k!.views)],
        ['cart', Number(k!.carts)],
        ['purchase', Number(k!.purchases)],
      ]);
    } else if (kind === 'table' && id === 'quality') {
      // Tributary's own tables are not for the lab: asked of the server's engine directly.
      const rows = await stack.ws.engine.queryJson<{ measure: string; value: string }>(
        `SELECT 'quarantined rows (batch loads)' AS measure, (SELECT count(*) FROM tributary.quarantine) AS value
         UNION ALL SELECT 'dead letters (stream)', (SELECT count(*) FROM tributary.dead_letters)
         UNION ALL SELECT 'late events (stream)', (SELECT count(*) FROM clickstream_live_late)`,
      );
      await expect.poll(() => tile.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))), { message: id }).toEqual(rows.map((r) => [r.measure, r.value]));
    } else if (kind === 'table' && id === 'live_top_brands') {
      const brands = await sql(`SELECT brand, sum(revenue) AS revenue, sum(purchases) AS purchases, sum(views) AS views, sum(carts) AS carts FROM live_by_department_brand WHERE brand <> 'other' GROUP BY 1`);
      const all = new Map(brands.map((b) => [b.brand!, [b.revenue, b.purchases, b.views, b.carts].map(Number)]));
      const order = (a: number[], b: number[]) => b[0]! - a[0]! || b[2]! - a[2]!;
      const shown = () => tile.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      // The ten rows of the largest revenue (then views), in that order.
      await expect.poll(async () => (await shown()).map((cells) => [Number(cells[1]), Number(cells[3])]), { message: id }).toEqual([...all.values()].sort(order).slice(0, 10).map((v) => [v[0], v[2]]));
      const rows = await shown();
      expect(rows.map(([brand]) => [brand, all.get(brand!)]), id).toEqual(rows.map(([brand, ...numbers]) => [brand, numbers.map(Number)]));
    } else {
      throw new Error(`no check of what tile ${id} (${kind}) shows`);
    }
    expect(await tile.locator('.error').count(), `${id} shows an error`).toBe(0);
  }

  it('renders every tile of the dashboard with the numbers the tables hold, and its KPIs equal the same SQL run through `tributary sql`', async () => {
    const response = await send(sample.slice(0, 300).map((e) => stamp(e)));
    expect(response.status).toBe(200);
    // Every event committed and pushed: from here on the live tiles hold still.
    await expect.poll(async () => ((await (await fetch(`${stack.url}/v1/status`)).json()) as { jobs: { lag: number; events: number }[] }).jobs[0]).toMatchObject({ lag: 0, events: 300 });
    await stack.hub.settled();
    await page.goto(stack.url);
    await page.waitForSelector('#live-status:has-text("live")');
    const tiles = await page.locator('[data-tile]').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.tile));
    expect(tiles.length).toBeGreaterThanOrEqual(20);
    const checked: string[] = [];
    for (const tab of ['Live', 'November 2019 (batch)']) {
      await page.click(`.tabs button:has-text("${tab}")`);
      const visible = page.locator('.grid:visible [data-tile]');
      const count = await visible.count();
      expect(count, tab).toBeGreaterThan(5);
      for (let i = 0; i < count; i++) {
        const tile = visible.nth(i);
        const id = (await tile.getAttribute('data-tile'))!;
        const kind = (await tile.getAttribute('data-kind'))!;
        if (kind !== 'kpi' && kind !== 'table') await expect.poll(() => tile.locator('canvas').count(), { message: id }).toBeGreaterThan(0);
        await expectTileShowsTheTables(id, kind);
        checked.push(id);
      }
      await page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-${tab.startsWith('Live') ? 'live' : 'batch'}.png`), fullPage: true });
    }
    expect(checked.sort()).toEqual([...tiles].sort());
    // The batch KPIs, side by side with the CLI (which asks the running server).
    const shown = await page.locator('[data-tile="operations"] .kpi').getAttribute('data-value');
    const revenue = await page.locator('[data-tile="revenue"] .kpi').getAttribute('data-value');
    const viaCli = await cliAsync(['sql', 'SELECT operations, revenue FROM kpis', '--project', CLICKSTREAM, '--data-dir', dataDir, '--format', 'json']);
    expect(viaCli.code, viaCli.stderr).toBe(0);
    expect(JSON.parse(viaCli.stdout)).toEqual([{ operations: shown, revenue }]);
    expect(shown).toBe('10034');
  });

  it('pushes new numbers to the open dashboard when purchases arrive, without a reload', async () => {
    await page.click('.tabs button:has-text("Live")');
    const revenue = page.locator('[data-tile="live_revenue"] .kpi');
    // Start from a settled dashboard: every earlier event committed and pushed.
    await expect.poll(async () => ((await (await fetch(`${stack.url}/v1/status`)).json()) as { jobs: { lag: number }[] }).jobs[0]!.lag, { timeout: 15_000 }).toBe(0);
    await stack.hub.settled();
    const committed = ((await (await fetch(`${stack.url}/api/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT revenue FROM live_kpis' }) })).json()) as { rows: { revenue: string }[] }).rows[0]!.revenue;
    await expect.poll(() => revenue.getAttribute('data-value')).toBe(committed);
    const before = Number(committed);
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    const purchases = sample.filter((e) => e.event_type === 'purchase').slice(0, 20);
    const added = purchases.reduce((sum, e) => sum + Math.round(Number(e.price) * 100), 0) / 100;
    const response = await send(purchases.map((e) => stamp(e)));
    expect(response.status).toBe(200);
    await expect.poll(async () => Number(await revenue.getAttribute('data-value')), { timeout: 15_000 }).toBeCloseTo(before + added, 2);
    expect(navigations).toEqual([]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-after-purchases.png'), fullPage: false });
  });

  it('the pause button stops live updates and resume brings them back', async () => {
    await page.click('#pause');
    await expect.poll(() => page.locator('#live-status').textContent()).toContain('paused');
    const revenue = page.locator('[data-tile="live_revenue"] .kpi');
    const before = await revenue.getAttribute('data-value');
    await send(sample.filter((e) => e.event_type === 'purchase').slice(20, 25).map((e) => stamp(e)));
    await expect.poll(() => stack.hub.commits, { timeout: 15_000 }).toBeGreaterThan(0);
    await stack.hub.settled();
    expect(await revenue.getAttribute('data-value')).toBe(before);
    await page.click('#pause');
    await expect.poll(async () => (await revenue.getAttribute('data-value')) !== before, { timeout: 15_000 }).toBe(true);
  });

  it('the SQL lab runs a query, charts it, and refuses a write and a file read with a clear message', async () => {
    await page.goto(`${stack.url}/lab`);
    await page.click('#run');
    await expect.poll(() => page.locator('#results tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#results th').allTextContents()).toEqual(['department', 'revenue']);
    // The table holds the example's answer as the server's SQL gives it (the ten largest
    // revenues, each its department's total: departments tied at the cut may be any of them),
    // and the chart draws the table.
    const project = (await (await fetch(`${stack.url}/api/project`)).json()) as { labExamples: { sql: string }[] };
    const answer = await sql<{ department: string; revenue: string }>(project.labExamples[0]!.sql);
    const totals = new Map((await sql<{ department: string; revenue: string }>('SELECT department, sum(revenue) AS revenue FROM by_department_brand GROUP BY 1')).map((r) => [r.department, r.revenue]));
    expect(answer.length).toBeGreaterThan(1);
    const shown = await page.locator('#results tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(shown.map(([, revenue]) => revenue)).toEqual(answer.map((r) => r.revenue));
    expect(shown.map(([department]) => [department, totals.get(department!)])).toEqual(shown);
    await page.click('#chart');
    await expect.poll(() => page.locator('#lab-chart canvas').count()).toBeGreaterThan(0);
    const chart = await chartContent(page.locator('#lab-chart'));
    expect(chart?.yAxis[0]).toEqual(shown.map(([department]) => department));
    expect(chart?.series.map((s) => [s.type, s.data])).toEqual([['bar', shown.map(([, revenue]) => Number(revenue))]]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'sql-lab.png'), fullPage: true });

    const runText = async (sql: string) => {
      await page.locator('.cm-content').click();
      await page.keyboard.press('Control+A');
      await page.keyboard.insertText(sql);
      await page.click('#run');
      await page.waitForSelector('#lab-error, #lab-message .info:not(:has-text("running"))');
      return (await page.locator('#lab-message').textContent()) ?? '';
    };
    // One read-only policy for the lab, the CLI and the shell: the same words everywhere.
    expect(await runText('DELETE FROM kpis')).toMatch(/refused: a DELETE statement would change data or settings, and SQL here is read-only/);
    expect(await runText("SELECT * FROM read_csv('/etc/passwd')")).toMatch(/refused: read_csv\(\) reads files/);
    expect(await runText("SELECT * FROM '/etc/passwd'")).toMatch(/refused: '\/etc\/passwd' is a file/);
    expect(await runText("SELECT getenv('HOME')")).toMatch(/refused: getenv\(\) is not available/);
    expect(await runText("COPY kpis TO '/tmp/out.csv'")).toMatch(/refused: a COPY statement/);
    // The data is untouched.
    expect(await runText('SELECT operations FROM kpis')).toMatch(/1 row/);
  });

  it('the catalog shows tables, lineage and quality numbers; streams show the job', async () => {
    await page.goto(`${stack.url}/catalog/events`);
    await expect.poll(() => page.locator('.list a').count()).toBeGreaterThan(5);
    await expect.poll(() => page.locator('#lineage canvas').count()).toBeGreaterThan(0);
    // The graph drawn is the catalog's lineage: a node per table or source, an arrow per edge.
    const { lineage } = (await (await fetch(`${stack.url}/api/catalog`)).json()) as { lineage: { model: string; upstream: string }[] };
    const edges = lineage.map((l) => `${l.upstream} → ${l.model}`).sort();
    expect(edges).toEqual(expect.arrayContaining(['clickstream → events', 'events → operations', 'operations → by_product']));
    const graph = await chartContent(page.locator('#lineage'));
    const [series] = graph?.series ?? [];
    expect(series?.type).toBe('graph');
    expect((series?.links ?? []).map((l) => `${l.source} → ${l.target}`).sort()).toEqual(edges);
    expect((series?.data as { name: string }[]).map((n) => n.name).sort()).toEqual([...new Set(lineage.flatMap((l) => [l.upstream, l.model]))].sort());
    expect(await page.locator('h2').allTextContents()).toEqual(expect.arrayContaining(['events (lake)', 'Partitions', 'Lineage']));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'catalog.png'), fullPage: true });
    await page.goto(`${stack.url}/streams`);
    await expect.poll(() => page.locator('[data-job="clickstream_live"]').textContent()).toMatch(/running/);
    // Where the last batch's time went, phase by phase, down to each sink.
    expect(await page.locator('[data-job="clickstream_live"] [data-phases]').textContent()).toMatch(/read \d+ · stage \d+ · load \d+ · dead_letters \d+ · lake \d+ · serving \d+ · commit \d+ ms/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'streams.png'), fullPage: true });
  });
});
