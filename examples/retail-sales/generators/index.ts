import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { generateDrops, type DriftManifest } from './drops.js';
import { writeStreams, type StreamLimits, type StreamsResult } from './streams.js';
import { DEFAULT_WORLD, buildWorld, writeReferenceFiles } from './world.js';

/**
 * Tributary's retail-sales generator: a toy retailer's reference data, daily store drops with
 * schema drift and incomplete records, and its web shop's streams. Deterministic for a seed.
 *
 * Layout under `out`:
 *   reference/{stores,products,customers}.csv
 *   drops/dt=YYYY-MM-DD/store_<id>.csv      one file per store per day with sales
 *   drops/_manifest.json                    the drift cases and the numbers to reconcile
 *   streams/access_log/dt=…/access_log      Apache combined log
 *   streams/online_orders/dt=…/orders.ndjson
 *   streams/behaviour/dt=…/behaviour.ndjson
 */

export type { DriftCase, DriftKind, DriftManifest, DropFileReport } from './drops.js';
export { CANONICAL_COLUMNS, planDrift } from './drops.js';
export type { BehaviourEvent, OnlineOrder, OrderLine, StreamLimits, StreamOptions, StreamsResult } from './streams.js';
export { accessLogLines, behaviourLines, onlineOrderLines, simulateOnlineDay, writeStreams } from './streams.js';
export { PRESETS, type PresetName } from './presets.js';
export type { Customer, Product, Store, World, WorldOptions } from './world.js';
export { buildWorld, writeReferenceFiles } from './world.js';

export interface RetailProgress {
  phase: 'reference' | 'drops' | 'streams' | 'done';
  /** Sales lines written so far. */
  rows: number;
  bytes: number;
  /** 0–1 over the drops, which take nearly all the time. */
  fraction: number;
}

export interface RetailOptions {
  out: string;
  seed: number;
  /** First day, 'YYYY-MM-DD'. */
  start: string;
  days: number;
  /** Average sales lines per day (see drops.ts for the weekday profile). */
  linesPerDay: number;
  stores?: number;
  products?: number;
  customers?: number;
  /** Web-shop sessions per day; by default one per ten store lines, at least 200. */
  sessionsPerDay?: number;
  /** Cuts the streams to their first N lines (a committed sample keeps them small). */
  streamLimits?: StreamLimits;
  /** Worker threads for the drops; by default the machine's cores, at most 2. */
  workers?: number;
  /**
   * Replace reference/, drops/ and streams/ if `out` already has them. Without it the generator
   * refuses, since files left from another run (a store with sales then, none now) would mix in.
   */
  overwrite?: boolean;
  onProgress?: (progress: RetailProgress) => void;
}

export interface RetailResult {
  /** Every file written, relative to `out`. */
  files: string[];
  /** Sales lines in the drops (incomplete ones included). */
  rows: number;
  /** Bytes of all files written. */
  bytes: number;
  manifest: DriftManifest;
  streams: StreamsResult;
  seconds: number;
  /** Sales lines per second over the drops phase. */
  rowsPerSecond: number;
}

export async function generateRetail(options: RetailOptions): Promise<RetailResult> {
  const started = performance.now();
  const owned = ['reference', 'drops', 'streams'].map((folder) => join(options.out, folder));
  const existing = owned.filter((folder) => existsSync(folder));
  if (existing.length > 0 && !options.overwrite) throw new Error(`${existing.join(', ')} already exist: pass overwrite to replace them`);
  for (const folder of existing) rmSync(folder, { recursive: true });
  const worldOptions = {
    seed: options.seed,
    stores: options.stores ?? DEFAULT_WORLD.stores,
    products: options.products ?? DEFAULT_WORLD.products,
    customers: options.customers ?? DEFAULT_WORLD.customers,
  };
  const world = buildWorld(worldOptions);
  const report = (phase: RetailProgress['phase'], rows: number, bytes: number, fraction: number) => options.onProgress?.({ phase, rows, bytes, fraction });
  report('reference', 0, 0, 0);
  const referencePaths = writeReferenceFiles(world, join(options.out, 'reference'));
  const referenceFiles = referencePaths.map((path) => `reference/${basename(path)}`);
  const referenceBytes = referencePaths.reduce((sum, path) => sum + statSync(path).size, 0);

  mkdirSync(join(options.out, 'drops'), { recursive: true });
  const dropsStarted = performance.now();
  const drops = await generateDrops(
    world,
    { seed: options.seed, start: options.start, days: options.days, linesPerDay: options.linesPerDay, world: worldOptions },
    options.out,
    options.workers ?? Math.min(2, availableParallelism()),
    (p) => report('drops', p.rows, p.bytes, p.daysDone / p.days),
  );
  const dropsSeconds = (performance.now() - dropsStarted) / 1000;
  const manifestText = JSON.stringify(drops.manifest, null, 1) + '\n';
  writeFileSync(join(options.out, 'drops', '_manifest.json'), manifestText);

  const rows = drops.manifest.totals.rows;
  const dropBytes = drops.reports.reduce((sum, r) => sum + r.bytes, 0);
  report('streams', rows, dropBytes, 1);
  const streams = writeStreams(
    world,
    { seed: options.seed, start: options.start, days: options.days, sessionsPerDay: options.sessionsPerDay ?? Math.max(200, Math.round(options.linesPerDay / 10)) },
    options.out,
    options.streamLimits,
  );
  const bytes = referenceBytes + dropBytes + Buffer.byteLength(manifestText) + streams.bytes;
  report('done', rows, bytes, 1);
  return {
    files: [...referenceFiles, ...drops.reports.map((r) => r.path), 'drops/_manifest.json', ...streams.files],
    rows,
    bytes,
    manifest: drops.manifest,
    streams,
    seconds: (performance.now() - started) / 1000,
    rowsPerSecond: Math.round(rows / Math.max(dropsSeconds, 1e-3)),
  };
}
