import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CATEGORIES, PAYMENT_TYPES, PAYMENT_WEIGHTS } from './catalog.js';
import { clock, formatCents, isoDate, toEpochDay, weekday } from './format.js';
import { AliasTable, Rng, mixSeed } from './random.js';
import { pickFromLine, type Product, type Store, type World, type WorldOptions } from './world.js';

/**
 * Daily store drops: `drops/dt=YYYY-MM-DD/store_<id>.csv`, one file per store per day with
 * sales, as a point-of-sale export would write them, with schema drift and incomplete records
 * injected at planned stores and days and counted in a manifest.
 *
 * A sale (one till transaction, one `sale_id`) has one to six lines of distinct SKUs; baskets
 * cluster on a product line, so stores' data also carries co-purchase signal. Negative
 * quantities are returns. Net sales of a line = quantity × unit_price − discount.
 */

export const CANONICAL_COLUMNS = ['sale_id', 'sold_at', 'store_id', 'sku', 'quantity', 'unit_price', 'discount', 'customer_id', 'payment_type'] as const;

export interface DropsOptions {
  seed: number;
  /** First day, 'YYYY-MM-DD'. */
  start: string;
  days: number;
  /** Average sales lines per day over a week (Saturdays carry more, early weekdays fewer). */
  linesPerDay: number;
  world: WorldOptions;
}

/** Every kind of drift or damage the generator injects, each at one store. */
export type DriftKind =
  | 'renamed_column'
  | 'added_column'
  | 'dropped_column'
  | 'decimal_comma'
  | 'quantity_as_decimal'
  | 'semicolon_delimiter'
  | 'missing_sku'
  | 'missing_quantity'
  | 'truncated_last_line';

export interface DriftPlanEntry {
  kind: DriftKind;
  storeId: number;
  /** Day indices (0 = start), inclusive. */
  fromDay: number;
  toDay: number;
}

export interface DriftFileCount {
  /** Relative to the output folder, '/'-separated. */
  path: string;
  dt: string;
  rows: number;
  /** For incomplete records: their 1-based line numbers in the file (the header is line 1). */
  lines?: number[];
}

export interface DriftCase {
  id: DriftKind;
  storeId: number;
  fromDt: string;
  toDt: string;
  /** What changed in the export, in words. */
  change: string;
  /** What the ETL must do about it. */
  etlRule: string;
  /** True for incomplete records: they go to quarantine rather than being mapped. */
  quarantine: boolean;
  rowsAffected: number;
  files: DriftFileCount[];
  /** dropped_column only: the discounts the store gave but no longer reported, in cents. */
  discountCentsNotReported?: number;
}

export interface DriftManifest {
  seed: number;
  start: string;
  days: number;
  linesPerDay: number;
  canonicalColumns: string[];
  hotStoreIds: number[];
  cases: DriftCase[];
  totals: {
    files: number;
    rows: number;
    incompleteRows: number;
    rowsByDt: Record<string, number>;
    /** Complete rows only, after the drift mappings (a dropped discount counts as 0). */
    netSalesCentsByDt: Record<string, number>;
    rowsByStoreTop: { storeId: number; rows: number }[];
  };
}

/** What a worker reports for each file it wrote. */
export interface DropFileReport {
  path: string;
  dt: string;
  storeId: number;
  rows: number;
  bytes: number;
  incompleteRows: number;
  netSalesCents: number;
  /** Rows per drift kind applying to this file, with incomplete lines' numbers. */
  drift: { kind: DriftKind; rows: number; lines?: number[]; discountCentsNotReported?: number }[];
}

const DESCRIPTIONS: Record<DriftKind, { change: string; etlRule: string; quarantine: boolean }> = {
  renamed_column: { change: "column 'quantity' exported as 'qty'", etlRule: "rename qty -> quantity", quarantine: false },
  added_column: { change: "new column 'promo_code' appended after payment_type (empty when no promotion)", etlRule: 'ignore promo_code in sales_lines (keep it in the raw table)', quarantine: false },
  dropped_column: { change: "column 'discount' no longer exported", etlRule: 'default discount = 0.00 when the column is absent', quarantine: false },
  decimal_comma: { change: 'unit_price and discount written with a decimal comma and quoted, e.g. "12,99"', etlRule: "cast unit_price and discount with decimal separator ','", quarantine: false },
  quantity_as_decimal: { change: "quantity written as a decimal, e.g. '2.0'", etlRule: 'cast quantity DOUBLE -> INTEGER when the fraction is zero (else quarantine)', quarantine: false },
  semicolon_delimiter: { change: "fields separated by ';' (header included); decimals keep the dot", etlRule: "read with delimiter ';' (sniff the delimiter per file)", quarantine: false },
  missing_sku: { change: 'some rows have an empty sku', etlRule: "quarantine: required column sku is empty", quarantine: true },
  missing_quantity: { change: 'some rows have an empty quantity', etlRule: 'quarantine: required column quantity is empty', quarantine: true },
  truncated_last_line: { change: 'the upload was cut: the last line stops inside the sku field, with no newline', etlRule: 'quarantine: the row has 4 of 9 fields', quarantine: true },
};

