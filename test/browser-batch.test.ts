import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startStack, type Stack } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLICKSTREAM, ECOMMERCE_SAMPLE, cliAsync, tempDir } from './helpers.js';
import { browserTestsCanRun, launchBrowser } from './support/browser.js';
import { sample } from './stream-helpers.js';

/**
 * One owner, many clients: while `tributary up` streams, `tributary run` (a separate process,
 * forwarded to the owner) rebuilds the batch tables, and the open dashboard's batch tab shows the
 * new numbers without a reload; the live tab keeps updating meanwhile.
 */
const canRun = await browserTestsCanRun();

let stack: Stack;
let context: BrowserContext;
let page: Page;
let dataDir: string;

describe.runIf(canRun)('a batch run while the owner streams', () => {
  beforeAll(async () => {
    dataDir = tempDir();
    stack = await startStack(CLICKSTREAM, { dataDir, runBatch: true });
    context = await launchBrowser();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await stack?.close();
  });

  it('the batch tab updates without a reload when `tributary run` rebuilds the batch tables, while events stream', async () => {
    await page.goto(stack.url);
    await page.waitForSelector('#live-status:has-text("live")');
    await page.click('.tabs button:has-text("November 2019 (batch)")');
    const operations = page.locator('[data-tile="operations"] .kpi');
    await expect.poll(() => operations.getAttribute('data-value')).toBe('10034');

    // A smaller November file: the first day's rows of the real sample, counted here independently.
    const [header, ...rows] = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trimEnd().split('\n');
    const firstDay = rows.filter((r) => r.startsWith('2019-11-01'));
    const file = path.join(tempDir(), 'first-day.csv');
    writeFileSync(file, `${[header, ...firstDay].join('\n')}\n`);

    // Events keep streaming during the batch run: 20 at a time, the next once the stream has
    // committed the previous ones (paced by the stream, not by a clock).
    const liveOperations = async () => Number((await stack.ws.engine.queryJson<{ operations: string }>('SELECT operations FROM live_kpis'))[0]?.operations ?? 0);
    let streaming = true;
    const producer = (async () => {
      while (streaming) {
        const before = await liveOperations();
        const response = await fetch(`${stack.url}/v1/topics/clickstream`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: sample.slice(0, 20).map((e) => stamp(e)).join('\n'),
        });
        expect(response.status).toBe(200);
        await expect.poll(liveOperations).toBeGreaterThanOrEqual(before + 20);
      }
    })();
    // The page must not reload while the batch runs: a mark on this document, and every
    // navigation of the page recorded, both from before the run starts.
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'same page'));
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    try {
      const liveBefore = await liveOperations();
      const run = await cliAsync(['run', '--project', CLICKSTREAM, '--data-dir', dataDir, '--source', `clickstream=${file}`]);
      expect(run.code, run.stderr).toBe(0);
      // The same document shows the rebuilt number: no reload, no navigation.
      await expect.poll(() => operations.getAttribute('data-value')).toBe(String(firstDay.length));
      expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('same page');
      expect(navigations).toEqual([]);
      // And the stream kept committing around the batch run.
      await expect.poll(liveOperations).toBeGreaterThan(liveBefore);
    } finally {
      streaming = false;
      await producer;
    }
  });
});
