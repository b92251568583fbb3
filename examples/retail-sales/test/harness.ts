import { cpSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProject, tempDir, type ModelResult, type Workspace } from 'tributary/testing';
import { computeReference, type ReferenceResult } from './reference.js';

/**
 * What the retail-sales tests share: the example's folders, the independent reference computed
 * once from the committed sample, and the example built (every batch model) into a data folder
 * of the test's own, so nothing is written into the repository.
 */
export const RETAIL = fileURLToPath(new URL('..', import.meta.url));
export const SAMPLE = path.join(RETAIL, 'data', 'sample');
export const DROPS = path.join(SAMPLE, 'drops');

// The access-log spool's reader keeps a lock file in the folder it reads: every test that starts the
// example's streams (in process, or the demo in a child, which inherits this) reads a copy, as a
// deployment names its folder, so the example's own folder, which the package ships, never holds
// one while another test packs the package.
process.env.RETAIL_ACCESS_LOGS = tempDir('retail-access-logs-');
cpSync(path.join(SAMPLE, 'streams', 'access_log', 'dt=2024-12-06'), process.env.RETAIL_ACCESS_LOGS, { recursive: true });

export const reference: ReferenceResult = computeReference(SAMPLE);

export interface Built {
  ws: Workspace;
  dataDir: string;
  results: ModelResult[];
  log: string[];
}

/** `tributary run` of the whole example on the committed sample, in process, into a fresh data folder. */
export async function buildExample(): Promise<Built> {
  const dataDir = tempDir('retail-');
  const log: string[] = [];
  const { ws, results } = await runProject(RETAIL, { dataDir, log: (m) => log.push(m) });
  return { ws, dataDir, results, log };
}

/** Cents as DuckDB prints a DECIMAL(…, 2) sum: '80947.63', '-3.60'. */
export function money(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