/**
 * Where and when each case happens. Drift goes to the busiest regular stores (not the flagships)
 * so every case has rows on every affected day; one flagship file gets the missing SKUs, as a
 * big export is where a damaged record hides best. Cases start on day 0, 1, 2 or the last day,
 * clamped to the period.
 */
export function planDrift(world: World, days: number): DriftPlanEntry[] {
  const last = days - 1;
  const on = (day: number) => Math.min(day, last);
  const regular = world.stores
    .filter((store) => store.format !== 'online' && !world.hotStoreIds.includes(store.storeId))
    .sort((a, b) => b.share - a.share || a.storeId - b.storeId);
  const pickStore = (rank: number) => (regular[rank] as Store).storeId;
  return [
    { kind: 'renamed_column', storeId: pickStore(0), fromDay: on(1), toDay: last },
    { kind: 'added_column', storeId: pickStore(1), fromDay: on(2), toDay: last },
    { kind: 'decimal_comma', storeId: pickStore(2), fromDay: on(1), toDay: last },
    { kind: 'quantity_as_decimal', storeId: pickStore(3), fromDay: 0, toDay: last },
    { kind: 'semicolon_delimiter', storeId: pickStore(4), fromDay: 0, toDay: last },
    { kind: 'dropped_column', storeId: pickStore(5), fromDay: last, toDay: last },
    { kind: 'missing_sku', storeId: world.hotStoreIds[1] as number, fromDay: 0, toDay: 0 },
    { kind: 'missing_quantity', storeId: pickStore(6), fromDay: on(1), toDay: on(1) },
    { kind: 'truncated_last_line', storeId: pickStore(7), fromDay: last, toDay: last },
  ];
}

/** Relative line volume by weekday, Monday first (mean 1). */
const WEEKDAY_FACTORS = [0.85, 0.85, 0.9, 0.95, 1.1, 1.35, 1.0];

export function linesOnDay(linesPerDay: number, epochDay: number): number {
  return Math.round(linesPerDay * (WEEKDAY_FACTORS[weekday(epochDay)] as number));
}

/**
 * Splits a day's lines over the stores: each store's expected share, shaken by day-to-day noise
 * (5 % for flagships, 35 % for others), rounded by largest remainder so the day adds up exactly.
 */
export function storeLinesForDay(world: World, seed: number, epochDay: number, total: number): Int32Array {
  const rng = new Rng(mixSeed(seed, 10, epochDay));
  const expected = world.stores.map((store) => store.share * rng.logNormal(world.hotStoreIds.includes(store.storeId) ? 0.05 : 0.35));
  const scale = total / expected.reduce((a, b) => a + b, 0);
  const counts = new Int32Array(expected.length);
  const remainders = expected.map((e, i) => {
    const exact = e * scale;
    counts[i] = Math.floor(exact);
    return { i, rest: exact - Math.floor(exact) };
  });
  let missing = total - counts.reduce((a, b) => a + b, 0);
  remainders.sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of remainders) {
    if (missing <= 0) break;
    counts[i] = (counts[i] as number) + 1;
    missing--;
  }
  return counts;
}

/** Shares of sales by hour at a store (opening hours only) and at an online marketplace. */
const STORE_HOURS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 7, 9, 10, 11, 12, 12, 11, 10, 8, 6, 3, 0, 0];
const STORE_HOURS_SUNDAY = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 11, 12, 12, 11, 10, 8, 5, 2, 0, 0, 0, 0];
const ONLINE_HOURS = [2, 1, 1, 0.5, 0.5, 1, 2, 3, 4, 5, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 10, 9, 6, 4];
const hourTables = { store: new AliasTable(STORE_HOURS), sunday: new AliasTable(STORE_HOURS_SUNDAY), online: new AliasTable(ONLINE_HOURS) };
/** Lines per sale: 1 to 6 (mean 2.1). */
const basketSizes = new AliasTable([0.45, 0.25, 0.14, 0.08, 0.05, 0.03]);
const paymentTable = new AliasTable(PAYMENT_WEIGHTS);
const DISCOUNT_PERCENTS = [10, 15, 20, 25, 30, 50];
const PROMO_CODES = ['HOLIDAY20', 'BOGO50', 'REWARDS10', 'DOORBUSTER', 'TOYDRIVE15'];

