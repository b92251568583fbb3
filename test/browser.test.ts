import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../src/owner/stack.js';
import { loadProject } from '../src/config/project.js';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLICKSTREAM, REPO, cliAsync, tempDir } from './helpers.js';
import { browserTestsCanRun, launchBrowser } from './support/browser.js';
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
    const project = await loadProject(CLICKSTREAM, { dataDir });
    stack = await startStack(project, { port: 0, runBatch: true, log: () => undefined });
    context = await launchBrowser();
    page = await context.newPage();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  const send = (events: string[]) =>
    fetch(`${stack.url}/v1/topics/clickstream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.join('\n') });

  it('renders every tile of the dashboard, and its KPIs equal the same SQL run through `tributary sql`', async () => {
    await send(sample.slice(0, 300).map((e) => stamp(e)));
    await page.goto(stack.url);
    await page.waitForSelector('#live-status:has-text("live")');
    const tiles = await page.locator('[data-tile]').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.tile));
    expect(tiles.length).toBeGreaterThanOrEqual(20);
    for (const tab of ['Live', 'November 2019 (batch)']) {
      await page.click(`.tabs button:has-text("${tab}")`);
      const visible = page.locator('.grid:visible [data-tile]');
      const count = await visible.count();
      for (let i = 0; i < count; i++) {
        const tile = visible.nth(i);
        const kind = await tile.getAttribute('data-kind');
        const id = await tile.getAttribute('data-tile');
        if (kind === 'kpi') await expect.poll(() => tile.locator('.kpi').getAttribute('data-value'), { message: id! }).not.toBeNull();
        else if (kind === 'table') await expect.poll(() => tile.locator('tbody tr').count(), { message: id! }).toBeGreaterThan(0);
        else await expect.poll(() => tile.locator('canvas').count(), { message: id! }).toBeGreaterThan(0);
        expect(await tile.locator('.error').count(), `${await tile.getAttribute('data-tile')} shows an error`).toBe(0);
      }
      await page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-${tab.startsWith('Live') ? 'live' : 'batch'}.png`), fullPage: true });
    }
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
    await page.click('#chart');
    await expect.poll(() => page.locator('#lab-chart canvas').count()).toBeGreaterThan(0);
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
    expect(await page.locator('h2').allTextContents()).toEqual(expect.arrayContaining(['events (lake)', 'Partitions', 'Lineage']));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'catalog.png'), fullPage: true });
    await page.goto(`${stack.url}/streams`);
    await expect.poll(() => page.locator('[data-job="clickstream_live"]').textContent()).toMatch(/running/);
    // Where the last batch's time went, phase by phase, down to each sink.
    expect(await page.locator('[data-job="clickstream_live"] [data-phases]').textContent()).toMatch(/read \d+ · stage \d+ · load \d+ · dead_letters \d+ · lake \d+ · serving \d+ ms/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'streams.png'), fullPage: true });
  });
});
