import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * An independent reference for the retail-sales example: plain TypeScript over the raw files
 * (no DuckDB, no SQL, nothing shared with the generators), so tests can check the platform's
 * ingestion and the SQL models against numbers computed another way.
 *
 * It applies the drift mappings the README documents, file by file, from what each file says
 * about itself (its header and its values), not from the generator's manifest:
 * - delimiter: ';' when the header has one and no comma, else ',';
 * - column names: `qty` means `quantity`; unknown columns (`promo_code`) are ignored; a missing
 *   `discount` column means a discount of 0;
 * - numbers: a decimal comma ("12,99") is a decimal point; a quantity "2.0" is 2 (a fraction
 *   other than zero is invalid);
 * - a row is incomplete, and quarantined, when it has fewer fields than the header
 *   (too_few_fields), or an empty sku (missing_sku) or quantity (missing_quantity), or any other
 *   required field empty or unparseable (invalid).
 * Amounts are integer cents: net = quantity × unit_price − discount.
 *
 * Run: npx tsx examples/retail-sales/test/reference.ts [data dir] (default: data/sample).
 */

export type IncompleteReason = 'too_few_fields' | 'missing_sku' | 'missing_quantity' | 'invalid';

export interface SalesTotals {
  lines: number;
  units: number;
  netSalesCents: number;
}

export interface HoldoutMetrics {
  customersEvaluated: number;
  precisionAt10: number;
  recallAt10: number;
  hitRateAt10: number;
  ndcgAt10: number;
  catalogueCoverage: number;
}

export interface ReferenceResult {
  files: number;
  /** Data lines in all drop files (header lines excluded). */
  rows: number;
  validRows: number;
  incomplete: { path: string; line: number; reason: IncompleteReason }[];
  incompleteByReason: Record<IncompleteReason, number>;
  /** Rows (complete or not) in files showing each kind of drift, detected from the files. */
  driftRows: {
    renamed_column: number;
    added_column: number;
    dropped_column: number;
    semicolon_delimiter: number;
    decimal_comma: number;
    quantity_as_decimal: number;
  };
  byDay: Record<string, SalesTotals>;
  byBrand: Record<string, SalesTotals>;
  byDayBrand: Record<string, Record<string, SalesTotals>>;
  rowsByStore: Record<string, number>;
  popularityHoldout: HoldoutMetrics & { cutoff: string };
  streams: StreamsCheck;
}

/**
 * The streams checked against each other: behaviour events must be exactly what the access log
 * and the orders imply for logged-in shoppers, within the time the (possibly cut) files cover.
 */
export interface StreamsCheck {
  logLines: number;
  /** Lines that do not parse as Apache combined format. */
  malformedLines: number;
  botLines: number;
  notFoundLines: number;
  /** Derived from the log before its last timestamp: logged-in GET /product/… 200 and POST /cart. */
  derivedFromLog: { view: number; cart: number };
  behaviourInLogWindow: { view: number; cart: number };
  /** Derived from orders before the last order's time: lines of orders with a customer. */
  derivedFromOrders: { purchase: number };
  behaviourInOrderWindow: { purchase: number };
}

/** RFC 4180 fields of one CSV text: quoted fields may hold the delimiter, quotes are doubled. */
export function parseCsv(text: string, delimiter: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
    i++;
  }
  // A last line without a newline (a truncated upload) is still a record.
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** '12.99', '12,99', '-3', '2.0' → cents (or units × 100); null when not a number. */
function toCents(text: string): number | null {
  const match = /^(-?)(\d+)(?:[.,](\d{1,2}))?$/.exec(text.trim());
  if (!match) return null;
  const cents = Number(match[2]) * 100 + Number(((match[3] ?? '') + '00').slice(0, 2));
  return match[1] === '-' ? -cents : cents;
}

function toQuantity(text: string): number | null {
  const match = /^(-?\d+)(?:\.0+)?$/.exec(text.trim());
  return match ? Number(match[1]) : null;
}

const REQUIRED = ['sale_id', 'sold_at', 'store_id', 'sku', 'quantity', 'unit_price'] as const;
const RENAMES: Record<string, string> = { qty: 'quantity' };