/**
 * Receives each generated line, fields as arguments: the hot path then allocates no object per
 * line (at full size, garbage collection otherwise costs more than the formatting).
 */
type LineConsumer = (index: number, saleId: string, soldAt: string, sku: string, quantity: number, unitPriceCents: number, discountCents: number, customerId: string, paymentType: string) => void;

/** Price texts by cent amount, built on first use: a store day formats the same few prices over and over. */
const priceTexts: string[] = [];
function priceText(cents: number): string {
  if (cents < 0 || cents >= 1_000_000) return formatCents(cents);
  return (priceTexts[cents] ??= formatCents(cents));
}

/** How one file is written: the canonical layout, or a store's drifted one. */
interface FileLayout {
  delimiter: string;
  columns: string[];
  decimalComma: boolean;
  quantityAsDecimal: boolean;
}

function layoutFor(kinds: DriftKind[]): FileLayout {
  let columns: string[] = [...CANONICAL_COLUMNS];
  if (kinds.includes('renamed_column')) columns = columns.map((c) => (c === 'quantity' ? 'qty' : c));
  if (kinds.includes('added_column')) columns.push('promo_code');
  if (kinds.includes('dropped_column')) columns = columns.filter((c) => c !== 'discount');
  return {
    delimiter: kinds.includes('semicolon_delimiter') ? ';' : ',',
    columns,
    decimalComma: kinds.includes('decimal_comma'),
    quantityAsDecimal: kinds.includes('quantity_as_decimal'),
  };
}

