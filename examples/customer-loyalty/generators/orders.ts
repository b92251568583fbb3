/**
 * Order lines for the loyalty programme's speed layer: `customer_id|menu|unix_seconds`, one order a
 * line, written into a spool folder that the platform reads as a stream.
 *
 * - Customer ids are the real ids of the customer file (1–800, 5001–5945, 8001–8501), not the
 *   original's 1–1000. Customers differ in how often they come: each gets a fixed log-normal weight,
 *   so a few regulars order most drinks and the tiers fill realistically.
 * - Drinks follow a fixed mix (latte and cappucino most popular) over the original's six-item menu.
 * - Every file is written under a temporary name starting with '.', flushed to disk, then renamed,
 *   so a spool reader never sees half a file.
 * - The same seed and options always give the same bytes (a seeded sfc32 PRNG, never Math.random).
 *   Live files use the wall clock for their timestamps; their customers and drinks still follow the seed.
 */
import { open, readFile, rename, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TributaryError, defineGenerator } from 'tributary';

/** The six drinks and how often each is ordered (weights add up to 100). */
const MENU_MIX: ReadonlyArray<{ item: string; weight: number }> = [
  { item: 'latte', weight: 28 },
  { item: 'cappucino', weight: 24 },
  { item: 'espresso', weight: 16 },
  { item: 'mocha', weight: 14 },
  { item: 'greentea', weight: 10 },
  { item: 'chocolate', weight: 8 },
];

/** Spread of the log-normal customer weights: 1.2 puts about 45 % of the orders on the top 10 % of customers. */
const CUSTOMER_WEIGHT_SIGMA = 1.2;

export interface OrderProgress {
  rows: number;
  bytes: number;
  fraction: number;
}

export interface GenerateOrdersOptions {
  /** The loyalty customer CSV (no header); its first column is the customer id. */
  customersCsv: string;
  spoolDir: string;
  seed: number;
  files: number;
  /** Orders in each file: one count for all, or a count per file (`spreadOverFiles` spreads a day's). */
  linesPerFile: number | readonly number[];
  /** Start of the first file's time window; file i covers [start + i·spacing, start + (i+1)·spacing). */
  startUnixSeconds: number;
  spacingSeconds: number;
  /** When set, every n-th line (counted across files) is malformed, for dead-letter tests. */
  malformedEvery?: number;
  onProgress?: (progress: OrderProgress) => void;
}

export interface GenerateOrdersResult {
  /** Absolute paths of the files written, in time order. */
  files: string[];
  /** Lines written, malformed ones included. */
  rows: number;
  bytes: number;
  /** How many of `rows` are malformed: parse errors, or (one kind in five) a drink not on the menu. 0 unless `malformedEvery` is set. */
  malformed: number;
}

export interface LiveOrdersOptions {
  customersCsv: string;
  spoolDir: string;
  seed: number;
  /** Time between two files; the original system wrote one every 30 seconds. */
  everyMs?: number;
  linesPerTick: number;
  malformedEvery?: number;
  signal: AbortSignal;
}

/** sfc32: a small, fast PRNG with a 128-bit state; returns floats in [0, 1). */
function sfc32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The first outputs of a fresh state are poorly mixed; discard them.
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** Picks indexes in proportion to fixed weights, by binary search over their running totals. */
function weightedPicker(weights: readonly number[]): (random: number) => number {
  const cumulative: number[] = [];
  let total = 0;
  for (const weight of weights) {
    total += weight;
    cumulative.push(total);
  }
  return (random) => {
    const target = random * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((cumulative[mid] ?? 0) > target) high = mid;
      else low = mid + 1;
    }
    return low;
  };
}

/**
 * The customer ids of the customer CSV, in file order. Only the first field is needed, so this
 * reads up to the first comma (stripping quotes should an export ever quote it) rather than parsing
 * whole rows; a header or any non-numeric first field is skipped.
 */
async function readCustomerIds(customersCsv: string): Promise<string[]> {
  const text = await readFile(customersCsv, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new TributaryError(`orders generator: cannot read the customer file ${customersCsv}: ${error.code ?? error.message}`, {
      hint: 'the real file is data/customer.csv in the example; point at another with --set customers=PATH',
    });
  });
  const ids: string[] = [];
  for (const line of text.split('\n')) {
    const first = line.split(',', 1)[0]?.trim().replace(/^"(.*)"$/, '$1') ?? '';
    if (/^\d+$/.test(first)) ids.push(first);
  }
  if (ids.length === 0) throw new TributaryError(`orders generator: no customer ids in ${customersCsv}`, { hint: 'each line must start with a numeric customer_id' });
  return ids;
}

