import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRODUCT_LINES } from './catalog.js';
import { apacheTime, formatCents, isoDate, isoInstant, toEpochDay, weekday } from './format.js';
import { AliasTable, Rng, mixSeed } from './random.js';
import { pickFromLine, type Customer, type Product, type World } from './world.js';

/**
 * The web shop's traffic, simulated session by session so that the three streams agree:
 * - the web server's access log (Apache combined format; a logged-in shopper's customer id is
 *   the %u "remote user" field, '-' otherwise), with bots, 404s, 503s and a few malformed lines;
 * - online orders (JSON, one object per line), placed at the checkouts in the log;
 * - behaviour events for the recommender (JSON lines): exactly what can be derived from the log
 *   and the orders for logged-in shoppers: a `view` per product page served with status 200, a
 *   `cart` per POST /cart, a `purchase` per order line. Bots and anonymous visitors give none.
 * Shoppers browse one of their household's product lines per session, so views, carts and
 * purchases of one customer cluster on lines and age groups: the signal item-to-item
 * recommendations need.
 */

export interface StreamOptions {
  seed: number;
  start: string;
  days: number;
  /** Average visitor sessions per day (bots included). */
  sessionsPerDay: number;
}

export interface OrderLine {
  sku: string;
  quantity: number;
  unit_price: number;
}

export interface OnlineOrder {
  order_id: string;
  ordered_at: string;
  customer_id: number | null;
  channel: 'web' | 'app';
  lines: OrderLine[];
  total: number;
}

export type BehaviourAction = 'view' | 'cart' | 'purchase';

export interface BehaviourEvent {
  customer_id: number;
  sku: string;
  action: BehaviourAction;
  at: string;
}

export type MalformedKind = 'tls_probe' | 'truncated' | 'unescaped_quote';

export interface OnlineDay {
  dt: string;
  logLines: string[];
  orders: OnlineOrder[];
  behaviour: BehaviourEvent[];
  /** Line indices (in logLines) of malformed lines, by kind. */
  malformed: Record<MalformedKind, number[]>;
}