function readCsvRecords(path: string): { header: string[]; rows: string[][]; delimiter: string } {
  const text = readFileSync(path, 'utf8');
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  const delimiter = firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
  const [header, ...rows] = parseCsv(text, delimiter);
  return { header: header ?? [], rows, delimiter };
}

function add(totals: SalesTotals, units: number, netCents: number): void {
  totals.lines++;
  totals.units += units;
  totals.netSalesCents += netCents;
}

const emptyTotals = (): SalesTotals => ({ lines: 0, units: 0, netSalesCents: 0 });

export function computeReference(dataDir: string): ReferenceResult {
  const brandOf = new Map<string, string>();
  const products = readCsvRecords(join(dataDir, 'reference', 'products.csv'));
  const skuColumn = products.header.indexOf('sku');
  const brandColumn = products.header.indexOf('brand');
  for (const row of products.rows) brandOf.set(row[skuColumn] as string, row[brandColumn] as string);

  const result: ReferenceResult = {
    files: 0,
    rows: 0,
    validRows: 0,
    incomplete: [],
    incompleteByReason: { too_few_fields: 0, missing_sku: 0, missing_quantity: 0, invalid: 0 },
    driftRows: { renamed_column: 0, added_column: 0, dropped_column: 0, semicolon_delimiter: 0, decimal_comma: 0, quantity_as_decimal: 0 },
    byDay: {},
    byBrand: {},
    byDayBrand: {},
    rowsByStore: {},
    popularityHoldout: { cutoff: '', customersEvaluated: 0, precisionAt10: 0, recallAt10: 0, hitRateAt10: 0, ndcgAt10: 0, catalogueCoverage: 0 },
    streams: checkStreams(dataDir),
  };
  const dropsDir = join(dataDir, 'drops');
  for (const dayDir of readdirSync(dropsDir).filter((name) => name.startsWith('dt=')).sort()) {
    const dt = dayDir.slice(3);
    for (const fileName of readdirSync(join(dropsDir, dayDir)).filter((name) => name.endsWith('.csv')).sort()) {
      const path = `drops/${dayDir}/${fileName}`;
      const { header, rows, delimiter } = readCsvRecords(join(dataDir, path));
      result.files++;
      result.rows += rows.length;
      const columns = header.map((name) => RENAMES[name] ?? name);
      const at = (name: string) => columns.indexOf(name);
      if (header.includes('qty')) result.driftRows.renamed_column += rows.length;
      if (header.includes('promo_code')) result.driftRows.added_column += rows.length;
      if (!columns.includes('discount')) result.driftRows.dropped_column += rows.length;
      if (delimiter === ';') result.driftRows.semicolon_delimiter += rows.length;
      rows.forEach((row, index) => {
        const value = (name: string) => (at(name) >= 0 ? (row[at(name)] ?? '') : '');
        if (value('unit_price').includes(',')) result.driftRows.decimal_comma++;
        if (value('quantity').includes('.')) result.driftRows.quantity_as_decimal++;
        const quantity = toQuantity(value('quantity'));
        const unitPriceCents = toCents(value('unit_price'));
        const discountCents = at('discount') >= 0 ? toCents(value('discount')) : 0;
        let reason: IncompleteReason | null = null;
        if (row.length < header.length) reason = 'too_few_fields';
        else if (value('sku') === '') reason = 'missing_sku';
        else if (value('quantity') === '') reason = 'missing_quantity';
        else if (REQUIRED.some((name) => value(name) === '') || quantity === null || unitPriceCents === null || discountCents === null) reason = 'invalid';
        if (reason !== null) {
          result.incomplete.push({ path, line: index + 2, reason });
          result.incompleteByReason[reason]++;
          return;
        }
        result.validRows++;
        const net = (quantity as number) * (unitPriceCents as number) - (discountCents as number);
        const brand = brandOf.get(value('sku')) ?? 'unknown';
        add((result.byDay[dt] ??= emptyTotals()), quantity as number, net);
        add((result.byBrand[brand] ??= emptyTotals()), quantity as number, net);
        add(((result.byDayBrand[dt] ??= {})[brand] ??= emptyTotals()), quantity as number, net);
        const store = value('store_id');
        result.rowsByStore[store] = (result.rowsByStore[store] ?? 0) + 1;
      });
    }
  }
  result.popularityHoldout = popularityHoldout(dataDir, products.rows.length);
  return result;
}