/**
 * The random choices of one generator: which customer orders which drink. Customer weights are
 * drawn first, from the seed alone, so a seed gives the same regulars in batch and live files.
 */
class OrderDraw {
  private readonly random: () => number;
  private readonly pickCustomer: (random: number) => number;
  private readonly pickDrink = weightedPicker(MENU_MIX.map((entry) => entry.weight));
  private linesDrawn = 0;
  private malformedDrawn = 0;

  constructor(
    private readonly customerIds: readonly string[],
    seed: number,
    private readonly malformedEvery: number | undefined,
  ) {
    if (malformedEvery !== undefined && !(Number.isInteger(malformedEvery) && malformedEvery > 0)) {
      throw new TributaryError(`orders generator: malformedEvery must be a positive integer, got ${malformedEvery}`, { hint: 'every n-th line is malformed, e.g. 50' });
    }
    this.random = sfc32(seed);
    // Log-normal weights from Box–Muller normals.
    this.pickCustomer = weightedPicker(customerIds.map(() => Math.exp(CUSTOMER_WEIGHT_SIGMA * this.normal())));
  }

  private normal(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** `count` lines with times in [windowStart, windowStart + windowSeconds), in time order. */
  lines(count: number, windowStart: number, windowSeconds: number): string[] {
    const times: number[] = [];
    for (let i = 0; i < count; i++) times.push(windowStart + Math.floor(this.random() * windowSeconds));
    times.sort((x, y) => x - y);
    return times.map((time) => {
      const customerId = this.customerIds[this.pickCustomer(this.random())] ?? '';
      const drink = MENU_MIX[this.pickDrink(this.random())]?.item ?? '';
      this.linesDrawn++;
      if (this.malformedEvery !== undefined && this.linesDrawn % this.malformedEvery === 0) {
        return this.malformedLine(customerId, drink, time);
      }
      return `${customerId}|${drink}|${time}`;
    });
  }

  /**
   * A line the platform must reject, cycling through the ways a spool line goes wrong. The last
   * kind parses but names a drink that is not on the menu: it is for a stream rule on the menu
   * (without one, transactions_cln keeps the order with a NULL price).
   */
  private malformedLine(customerId: string, drink: string, time: number): string {
    const kinds = [
      `${customerId}|${drink}`, // a missing field
      `c${customerId}|${drink}|${time}`, // a non-numeric customer id
      `${customerId}|${drink}|${time}.5s`, // a non-numeric time
      `${customerId}|${drink}|${time}|extra`, // one field too many
      `${customerId}|frappuccino|${time}`, // a drink not on the menu
    ];
    const line = kinds[this.malformedDrawn % kinds.length] ?? '';
    this.malformedDrawn++;
    return line;
  }

  get malformed(): number {
    return this.malformedDrawn;
  }
}

/** Writes a complete spool file: a hidden temporary name, flushed, then renamed into place. */
async function writeSpoolFile(spoolDir: string, name: string, text: string): Promise<string> {
  const finalPath = path.join(spoolDir, name);
  const temporaryPath = path.join(spoolDir, `.${name}.tmp`);
  const handle = await open(temporaryPath, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    // Flushed before the rename, so a crash cannot leave a complete name over incomplete bytes.
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporaryPath, finalPath);
  return finalPath;
}

/** Names sort in time order: the window start in unix seconds, then a sequence number. */
function spoolFileName(windowStart: number, sequence: number): string {
  return `orders-${String(windowStart).padStart(10, '0')}-${String(sequence).padStart(6, '0')}.txt`;
}

/** Writes `files` spool files of `linesPerFile` orders each, file i covering the i-th time window. */
export async function generateOrders(options: GenerateOrdersOptions): Promise<GenerateOrdersResult> {
  const { spoolDir, files, linesPerFile, startUnixSeconds, spacingSeconds } = options;
  const draw = new OrderDraw(await readCustomerIds(options.customersCsv), options.seed, options.malformedEvery);
  await mkdir(spoolDir, { recursive: true });
  const written: string[] = [];
  let rows = 0;
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const windowStart = startUnixSeconds + i * spacingSeconds;
    const lines = draw.lines(typeof linesPerFile === 'number' ? linesPerFile : (linesPerFile[i] ?? 0), windowStart, spacingSeconds);
    const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
    written.push(await writeSpoolFile(spoolDir, spoolFileName(windowStart, i), text));
    rows += lines.length;
    bytes += Buffer.byteLength(text);
    options.onProgress?.({ rows, bytes, fraction: (i + 1) / files });
  }
  return { files: written, rows, bytes, malformed: draw.malformed };
}

/**
 * Writes one file of `linesPerTick` orders now and then every `everyMs` (default 30 s, as the
 * original) until `signal` aborts; resolves with what it wrote. Each file's orders are stamped
 * within the interval since the previous tick, ending at the current second.
 */
