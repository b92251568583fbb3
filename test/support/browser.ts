import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator } from 'playwright-core';
import { REPO } from '../helpers.js';
import { requireService } from '../services.js';

/** Debian's Chromium, which playwright-core drives (it never downloads a browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** True when Chromium is installed and the web UI is built (skips loudly otherwise; fails under CI). */
export async function browserTestsCanRun(): Promise<boolean> {
  const browserUp = await requireService('Chromium (Debian package chromium)', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found; apt-get install chromium`);
  });
  const webBuilt = existsSync(path.join(REPO, 'dist', 'web', 'app.js'));
  if (!webBuilt && process.env.CI === 'true') throw new Error('dist/web is not built: run `npm run build` (npm ci does it)');
  return browserUp && webBuilt;
}

/** A headless browser with a profile of its own, as a user's would be. */
export function launchBrowser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'chromium-')), {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
}

/**
 * Lets a test read what the page's charts hold. ECharts keeps its chart instances in a map private
 * to the UI's bundle, so `echarts.getInstanceByDom` is out of reach from outside; but its
 * constructor marks each new instance `__v_skip` (a flag for Vue), and a setter of that name on
 * Object.prototype, installed before the page's own script runs, hands every chart the page
 * creates to `window.__charts`. Call it before opening the page.
 */
export async function recordCharts(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const charts: unknown[] = [];
    Object.defineProperty(window, '__charts', { value: charts });
    Object.defineProperty(Object.prototype, '__v_skip', {
      configurable: true,
      set(this: Record<string, unknown>, value: unknown) {
        Object.defineProperty(this, '__v_skip', { value, writable: true, configurable: true });
        if (typeof this.getOption === 'function' && typeof this.getDom === 'function') charts.push(this);
      },
    });
  });
}

/** A chart's content as ECharts holds it: each series' type, name, data (and links, for a graph), the category axes, and the first x axis's bounds when it has some. */
export interface ChartContent {
  series: { type: string; name?: string; data: unknown[]; links?: { source: string; target: string }[] }[];
  xAxis: unknown[][];
  yAxis: unknown[][];
  xRange: [number?, number?];
}

/** What the chart drawn in `target` (the element it was initialised on) holds; null when no live chart is there. */
export function chartContent(target: Locator): Promise<ChartContent | null> {
  return target.evaluate((element) => {
    interface Chart {
      getDom(): Element;
      isDisposed(): boolean;
      getOption(): { series?: ChartContent['series']; xAxis?: { data?: unknown[]; min?: number; max?: number }[]; yAxis?: { data?: unknown[] }[] };
    }
    const charts = (window as unknown as { __charts?: Chart[] }).__charts ?? [];
    const chart = charts.find((c) => !c.isDisposed() && c.getDom() === element);
    if (!chart) return null;
    const option = chart.getOption();
    const content = {
      series: (option.series ?? []).map((s) => ({ type: s.type, name: s.name, data: s.data, links: s.links })),
      xAxis: (option.xAxis ?? []).map((a) => a.data ?? []),
      yAxis: (option.yAxis ?? []).map((a) => a.data ?? []),
      xRange: [option.xAxis?.[0]?.min, option.xAxis?.[0]?.max],
    };
    // Plain data only: the option also holds formatter functions.
    return JSON.parse(JSON.stringify(content)) as ChartContent;
  });
}
