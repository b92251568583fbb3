import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
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