interface Behaviour {
  customer_id: number;
  sku: string;
  action: string;
  at: string;
}

interface Order {
  ordered_at: string;
  customer_id: number | null;
  lines: { sku: string }[];
}

/** Every line of every file of one stream, in folder (day) order. */
function streamLines(dataDir: string, stream: string, fileName: string): string[] {
  const dir = join(dataDir, 'streams', stream);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((dayDir) => readFileSync(join(dir, dayDir, fileName), 'utf8').split('\n'))
    .filter((line) => line !== '');
}

const readBehaviour = (dataDir: string) => streamLines(dataDir, 'behaviour', 'behaviour.ndjson').map((line) => JSON.parse(line) as Behaviour);

/** Apache combined format: host ident user [time] "method path protocol" status bytes "referer" "agent". */
const COMBINED = /^(\S+) (\S+) (\S+) \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] "([A-Z]+) (\S+) (HTTP\/\d\.\d)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$/;
const MONTH_NUMBERS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const BOT_AGENT = /bot|crawler|spider|python-requests/i;

export function checkStreams(dataDir: string): StreamsCheck {
  const check: StreamsCheck = {
    logLines: 0,
    malformedLines: 0,
    botLines: 0,
    notFoundLines: 0,
    derivedFromLog: { view: 0, cart: 0 },
    behaviourInLogWindow: { view: 0, cart: 0 },
    derivedFromOrders: { purchase: 0 },
    behaviourInOrderWindow: { purchase: 0 },
  };
  const requests: { t: number; user: string; method: string; path: string; status: number; agent: string }[] = [];
  for (const line of streamLines(dataDir, 'access_log', 'access_log')) {
    check.logLines++;
    const m = COMBINED.exec(line);
    if (!m) {
      check.malformedLines++;
      continue;
    }
    const t = Date.UTC(Number(m[6]), MONTH_NUMBERS[m[5] as string] as number, Number(m[4]), Number(m[7]), Number(m[8]), Number(m[9]));
    const request = { t, user: m[3] as string, method: m[11] as string, path: m[12] as string, status: Number(m[14]), agent: m[17] as string };
    requests.push(request);
    if (BOT_AGENT.test(request.agent)) check.botLines++;
    if (request.status === 404) check.notFoundLines++;
  }
  const behaviour = readBehaviour(dataDir);
  // Strictly before the last timestamp: a cut file may hold only part of its last second.
  const logEnd = requests.reduce((max, r) => Math.max(max, r.t), -Infinity);
  for (const r of requests) {
    if (r.t >= logEnd || r.user === '-' || BOT_AGENT.test(r.agent)) continue;
    if (r.method === 'GET' && r.status === 200 && r.path.startsWith('/product/')) check.derivedFromLog.view++;
    if (r.method === 'POST' && r.path.startsWith('/cart?')) check.derivedFromLog.cart++;
  }
  const orders = streamLines(dataDir, 'online_orders', 'orders.ndjson').map((line) => JSON.parse(line) as Order);
  const ordersEnd = orders.reduce((max, o) => Math.max(max, Date.parse(o.ordered_at)), -Infinity);
  for (const o of orders) if (o.customer_id !== null && Date.parse(o.ordered_at) < ordersEnd) check.derivedFromOrders.purchase += o.lines.length;
  for (const e of behaviour) {
    const t = Date.parse(e.at);
    if (t < logEnd && (e.action === 'view' || e.action === 'cart')) check.behaviourInLogWindow[e.action]++;
    if (t < ordersEnd && e.action === 'purchase') check.behaviourInOrderWindow.purchase++;
  }
  return check;
}

const WEIGHTS: Record<string, number> = { view: 1, cart: 3, purchase: 5 };
const K = 10;

/**
 * The popularity baseline's hold-out metrics, implemented separately from the SQL: train on
 * behaviour before the start of the last day, rate each (customer, item) by its strongest
 * action (view 1, cart 3, purchase 5; a customer's 100 strongest, then latest, items), rank
 * items by the sum of ratings (ties by sku), recommend each customer the top 10 they have not
 * purchased, and score against what they purchased on the last day and had not before.
 */