export async function startLiveOrders(options: LiveOrdersOptions): Promise<GenerateOrdersResult> {
  const everyMs = options.everyMs ?? 30_000;
  const draw = new OrderDraw(await readCustomerIds(options.customersCsv), options.seed, options.malformedEvery);
  await mkdir(options.spoolDir, { recursive: true });
  const written: string[] = [];
  let rows = 0;
  let bytes = 0;
  const startedAt = Date.now();
  for (let tick = 0; !options.signal.aborted; tick++) {
    const windowSeconds = Math.max(1, Math.round(everyMs / 1000));
    const windowStart = Math.floor(Date.now() / 1000) - windowSeconds + 1;
    const lines = draw.lines(options.linesPerTick, windowStart, windowSeconds);
    const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
    written.push(await writeSpoolFile(options.spoolDir, spoolFileName(windowStart, tick), text));
    rows += lines.length;
    bytes += Buffer.byteLength(text);
    // Ticks are scheduled from the start time, so slow writes do not make the files drift later.
    const nextTickAt = startedAt + (tick + 1) * everyMs;
    try {
      await sleep(Math.max(0, nextTickAt - Date.now()), undefined, { signal: options.signal });
    } catch (error) {
      if (!options.signal.aborted) throw error;
    }
  }
  return { files: written, rows, bytes, malformed: draw.malformed };
}

/** The real customer file, relative to the project folder. */
export const CUSTOMERS_CSV = 'data/customer.csv';

/** A busy shop's pace when nobody asks for another: 15 drinks in each 30-second file. */
const LIVE_LINES_PER_FILE = 15;

/** A day's orders over its files, as evenly as whole orders go: the first files take one more (2,000 over 24: 8 of 84, 16 of 83). */
export function spreadOverFiles(orders: number, files: number): number[] {
  return Array.from({ length: files }, (_, i) => Math.floor(orders / files) + (i < orders % files ? 1 : 0));
}

function positiveInteger(options: Record<string, string>, name: string, fallback: number): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new TributaryError(`--set ${name}=${text}: expected a whole number above 0`, { hint: `e.g. --set ${name}=${fallback}` });
  }
  return value;
}

function dayStart(text: string): number {
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(ms)) {
    throw new TributaryError(`--set start=${text}: expected a date like 2024-03-01`, { hint: 'the first day of orders, YYYY-MM-DD (UTC)' });
  }
  return ms / 1000;
}

/**
 * `tributary generate orders`: days of order files into the spool folder, and (for `tributary
 * demo`) the live writer the original system had, one file every 30 seconds stamped now.
 */
export default defineGenerator({
  description: 'order lines customer_id|menu|unix_seconds for the real customers, as files in the spool folder (--set days=7 --set start=2024-03-01 --set files=24 a day)',
  unit: 'order lines a day',
  defaultOut: 'spool/incoming',
  defaultSize: 2000,
  options: {
    days: 'how many days of files (default: 7)',
    files: 'files a day (default: 24)',
    start: 'the first day, YYYY-MM-DD (default: 2024-03-01)',
    customers: 'the customers CSV whose ids the orders use',
    malformedEvery: 'one malformed line every N (default: none)',
  },
  async run(context) {
    const filesPerDay = positiveInteger(context.options, 'files', 24);
    const days = positiveInteger(context.options, 'days', 7);
    const perDay = spreadOverFiles(context.size ?? 2000, filesPerDay);
    return generateOrders({
      customersCsv: path.resolve(context.projectDir, context.options.customers ?? CUSTOMERS_CSV),
      spoolDir: context.out,
      seed: context.seed,
      files: days * filesPerDay,
      linesPerFile: Array.from({ length: days }, () => perDay).flat(),
      startUnixSeconds: dayStart(context.options.start ?? '2024-03-01'),
      spacingSeconds: 86_400 / filesPerDay,
      malformedEvery: context.options.malformedEvery === undefined ? undefined : positiveInteger(context.options, 'malformedEvery', 50),
      onProgress: (progress) => context.progress(progress),
    });
  },
  async live(context) {
    // Faster on request: `--rate N` is N orders a second, one file a second.
    const result = await startLiveOrders({
      customersCsv: path.resolve(context.projectDir, CUSTOMERS_CSV),
      spoolDir: context.out,
      seed: context.seed,
      everyMs: context.rate ? 1000 : 30_000,
      linesPerTick: context.rate ?? LIVE_LINES_PER_FILE,
      signal: context.signal,
    });
    context.log(`orders writer: ${result.rows.toLocaleString('en-US')} order lines in ${result.files.length.toLocaleString('en-US')} files`);
    return result;
  },
});