/** Buffers a file's text and writes it in 1 MB pieces: streaming, without a syscall per line. */
class FileSink {
  private readonly fd: number;
  private parts: string[] = [];
  private pending = 0;
  bytes = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(text: string): void {
    this.parts.push(text);
    this.pending += text.length;
    if (this.pending >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    this.bytes += writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.pending = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Generates one store's sales lines for one day, in till order. */
function generateStoreDay(world: World, seed: number, epochDay: number, store: Store, lineCount: number, consume: LineConsumer): void {
  const rng = new Rng(mixSeed(seed, 11, epochDay, store.storeId));
  const online = store.format === 'online';
  const hours = online ? hourTables.online : weekday(epochDay) === 6 ? hourTables.sunday : hourTables.store;
  // Draw basket sizes first (the last basket takes what remains), then times, sorted: sizes and
  // times are independent, so pairing them after sorting keeps both distributions.
  const sizes: number[] = [];
  for (let left = lineCount; left > 0; ) {
    const size = Math.min(left, 1 + basketSizes.sample(rng));
    sizes.push(size);
    left -= size;
  }
  const times = new Int32Array(sizes.length);
  for (let i = 0; i < times.length; i++) times[i] = hours.sample(rng) * 3600 + rng.int(3600);
  times.sort();
  const date = isoDate(epochDay);
  const compactDate = date.replace(/-/g, '');
  const storeCode = String(store.storeId).padStart(4, '0');
  const homeCustomers = world.customersByStore.get(store.storeId);
  const { products, customers } = world;
  const basket: number[] = [];
  let index = 0;
  for (let b = 0; b < sizes.length; b++) {
    const size = sizes[b] as number;
    const saleId = `${storeCode}-${compactDate}-${String(b + 1).padStart(6, '0')}`;
    const soldAt = `${date} ${clock(times[b] as number)}`;
    const isReturn = size === 1 && rng.chance(0.025);
    let customerIndex = -1;
    if (!online && rng.chance(0.38)) {
      customerIndex = homeCustomers && rng.chance(0.8) ? rng.pick(homeCustomers) : rng.int(customers.length);
    }
    const customerId = customerIndex >= 0 ? String(customers[customerIndex]?.customerId) : '';
    const paymentType = online ? 'marketplace' : (PAYMENT_TYPES[paymentTable.sample(rng)] as string);
    basket.length = 0;
    for (let k = 0; k < size; k++) {
      let productIndex: number;
      if (k === 0) {
        const interests = customerIndex >= 0 ? customers[customerIndex]?.interests : undefined;
        productIndex = interests && rng.chance(0.5) ? pickFromLine(world, rng.pick(interests), rng) : world.productSampler.sample(rng);
      } else {
        const first = products[basket[0] as number] as Product;
        const roll = rng.next();
        productIndex = roll < 0.6 ? pickFromLine(world, first.line, rng) : roll < 0.8 ? pickFromCategory(world, first, rng) : world.productSampler.sample(rng);
      }
      // Lines of one sale have distinct SKUs: on a clash take the next product in the catalogue.
      while (basket.includes(productIndex)) productIndex = (productIndex + 1) % products.length;
      basket.push(productIndex);
      const product = products[productIndex] as Product;
      const quantity = isReturn ? -1 : drawQuantity(product.listPriceCents, rng);
      const clearance = !isReturn && product.listPriceCents > 500 && rng.chance(0.06);
      const unitPriceCents = clearance ? Math.floor((product.listPriceCents * 0.7) / 100) * 100 + 97 : product.listPriceCents;
      const discountCents = !isReturn && rng.chance(0.14) ? Math.round((quantity * unitPriceCents * rng.pick(DISCOUNT_PERCENTS)) / 100) : 0;
      consume(index++, saleId, soldAt, product.sku, quantity, unitPriceCents, discountCents, customerId, paymentType);
    }
  }
}

function pickFromCategory(world: World, product: Product, rng: Rng): number {
  const category = CATEGORIES.indexOf(product.category);
  return world.categoryProducts[category]?.[(world.categorySamplers[category] as AliasTable).sample(rng)] as number;
}

/** Cheap items sell by the handful (stocking fillers), dear ones one at a time. */
function drawQuantity(listPriceCents: number, rng: Rng): number {
  const roll = rng.next();
  if (listPriceCents < 1000) return roll < 0.6 ? 1 : roll < 0.82 ? 2 : roll < 0.92 ? 3 : roll < 0.97 ? 4 : 6;
  return roll < 0.86 ? 1 : roll < 0.97 ? 2 : 3;
}

/**
 * Writes every store's file for one day and reports what it wrote. Canonical files take a fast
 * path (one template per line); drifted or damaged files go through a generic formatter.
 */
export function writeDropDay(world: World, options: DropsOptions, plan: DriftPlanEntry[], dayIndex: number, out: string): DropFileReport[] {
  const epochDay = toEpochDay(options.start) + dayIndex;
  const dt = isoDate(epochDay);
  const relativeDir = `drops/dt=${dt}`;
  mkdirSync(join(out, relativeDir), { recursive: true });
  const counts = storeLinesForDay(world, options.seed, epochDay, linesOnDay(options.linesPerDay, epochDay));
  const reports: DropFileReport[] = [];
  world.stores.forEach((store, storeIndex) => {
    const lineCount = counts[storeIndex] as number;
    if (lineCount === 0) return;
    const kinds = plan.filter((p) => p.storeId === store.storeId && dayIndex >= p.fromDay && dayIndex <= p.toDay).map((p) => p.kind);
    const path = `${relativeDir}/store_${store.storeId}.csv`;
    const file = new FileSink(join(out, path));
    const writer = kinds.length === 0 ? canonicalWriter(store.storeId, file) : driftedWriter(store.storeId, lineCount, kinds, mixSeed(options.seed, 12, epochDay, store.storeId), file);
    generateStoreDay(world, options.seed, epochDay, store, lineCount, writer.consume);
    file.close();
    reports.push({ path, dt, storeId: store.storeId, rows: lineCount, bytes: file.bytes, ...writer.summary() });
  });
  return reports;
}

type WriteSummary = Pick<DropFileReport, 'incompleteRows' | 'netSalesCents' | 'drift'>;

interface FileWriter {
  consume: LineConsumer;
  summary: () => WriteSummary;
}

function canonicalWriter(storeId: number, file: FileSink): FileWriter {
  file.write(`${CANONICAL_COLUMNS.join(',')}\n`);
  let netSalesCents = 0;
  return {
    consume: (_index, saleId, soldAt, sku, quantity, unitPriceCents, discountCents, customerId, paymentType) => {
      file.write(`${saleId},${soldAt},${storeId},${sku},${quantity},${priceText(unitPriceCents)},${priceText(discountCents)},${customerId},${paymentType}\n`);
      netSalesCents += quantity * unitPriceCents - discountCents;
    },
    summary: () => ({ incompleteRows: 0, netSalesCents, drift: [] }),
  };
}

function driftedWriter(storeId: number, lineCount: number, kinds: DriftKind[], seed: number, file: FileSink): FileWriter {
  const rng = new Rng(seed);
  const layout = layoutFor(kinds);
  // Damaged rows: never the last line, which the truncation case owns.
  const damaged = new Map<number, 'missing_sku' | 'missing_quantity'>();
  for (const kind of ['missing_sku', 'missing_quantity'] as const) {
    if (!kinds.includes(kind)) continue;
    const wanted = Math.min(Math.max(kind === 'missing_sku' ? 3 : 2, Math.round(lineCount * (kind === 'missing_sku' ? 0.001 : 0.02))), lineCount - 1);
    let placed = 0;
    while (placed < wanted) {
      const at = rng.int(lineCount - 1);
      if (damaged.has(at)) continue;
      damaged.set(at, kind);
      placed++;
    }
  }
  const truncateLast = kinds.includes('truncated_last_line');
  const price = (cents: number) => (layout.decimalComma ? `"${priceText(cents).replace('.', ',')}"` : priceText(cents));
  file.write(`${layout.columns.join(layout.delimiter)}\n`);
  let netSalesCents = 0;
  let discountCentsNotReported = 0;
  const consume: LineConsumer = (index, saleId, soldAt, sku, quantity, unitPriceCents, discountCents, customerId, paymentType) => {
    const damage = damaged.get(index);
    const quantityText = damage === 'missing_quantity' ? '' : layout.quantityAsDecimal ? `${quantity}.0` : String(quantity);
    const values: Record<string, string> = {
      sale_id: saleId,
      sold_at: soldAt,
      store_id: String(storeId),
      sku: damage === 'missing_sku' ? '' : sku,
      quantity: quantityText,
      qty: quantityText,
      unit_price: price(unitPriceCents),
      discount: price(discountCents),
      customer_id: customerId,
      payment_type: paymentType,
      promo_code: discountCents > 0 ? (PROMO_CODES[rng.int(PROMO_CODES.length)] as string) : '',
    };
    const fields = layout.columns.map((column) => values[column] as string);
    if (truncateLast && index === lineCount - 1) {
      // Cut inside the sku: sale_id, sold_at, store_id and part of the sku survive.
      file.write(`${fields.slice(0, 3).join(layout.delimiter)}${layout.delimiter}${(fields[3] as string).slice(0, 5)}`);
      return;
    }
    file.write(`${fields.join(layout.delimiter)}\n`);
    if (damage) return;
    netSalesCents += quantity * unitPriceCents;
    if (layout.columns.includes('discount')) netSalesCents -= discountCents;
    else discountCentsNotReported += discountCents;
  };
  const lineNumbers = (kind: DriftKind) =>
    [...damaged.entries()]
      .filter(([, k]) => k === kind)
      .map(([i]) => i + 2)
      .sort((a, b) => a - b);
  const summary = (): WriteSummary => ({
    incompleteRows: damaged.size + (truncateLast ? 1 : 0),
    netSalesCents,
    drift: kinds.map((kind) => {
      switch (kind) {
        case 'missing_sku':
        case 'missing_quantity': {
          const numbers = lineNumbers(kind);
          return { kind, rows: numbers.length, lines: numbers };
        }
        case 'truncated_last_line':
          return { kind, rows: 1, lines: [lineCount + 1] };
        case 'dropped_column':
          return { kind, rows: lineCount, discountCentsNotReported };
        default:
          return { kind, rows: lineCount };
      }
    }),
  });
  return { consume, summary };
}

/** Folds the workers' file reports into the manifest, in (day, store) order. */
export function buildManifest(world: World, options: DropsOptions, plan: DriftPlanEntry[], reports: DropFileReport[]): DriftManifest {
  const start = toEpochDay(options.start);
  const cases: DriftCase[] = plan.map((entry) => {
    const files: DriftFileCount[] = [];
    let discountCentsNotReported = 0;
    for (const report of reports) {
      for (const d of report.drift) {
        if (d.kind !== entry.kind || report.storeId !== entry.storeId) continue;
        files.push({ path: report.path, dt: report.dt, rows: d.rows, ...(d.lines ? { lines: d.lines } : {}) });
        discountCentsNotReported += d.discountCentsNotReported ?? 0;
      }
    }
    const description = DESCRIPTIONS[entry.kind];
    return {
      id: entry.kind,
      storeId: entry.storeId,
      fromDt: isoDate(start + entry.fromDay),
      toDt: isoDate(start + entry.toDay),
      change: description.change,
      etlRule: description.etlRule,
      quarantine: description.quarantine,
      rowsAffected: files.reduce((sum, f) => sum + f.rows, 0),
      files,
      ...(entry.kind === 'dropped_column' ? { discountCentsNotReported } : {}),
    };
  });
  const rowsByDt: Record<string, number> = {};
  const netSalesCentsByDt: Record<string, number> = {};
  const rowsByStore = new Map<number, number>();
  for (const report of reports) {
    rowsByDt[report.dt] = (rowsByDt[report.dt] ?? 0) + report.rows;
    netSalesCentsByDt[report.dt] = (netSalesCentsByDt[report.dt] ?? 0) + report.netSalesCents;
    rowsByStore.set(report.storeId, (rowsByStore.get(report.storeId) ?? 0) + report.rows);
  }
  return {
    seed: options.seed,
    start: options.start,
    days: options.days,
    linesPerDay: options.linesPerDay,
    canonicalColumns: [...CANONICAL_COLUMNS],
    hotStoreIds: world.hotStoreIds,
    cases,
    totals: {
      files: reports.length,
      rows: reports.reduce((sum, r) => sum + r.rows, 0),
      incompleteRows: reports.reduce((sum, r) => sum + r.incompleteRows, 0),
      rowsByDt,
      netSalesCentsByDt,
      rowsByStoreTop: [...rowsByStore.entries()]
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, 10)
        .map(([storeId, rows]) => ({ storeId, rows })),
    },
  };
}

export interface DropsProgress {
  daysDone: number;
  days: number;
  rows: number;
  bytes: number;
}

export interface DropsResult {
  reports: DropFileReport[];
  manifest: DriftManifest;
}

/** Messages between the drops coordinator and its workers. */
export type WorkerRequest = { day: number } | { stop: true };
export type WorkerReply = { ready: true } | { day: number; reports: DropFileReport[] };
export interface WorkerJob {
  options: DropsOptions;
  plan: DriftPlanEntry[];
  out: string;
}

/**
 * Writes all days' drops with `workers` worker threads pulling days from a queue (1 = in this
 * thread). Each file depends only on the seed, its day and its store, so the bytes are the same
 * for any number of workers; reports are sorted before the manifest is built.
 */
export async function generateDrops(world: World, options: DropsOptions, out: string, workers: number, onProgress?: (p: DropsProgress) => void): Promise<DropsResult> {
  const plan = planDrift(world, options.days);
  const reports: DropFileReport[] = [];
  let daysDone = 0;
  const record = (dayReports: DropFileReport[]) => {
    reports.push(...dayReports);
    daysDone++;
    onProgress?.({ daysDone, days: options.days, rows: reports.reduce((s, r) => s + r.rows, 0), bytes: reports.reduce((s, r) => s + r.bytes, 0) });
  };
  const threads = Math.max(1, Math.min(workers, options.days));
  if (threads === 1) {
    for (let day = 0; day < options.days; day++) record(writeDropDay(world, options, plan, day, out));
  } else {
    const job: WorkerJob = { options, plan, out };
    let nextDay = 0;
    await Promise.all(
      Array.from({ length: threads }, () =>
        new Promise<void>((resolve, reject) => {
          const worker = startWorker(job);
          const sendNext = () => {
            if (nextDay < options.days) worker.postMessage({ day: nextDay++ } satisfies WorkerRequest);
            else worker.postMessage({ stop: true } satisfies WorkerRequest);
          };
          worker.on('message', (reply: WorkerReply) => {
            if ('reports' in reply) record(reply.reports);
            sendNext();
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`drops worker exited with code ${code}`))));
        }),
      ),
    );
  }
  reports.sort((a, b) => (a.dt < b.dt ? -1 : a.dt > b.dt ? 1 : a.storeId - b.storeId));
  return { reports, manifest: buildManifest(world, options, plan, reports) };
}

/**
 * Starts a worker on drops-worker. Under tsx (this file is .ts) a worker does not inherit the
 * TypeScript loader, so it is started from a bootstrap that registers tsx first.
 */
function startWorker(job: WorkerJob): Worker {
  const typescript = import.meta.url.endsWith('.ts');
  const entry = new URL(typescript ? './drops-worker.ts' : './drops-worker.js', import.meta.url);
  if (!typescript) return new Worker(entry, { workerData: job });
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: job });
}