export function popularityHoldout(dataDir: string, catalogueSize: number): HoldoutMetrics & { cutoff: string } {
  const events = readBehaviour(dataDir);
  const time = (e: Behaviour) => Date.parse(e.at);
  const maxTime = events.reduce((max, e) => Math.max(max, time(e)), -Infinity);
  const cutoff = Math.floor(maxTime / 86_400_000) * 86_400_000;
  const train = events.filter((e) => time(e) < cutoff);

  const ratings = new Map<number, Map<string, { strength: number; lastAt: number }>>();
  for (const e of train) {
    const weight = WEIGHTS[e.action];
    if (weight === undefined) continue;
    const items = ratings.get(e.customer_id) ?? new Map<string, { strength: number; lastAt: number }>();
    ratings.set(e.customer_id, items);
    const rating = items.get(e.sku);
    if (rating) {
      rating.strength = Math.max(rating.strength, weight);
      rating.lastAt = Math.max(rating.lastAt, time(e));
    } else items.set(e.sku, { strength: weight, lastAt: time(e) });
  }
  const popularity = new Map<string, number>();
  const purchasedInTrain = new Map<number, Set<string>>();
  for (const [customer, items] of ratings) {
    const kept = [...items.entries()]
      .sort(([skuA, a], [skuB, b]) => b.strength - a.strength || b.lastAt - a.lastAt || (skuA < skuB ? -1 : skuA > skuB ? 1 : 0))
      .slice(0, 100);
    for (const [sku, rating] of kept) {
      popularity.set(sku, (popularity.get(sku) ?? 0) + rating.strength);
      if (rating.strength === WEIGHTS.purchase) {
        const set = purchasedInTrain.get(customer) ?? new Set<string>();
        set.add(sku);
        purchasedInTrain.set(customer, set);
      }
    }
  }
  const ranking = [...popularity.entries()].sort(([skuA, a], [skuB, b]) => b - a || (skuA < skuB ? -1 : skuA > skuB ? 1 : 0)).map(([sku]) => sku);

  const boughtBefore = new Set(events.filter((e) => e.action === 'purchase' && time(e) < cutoff).map((e) => `${e.customer_id}|${e.sku}`));
  const truth = new Map<number, Set<string>>();
  for (const e of events) {
    if (e.action !== 'purchase' || time(e) < cutoff || boughtBefore.has(`${e.customer_id}|${e.sku}`)) continue;
    const set = truth.get(e.customer_id) ?? new Set<string>();
    set.add(e.sku);
    truth.set(e.customer_id, set);
  }

  const discount = (rank: number) => 1 / Math.log2(rank + 1);
  const recommended = new Set<string>();
  let precision = 0;
  let recall = 0;
  let hitRate = 0;
  let ndcg = 0;
  for (const [customer, relevant] of truth) {
    const purchased = purchasedInTrain.get(customer) ?? new Set<string>();
    const list = ranking.filter((sku) => !purchased.has(sku)).slice(0, K);
    let hits = 0;
    let dcg = 0;
    list.forEach((sku, i) => {
      recommended.add(sku);
      if (relevant.has(sku)) {
        hits++;
        dcg += discount(i + 1);
      }
    });
    let idcg = 0;
    for (let r = 1; r <= Math.min(relevant.size, K); r++) idcg += discount(r);
    precision += hits / K;
    recall += hits / relevant.size;
    hitRate += hits > 0 ? 1 : 0;
    ndcg += dcg / idcg;
  }
  const n = truth.size;
  return {
    cutoff: new Date(cutoff).toISOString(),
    customersEvaluated: n,
    precisionAt10: n === 0 ? 0 : precision / n,
    recallAt10: n === 0 ? 0 : recall / n,
    hitRateAt10: n === 0 ? 0 : hitRate / n,
    ndcgAt10: n === 0 ? 0 : ndcg / n,
    catalogueCoverage: recommended.size / catalogueSize,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dataDir = process.argv[2] ?? fileURLToPath(new URL('../data/sample', import.meta.url));
  const { incomplete, byDayBrand, rowsByStore, ...summary } = computeReference(dataDir);
  const topStores = Object.entries(rowsByStore)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  console.log(JSON.stringify({ ...summary, incomplete, topStores, dayBrandCells: Object.values(byDayBrand).reduce((n, m) => n + Object.keys(m).length, 0) }, null, 1));
}