const DOMAIN = 'https://www.toyland.example';
const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (Linux; Android 14; SM-S921U) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
];
const BROWSER_WEIGHTS = [0.3, 0.14, 0.28, 0.1, 0.06, 0.12];
const APPS = ['ToylandApp/6.3.0 (iPhone; iOS 18.1; Scale/3.00)', 'ToylandApp/6.3.0 (Android 14; Pixel 8)', 'ToylandApp/6.2.4 (iPad; iPadOS 17.6; Scale/2.00)'];
const BOTS = [
  { ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', net: '66.249.66' },
  { ua: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', net: '157.55.39' },
  { ua: 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', net: '54.36.148' },
  { ua: 'python-requests/2.31.0', net: '34.141.22' },
];
const LANDING_REFERERS = ['-', 'https://www.google.com/', 'https://www.bing.com/', 'https://www.facebook.com/', 'https://mail.toyland.example/campaign/holiday'];
const LANDING_WEIGHTS = [0.35, 0.4, 0.07, 0.08, 0.1];
/** Online sessions by hour (UTC): evenings across US time zones. */
const SESSION_HOURS = new AliasTable([6, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1.5, 2, 3, 4, 5, 5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 7]);
/** Online sessions by weekday, Monday first: Sunday evening and Monday are the web's busiest. */
const SESSION_WEEKDAY = [1.1, 1.0, 0.95, 0.95, 0.9, 0.9, 1.2];
const browserTable = new AliasTable(BROWSER_WEIGHTS);
const landingTable = new AliasTable(LANDING_WEIGHTS);

const categorySlug = (category: string) => category.replace(/ & /g, '-').replace(/ /g, '-');
const searchQuery = (theme: string, brand: string) => encodeURIComponent((theme.includes(brand) ? theme : `${brand} ${theme}`).toLowerCase()).replace(/%20/g, '+');

/** A timestamped piece of output; `sequence` keeps a session's lines in order when times tie. */
interface Timed<T> {
  t: number;
  sequence: number;
  value: T;
}

/** One day of the web shop. Sessions depend only on the seed and the day. */
export function simulateOnlineDay(world: World, options: StreamOptions, dayIndex: number): OnlineDay {
  const epochDay = toEpochDay(options.start) + dayIndex;
  const dt = isoDate(epochDay);
  const rng = new Rng(mixSeed(options.seed, 20, epochDay));
  const sessionCount = Math.max(1, Math.round(options.sessionsPerDay * (SESSION_WEEKDAY[weekday(epochDay)] as number)));
  const starts = Array.from({ length: sessionCount }, () => epochDay * 86_400 + SESSION_HOURS.sample(rng) * 3600 + rng.int(3600)).sort((a, b) => a - b);
  const log: Timed<string>[] = [];
  const orders: Timed<OnlineOrder>[] = [];
  const behaviour: Timed<BehaviourEvent>[] = [];
  let sequence = 0;
  const compactDate = dt.replace(/-/g, '');
  let orderSeq = 0;

  const request = (t: number, ip: string, user: string, method: string, path: string, status: number, bytes: number, referer: string, ua: string) => {
    log.push({ t, sequence: sequence++, value: `${ip} - ${user} [${apacheTime(t)}] "${method} ${path} HTTP/1.1" ${status} ${bytes === 0 ? '-' : bytes} "${referer}" "${ua}"` });
  };

  for (const start of starts) {
    if (rng.chance(0.06)) {
      crawl(world, rng, start, request);
      continue;
    }
    const loggedIn = rng.chance(0.55);
    const customer = loggedIn ? (world.customers[world.onlineCustomers[world.onlineCustomerSampler.sample(rng)] as number] as Customer) : null;
    const channel: 'web' | 'app' = rng.chance(loggedIn ? 0.35 : 0.1) ? 'app' : 'web';
    const ua = channel === 'app' ? rng.pick(APPS) : (BROWSERS[browserTable.sample(rng)] as string);
    const ip = customer ? customerIp(customer.customerId) : `${rng.between(24, 223)}.${rng.int(256)}.${rng.int(256)}.${rng.between(1, 254)}`;
    const user = customer ? String(customer.customerId) : '-';
    const focus = customer && rng.chance(0.8) ? rng.pick(customer.interests) : world.lineSampler.sample(rng);
    const focusLine = PRODUCT_LINES[focus] as (typeof PRODUCT_LINES)[number];
    let t = start;
    let referer = LANDING_REFERERS[landingTable.sample(rng)] as string;
    const step = () => {
      t += rng.between(8, 120);
    };
    const emit = (method: string, path: string, status: number, bytes: number) => {
      request(t, ip, user, method, path, status, bytes, referer, ua);
      referer = `${DOMAIN}${path.split('?')[0]}`;
      step();
    };
    if (rng.chance(0.5)) emit('GET', '/', 200, rng.between(45_000, 61_000));
    if (rng.chance(0.35)) emit('GET', `/search?q=${searchQuery(focusLine.theme, focusLine.brand)}`, 200, rng.between(30_000, 90_000));
    else if (rng.chance(0.3)) emit('GET', `/c/${categorySlug(focusLine.category)}`, 200, rng.between(35_000, 80_000));
    const cart: { product: Product; quantity: number }[] = [];
    const views = 1 + rng.poisson(2.5);
    for (let v = 0; v < views; v++) {
      if (rng.chance(0.015)) {
        // A link to a retired product.
        emit('GET', `/product/SKU0${rng.between(10_000, 99_999)}`, 404, rng.between(1_150, 1_400));
        continue;
      }
      const roll = rng.next();
      const line = roll < 0.75 ? focus : roll < 0.85 && customer ? rng.pick(customer.interests) : world.lineSampler.sample(rng);
      // Logged-in shoppers come back to their wish list; the others browse by popularity.
      const fromWishList = customer !== null && rng.chance(0.35);
      const productIndex = fromWishList ? rng.pick(customer.wishList) : pickFromLine(world, line, rng);
      const product = world.products[productIndex] as Product;
      const status = rng.chance(0.002) ? 503 : 200;
      if (customer && status === 200) behaviour.push({ t, sequence, value: { customer_id: customer.customerId, sku: product.sku, action: 'view', at: isoInstant(t) } });
      emit('GET', `/product/${product.sku}`, status, status === 200 ? rng.between(18_000, 64_000) : rng.between(300, 400));
      if (status === 200 && !cart.some((item) => item.product === product) && rng.chance(fromWishList ? 0.3 : 0.2)) {
        const quantity = product.listPriceCents < 1000 && rng.chance(0.2) ? 2 : 1;
        if (customer) behaviour.push({ t, sequence, value: { customer_id: customer.customerId, sku: product.sku, action: 'cart', at: isoInstant(t) } });
        emit('POST', `/cart?sku=${product.sku}&qty=${quantity}`, 200, rng.between(520, 700));
        cart.push({ product, quantity });
      }
    }
    if (cart.length > 0 && rng.chance(0.5)) {
      emit('GET', '/cart', 200, rng.between(22_000, 30_000));
      const orderId = `O${compactDate}${String(++orderSeq).padStart(6, '0')}`;
      const lines: OrderLine[] = cart.map(({ product, quantity }) => ({ sku: product.sku, quantity, unit_price: product.listPriceCents / 100 }));
      const totalCents = cart.reduce((sum, { product, quantity }) => sum + product.listPriceCents * quantity, 0);
      orders.push({ t, sequence, value: { order_id: orderId, ordered_at: isoInstant(t), customer_id: customer ? customer.customerId : null, channel, lines, total: Number(formatCents(totalCents)) } });
      if (customer) for (const l of lines) behaviour.push({ t, sequence, value: { customer_id: customer.customerId, sku: l.sku, action: 'purchase', at: isoInstant(t) } });
      emit('POST', '/checkout', 303, 0);
      emit('GET', `/order/${orderId}`, 200, rng.between(15_000, 19_000));
    }
  }

  // Sessions still going at midnight stop there: each day's files hold that day's events only,
  // as a stream partitioned by event time would.
  const dayEnd = (epochDay + 1) * 86_400;
  const sameDay = <T>(entry: Timed<T>) => entry.t < dayEnd;
  const malformed = injectMalformed(rng, epochDay, log, () => sequence++);
  const byTime = <T>(a: Timed<T>, b: Timed<T>) => a.t - b.t || a.sequence - b.sequence;
  log.sort(byTime);
  const firstAfterMidnight = log.findIndex((entry) => !sameDay(entry));
  if (firstAfterMidnight >= 0) log.length = firstAfterMidnight;
  const malformedIndices: Record<MalformedKind, number[]> = { tls_probe: [], truncated: [], unescaped_quote: [] };
  log.forEach((entry, index) => {
    const kind = malformed.get(entry.sequence);
    if (kind) malformedIndices[kind].push(index);
  });
  return {
    dt,
    logLines: log.map((entry) => entry.value),
    orders: orders.filter(sameDay).sort(byTime).map((entry) => entry.value),
    behaviour: behaviour.filter(sameDay).sort(byTime).map((entry) => entry.value),
    malformed: malformedIndices,
  };
}

/** A logged-in shopper keeps one address (a home connection). */
function customerIp(customerId: number): string {
  const h = mixSeed(customerId, 21);
  return `${24 + (h % 200)}.${(h >>> 8) & 255}.${(h >>> 16) & 255}.${1 + ((h >>> 24) % 254)}`;
}

/** A crawler session: robots.txt, then product pages in catalogue order (not by popularity), some retired. */
function crawl(world: World, rng: Rng, start: number, request: (t: number, ip: string, user: string, method: string, path: string, status: number, bytes: number, referer: string, ua: string) => void): void {
  const bot = rng.pick(BOTS);
  const ip = `${bot.net}.${rng.between(1, 254)}`;
  let t = start;
  if (rng.chance(0.5)) request(t, ip, '-', 'GET', '/robots.txt', 200, 312, '-', bot.ua);
  const pages = rng.between(10, 40);
  let productIndex = rng.int(world.products.length);
  for (let p = 0; p < pages; p++) {
    t += rng.between(1, 4);
    if (rng.chance(0.03)) request(t, ip, '-', 'GET', `/product/SKU0${rng.between(10_000, 99_999)}`, 404, rng.between(1_150, 1_400), '-', bot.ua);
    else {
      productIndex = (productIndex + 1 + rng.int(5)) % world.products.length;
      request(t, ip, '-', 'GET', `/product/${(world.products[productIndex] as Product).sku}`, 200, rng.between(18_000, 64_000), '-', bot.ua);
    }
  }
}

/**
 * Adds malformed lines (about 0.3 % of the day's lines): TLS handshakes sent to the plain-HTTP
 * port, a line cut short by a log shipper's restart, and a scanner whose user agent carries
 * unescaped quotes. None is a shopper's request. The day starts with one of each kind within
 * its first hour (a scanner's sweep and the shipper's restart after the midnight rotation), so
 * even a log cut to its first few hundred lines has all three.
 */
function injectMalformed(rng: Rng, epochDay: number, log: Timed<string>[], nextSequence: () => number): Map<number, MalformedKind> {
  const kinds: MalformedKind[] = ['tls_probe', 'truncated', 'unescaped_quote'];
  const count = Math.max(kinds.length, Math.round(log.length * 0.003));
  const injected = new Map<number, MalformedKind>();
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length] as MalformedKind;
    const t = epochDay * 86_400 + (i < kinds.length ? 300 + i * 600 + rng.int(600) : rng.int(86_400));
    const ip = `${rng.between(45, 200)}.${rng.int(256)}.${rng.int(256)}.${rng.between(1, 254)}`;
    let text: string;
    if (kind === 'tls_probe') text = `${ip} - - [${apacheTime(t)}] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03" 400 226 "-" "-"`;
    else if (kind === 'unescaped_quote') text = `${ip} - - [${apacheTime(t)}] "GET /wp-login.php HTTP/1.1" 404 1187 "-" "Mozilla/5.0 (compatible; "Nimbostratus-Bot" v1.3.2)"`;
    else {
      const full = `${ip} - - [${apacheTime(t)}] "GET /c/${categorySlug(rng.pick(PRODUCT_LINES).category)} HTTP/1.1" 200 ${rng.between(35_000, 80_000)} "-" "${rng.pick(BROWSERS)}"`;
      text = full.slice(0, rng.between(40, full.length - 20));
    }
    const sequence = nextSequence();
    log.push({ t, sequence, value: text });
    injected.set(sequence, kind);
  }
  return injected;
}

/** The first `count` access-log lines from the start of the period, in time order. */
export function accessLogLines(world: World, options: StreamOptions, count: number): string[] {
  return firstItems(world, options, count, (day) => day.logLines);
}

/** The first `count` online orders from the start of the period, one JSON object per string. */
export function onlineOrderLines(world: World, options: StreamOptions, count: number): string[] {
  return firstItems(world, options, count, (day) => day.orders).map((order) => JSON.stringify(order));
}

/** The first `count` behaviour events from the start of the period, one JSON object per string. */
export function behaviourLines(world: World, options: StreamOptions, count: number): string[] {
  return firstItems(world, options, count, (day) => day.behaviour).map((event) => JSON.stringify(event));
}

function firstItems<T>(world: World, options: StreamOptions, count: number, pick: (day: OnlineDay) => T[]): T[] {
  const items: T[] = [];
  for (let day = 0; day < options.days && items.length < count; day++) items.push(...pick(simulateOnlineDay(world, options, day)).slice(0, count - items.length));
  return items;
}

export interface StreamLimits {
  /** Keep only the first N lines of the access log / orders / behaviour events (all if absent). */
  logLines?: number;
  orders?: number;
  behaviourEvents?: number;
}

export interface StreamsResult {
  files: string[];
  bytes: number;
  logLines: number;
  botLines: number;
  malformedLines: Record<MalformedKind, number>;
  orders: number;
  orderLines: number;
  behaviourEvents: Record<BehaviourAction, number>;
}

/**
 * Writes `streams/access_log/dt=…/access_log`, `streams/online_orders/dt=…/orders.ndjson` and
 * `streams/behaviour/dt=…/behaviour.ndjson` (one folder per day that has any), each cut to its
 * limit: a limited log is the first N lines, as a consumer that started with the stream would see.
 * The log file is named as Apache names it on Red Hat systems (`access_log`, no extension), which
 * also keeps it clear of the repository's `*.log` ignore rule.
 */
export function writeStreams(world: World, options: StreamOptions, out: string, limits: StreamLimits = {}): StreamsResult {
  const result: StreamsResult = {
    files: [],
    bytes: 0,
    logLines: 0,
    botLines: 0,
    malformedLines: { tls_probe: 0, truncated: 0, unescaped_quote: 0 },
    orders: 0,
    orderLines: 0,
    behaviourEvents: { view: 0, cart: 0, purchase: 0 },
  };
  const left = { log: limits.logLines ?? Infinity, orders: limits.orders ?? Infinity, behaviour: limits.behaviourEvents ?? Infinity };
  const write = (folder: string, dt: string, name: string, lines: string[]) => {
    if (lines.length === 0) return;
    const dir = join(out, 'streams', folder, `dt=${dt}`);
    mkdirSync(dir, { recursive: true });
    const text = lines.join('\n') + '\n';
    writeFileSync(join(dir, name), text);
    result.files.push(`streams/${folder}/dt=${dt}/${name}`);
    result.bytes += Buffer.byteLength(text);
  };
  for (let dayIndex = 0; dayIndex < options.days; dayIndex++) {
    if (left.log <= 0 && left.orders <= 0 && left.behaviour <= 0) break;
    const day = simulateOnlineDay(world, options, dayIndex);
    const logLines = day.logLines.slice(0, Math.max(0, left.log));
    const orders = day.orders.slice(0, Math.max(0, left.orders));
    const behaviour = day.behaviour.slice(0, Math.max(0, left.behaviour));
    left.log -= logLines.length;
    left.orders -= orders.length;
    left.behaviour -= behaviour.length;
    write('access_log', day.dt, 'access_log', logLines);
    write('online_orders', day.dt, 'orders.ndjson', orders.map((o) => JSON.stringify(o)));
    write('behaviour', day.dt, 'behaviour.ndjson', behaviour.map((e) => JSON.stringify(e)));
    result.logLines += logLines.length;
    for (const kind of Object.keys(day.malformed) as MalformedKind[]) result.malformedLines[kind] += day.malformed[kind].filter((i) => i < logLines.length).length;
    result.botLines += countBotLines(logLines);
    result.orders += orders.length;
    result.orderLines += orders.reduce((sum, o) => sum + o.lines.length, 0);
    for (const event of behaviour) result.behaviourEvents[event.action]++;
  }
  return result;
}

function countBotLines(lines: string[]): number {
  return lines.filter((line) => BOTS.some((bot) => line.endsWith(`"${bot.ua}"`))).length;
}
