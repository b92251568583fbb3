/**
 * An independent reference for the customer-loyalty models, in plain TypeScript (no DuckDB, no
 * SQL): tests compare every model's output with what these functions compute from the same raw
 * input. The rules are written out again here on purpose, from the README, not read from the
 * models, so a mistake in a model cannot hide in both.
 *
 * Value conventions, matching what DuckDB returns once converted: ids are `bigint` (the source
 * declares BIGINT); prices, points, spend and counts are numbers (BIGINT in SQL, far below 2^53);
 * DATEs are 'YYYY-MM-DD' strings, TIMESTAMPs 'YYYY-MM-DD HH:MM:SS' strings (UTC); SQL NULL is `null`.
 */
import { readFileSync } from 'node:fs';

// ---------------------------------------------------------------------------------------------
// The programme's rules (README: "Points, tiers and offers").

export const MENU_PRICES: ReadonlyMap<string, number> = new Map([
  ['espresso', 65],
  ['cappucino', 90],
  ['mocha', 80],
  ['latte', 70],
  ['chocolate', 60],
  ['greentea', 60],
]);

export const LOYALTY_RULES = {
  spendPerPoint: 10,
  silverMinPoints: 100,
  goldMinPoints: 300,
  platinumMinPoints: 750,
  activeMaxDays: 14,
  lapsingMaxDays: 30,
} as const;

export type Tier = 'Bronze' | 'Silver' | 'Gold' | 'Platinum';
export type Segment = 'new' | 'active' | 'lapsing' | 'lapsed';

/** Offer code and text by `${tier}/${segment}`. */
export const OFFERS: ReadonlyMap<string, { code: string; offer: string }> = new Map([
  ['Bronze/new', { code: 'WELCOME', offer: 'Free size upgrade on your first drink' }],
  ['Bronze/active', { code: 'BRONZE_BOOST', offer: 'Double points on your next three drinks' }],
  ['Bronze/lapsing', { code: 'BRONZE_NUDGE', offer: '10% off your next drink this week' }],
  ['Bronze/lapsed', { code: 'BRONZE_WINBACK', offer: 'Free chocolate or greentea on your next visit' }],
  ['Silver/active', { code: 'SILVER_BOOST', offer: 'Double points on mochas this week' }],
  ['Silver/lapsing', { code: 'SILVER_NUDGE', offer: '15% off your next drink this week' }],
  ['Silver/lapsed', { code: 'SILVER_WINBACK', offer: 'Free latte on your next visit' }],
  ['Gold/active', { code: 'GOLD_THANKS', offer: 'Free pastry with every cappucino this week' }],
  ['Gold/lapsing', { code: 'GOLD_NUDGE', offer: '20% off your next two drinks' }],
  ['Gold/lapsed', { code: 'GOLD_WINBACK', offer: 'Free drink of your choice: we miss you' }],
  ['Platinum/active', { code: 'PLATINUM_THANKS', offer: 'Every tenth drink free, priority pickup' }],
  ['Platinum/lapsing', { code: 'PLATINUM_NUDGE', offer: 'Free drink of your choice this week' }],
  ['Platinum/lapsed', { code: 'PLATINUM_WINBACK', offer: 'Two free drinks and a call from the store manager' }],
]);

// ---------------------------------------------------------------------------------------------
// Row types, keyed like the SQL columns.

/** A customer CSV row cast to the source's declared types. */
export interface SourceCustomer {
  customer_id: bigint;
  home_store: number | null;
  customer_name: string | null;
  email: string | null;
  customer_since: string | null;
  loyalty_card_number: string | null;
  birthdate: string | null;
  gender: string | null;
  birth_year: number | null;
}

export type Gender = 'MALE' | 'FEMALE' | 'NA';

export interface CustomerRow {
  cust_id: bigint;
  cust_nm: string | null;
  cust_email: string | null;
  cust_strt_dt: string | null;
  cust_member_card_no: string | null;
  cust_birth_dt: string | null;
  cust_birth_yr: number | null;
  cust_gender: Gender;
  home_store: number | null;
}

/** One parsed order line: the columns of `source('orders')`. */
export interface SourceOrder {
  customer_id: bigint;
  menu: string;
  ordered_at: string;
}

/** A line the parser refused, with where it was and why. */
export interface RejectedLine {
  lineNumber: number;
  line: string;
  reason: string;
}

export interface TransactionRow {
  cust_id: bigint;
  odr_menu: string;
  odr_prc: number | null;
  odr_pts: number | null;
  odr_tms: string;
  cust_name: string | null;
}

export interface LoyaltyRow {
  cust_id: bigint;
  cust_name: string | null;
  cust_member_card_no: string | null;
  spnd_amt: number;
  points: number;
  data_dt: string;
}

export interface CustomerPointsRow {
  cust_id: bigint;
  points: number;
  spend: number;
  orders: number;
  last_order_at: string;
}

export interface CustomerTierRow {
  cust_id: bigint;
  cust_name: string | null;
  cust_member_card_no: string | null;
  total_points: number;
  total_spend: number;
  last_order_dt: string | null;
  days_since_last_order: number | null;
  tier: Tier;
  segment: Segment;
  offer_code: string;
  offer: string;
  as_of_dt: string;
}

/** A batch run's data interval: `ds` and the half-open [start, end) of order times it covers. */
export interface DataInterval {
  ds: string;
  start: string;
  end: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing.

/**
 * RFC 4180 CSV: fields split on commas outside quotes; a quoted field may hold commas, line breaks
 * and doubled quotes (""), which stand for one quote. As DuckDB reads it, an empty unquoted field is
 * NULL and a quoted empty field is ''. Line endings are \n or \r\n; a final line break ends the file.
 */
export function parseCsv(text: string): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  let row: Array<string | null> = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  const endField = (): void => {
    row.push(field === '' && !quoted ? null : field);
    field = '';
    quoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        inQuotes = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      inQuotes = true;
      quoted = true;
    } else if (ch === ',') {
      endField();
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endField();
      rows.push(row);
      row = [];
    } else {
      field += ch;
    }
  }
  if (inQuotes) throw new Error('csv: a quoted field is not closed at the end of the file');
  if (field !== '' || quoted || row.length > 0) {
    endField();
    rows.push(row);
  }
  return rows;
}

const INTEGER_TEXT = /^[+-]?\d+$/;
const BIGINT_MIN = -(2n ** 63n);
const BIGINT_MAX = 2n ** 63n - 1n;
/** The unix seconds a JavaScript Date can hold (±100,000,000 days). */
const MAX_UNIX_SECONDS = 8_640_000_000_000n;

/** The text as a BIGINT, or null when it is not an integer in BIGINT's range. */
function bigintOrNull(text: string): bigint | null {
  const trimmed = text.trim();
  if (!INTEGER_TEXT.test(trimmed)) return null;
  const value = BigInt(trimmed);
  return value < BIGINT_MIN || value > BIGINT_MAX ? null : value;
}
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

function castBigint(value: string | null, what: string): bigint | null {
  if (value === null) return null;
  const parsed = bigintOrNull(value);
  if (parsed === null) throw new Error(`${what}: not a BIGINT: ${JSON.stringify(value)}`);
  return parsed;
}

function castInteger(value: string | null, what: string): number | null {
  const big = castBigint(value, what);
  if (big === null) return null;
  if (big > 2147483647n || big < -2147483648n) throw new Error(`${what}: out of INTEGER range: ${value}`);
  return Number(big);
}

/** A DATE as 'YYYY-MM-DD', checked to be a real calendar day. */
function castDate(value: string | null, what: string): string | null {
  if (value === null) return null;
  const text = value.trim();
  const match = DATE_TEXT.exec(text);
  const day = match ? new Date(`${text}T00:00:00Z`) : null;
  if (!match || !day || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text) {
    throw new Error(`${what}: not a date: ${JSON.stringify(value)}`);
  }
  return text;
}

const CUSTOMER_COLUMNS = 9;

/** The customer CSV (no header) cast to the source's declared columns; throws on a row that does not cast. */
export function parseCustomers(text: string): SourceCustomer[] {
  return parseCsv(text).map((fields, index) => {
    const where = `customer.csv line ${index + 1}`;
    if (fields.length !== CUSTOMER_COLUMNS) throw new Error(`${where}: ${fields.length} fields, expected ${CUSTOMER_COLUMNS}`);
    const [id, store, name, email, since, card, birthdate, gender, birthYear] = fields as [
      string | null, string | null, string | null, string | null, string | null,
      string | null, string | null, string | null, string | null,
    ];
    const customerId = castBigint(id, `${where} customer_id`);
    if (customerId === null) throw new Error(`${where}: customer_id is empty`);
    return {
      customer_id: customerId,
      home_store: castInteger(store, `${where} home_store`),
      customer_name: name,
      email,
      customer_since: castDate(since, `${where} customer_since`),
      loyalty_card_number: card,
      birthdate: castDate(birthdate, `${where} birthdate`),
      gender,
      birth_year: castInteger(birthYear, `${where} birth_year`),
    };
  });
}

export function readCustomers(csvPath: string): SourceCustomer[] {
  return parseCustomers(readFileSync(csvPath, 'utf8'));
}

/** Seconds since 1970 (UTC) as a TIMESTAMP text 'YYYY-MM-DD HH:MM:SS'. */
export function unixSecondsToTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Order lines `customer_id|menu|unix_seconds` into `source('orders')` rows. Blank lines are
 * skipped; a trailing \r is ignored; a line without exactly three fields, or whose id or time is
 * not an integer (in BIGINT's range; the time also in a Date's), is rejected with its 1-based line number and a reason. The menu is kept as
 * written (transactions_cln normalises it).
 */
export function parseOrderLines(text: string): { orders: SourceOrder[]; rejected: RejectedLine[] } {
  const orders: SourceOrder[] = [];
  const rejected: RejectedLine[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    const lineNumber = index + 1;
    const fields = line.split('|');
    if (fields.length !== 3) {
      rejected.push({ lineNumber, line, reason: `expected 3 fields, found ${fields.length}` });
      return;
    }
    const [idText, menu, secondsText] = fields as [string, string, string];
    const customerId = bigintOrNull(idText);
    if (customerId === null) {
      rejected.push({ lineNumber, line, reason: 'customer_id is not a BIGINT' });
      return;
    }
    const seconds = bigintOrNull(secondsText);
    if (seconds === null || seconds > MAX_UNIX_SECONDS || seconds < -MAX_UNIX_SECONDS) {
      rejected.push({ lineNumber, line, reason: 'unix_seconds is not an integer number of seconds in range' });
      return;
    }
    orders.push({ customer_id: customerId, menu, ordered_at: unixSecondsToTimestamp(Number(seconds)) });
  });
  return { orders, rejected };
}

// ---------------------------------------------------------------------------------------------
// The models.

/** Whitespace the SQL collapses: RE2's [\t\n\v\f\r ], not JavaScript's wider \s. */
const SQL_WHITESPACE_RUN = /[\t\n\v\f\r ]+/g;

/** Trims spaces only, as DuckDB's trim() does. */
function trimSpaces(text: string): string {
  return text.replace(/^ +| +$/g, '');
}

function emptyToNull(text: string): string | null {
  return text === '' ? null : text;
}

function genderOf(code: string | null): Gender {
  const normalised = trimSpaces(code ?? '').toUpperCase();
  if (normalised === 'M') return 'MALE';
  if (normalised === 'F') return 'FEMALE';
  return 'NA';
}

/** The name rule: runs of whitespace become one space, the ends are trimmed, empty becomes NULL. */
function cleanName(name: string | null): string | null {
  return name === null ? null : emptyToNull(trimSpaces(name.replace(SQL_WHITESPACE_RUN, ' ')));
}

/** customers_cln: every source row, cleaned. */
export function customersCln(customers: readonly SourceCustomer[]): CustomerRow[] {
  return customers.map((c) => ({
    cust_id: c.customer_id,
    cust_nm: cleanName(c.customer_name),
    cust_email: c.email,
    cust_strt_dt: c.customer_since,
    cust_member_card_no: c.loyalty_card_number === null ? null : emptyToNull(trimSpaces(c.loyalty_card_number.replaceAll('"', ''))),
    cust_birth_dt: c.birthdate,
    cust_birth_yr: c.birth_year,
    cust_gender: genderOf(c.gender),
    home_store: c.home_store,
  }));
}

export function countByGender(customers: readonly CustomerRow[]): Record<Gender, number> {
  const counts: Record<Gender, number> = { MALE: 0, FEMALE: 0, NA: 0 };
  for (const c of customers) counts[c.cust_gender]++;
  return counts;
}

/** How many raw names the cleaning changed (surrounding or repeated whitespace). */
export function countNamesNeedingTrim(customers: readonly SourceCustomer[]): number {
  return customers.filter((c) => c.customer_name !== null && cleanName(c.customer_name) !== c.customer_name).length;
}

function byId<T extends { cust_id: bigint }>(rows: readonly T[]): Map<bigint, T> {
  const map = new Map<bigint, T>();
  for (const row of rows) {
    if (map.has(row.cust_id)) throw new Error(`reference: customer id ${row.cust_id} is not unique`);
    map.set(row.cust_id, row);
  }
  return map;
}

/** transactions_cln: every order, priced and named; unknown drinks price NULL, unknown ids name NULL. */
export function transactionsCln(orders: readonly SourceOrder[], customers: readonly CustomerRow[]): TransactionRow[] {
  const customerById = byId(customers);
  return orders.map((o) => {
    const odrMenu = trimSpaces(o.menu).toLowerCase();
    const price = MENU_PRICES.get(odrMenu) ?? null;
    return {
      cust_id: o.customer_id,
      odr_menu: odrMenu,
      odr_prc: price,
      odr_pts: price === null ? null : Math.floor(price / LOYALTY_RULES.spendPerPoint),
      odr_tms: o.ordered_at,
      cust_name: customerById.get(o.customer_id)?.cust_nm ?? null,
    };
  });
}

/** The UTC day `ds` as a data interval [ds 00:00:00, next day 00:00:00). */
export function utcDay(ds: string): DataInterval {
  const next = new Date(`${ds}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return { ds, start: `${ds} 00:00:00`, end: `${next.toISOString().slice(0, 10)} 00:00:00` };
}

interface Totals {
  points: number;
  spend: number;
  orders: number;
  lastOrderAt: string;
}

/** Sums per customer id; NULL prices and points add nothing, as SQL's sum skips NULL. */
function totalsById(transactions: readonly TransactionRow[]): Map<bigint, Totals> {
  const totals = new Map<bigint, Totals>();
  for (const t of transactions) {
    const current = totals.get(t.cust_id) ?? { points: 0, spend: 0, orders: 0, lastOrderAt: t.odr_tms };
    current.points += t.odr_pts ?? 0;
    current.spend += t.odr_prc ?? 0;
    current.orders += 1;
    if (t.odr_tms > current.lastOrderAt) current.lastOrderAt = t.odr_tms;
    totals.set(t.cust_id, current);
  }
  return totals;
}

/** loyalty for one data interval: one row per customer id with orders in [start, end). */
export function loyaltyForInterval(transactions: readonly TransactionRow[], customers: readonly CustomerRow[], interval: DataInterval): LoyaltyRow[] {
  const customerById = byId(customers);
  const inInterval = transactions.filter((t) => t.odr_tms >= interval.start && t.odr_tms < interval.end);
  return [...totalsById(inInterval)].map(([custId, totals]) => {
    const customer = customerById.get(custId);
    return {
      cust_id: custId,
      cust_name: customer?.cust_nm ?? null,
      cust_member_card_no: customer?.cust_member_card_no ?? null,
      spnd_amt: totals.spend,
      points: totals.points,
      data_dt: interval.ds,
    };
  });
}

/** customer_points: the live table's content after every order so far has been merged in. */
export function customerPoints(transactions: readonly TransactionRow[]): CustomerPointsRow[] {
  return [...totalsById(transactions)].map(([custId, totals]) => ({
    cust_id: custId,
    points: totals.points,
    spend: totals.spend,
    orders: totals.orders,
    last_order_at: totals.lastOrderAt,
  }));
}

function daysBetween(fromDate: string, toDate: string): number {
  return Math.round((Date.parse(`${toDate}T00:00:00Z`) - Date.parse(`${fromDate}T00:00:00Z`)) / 86_400_000);
}

export function tierOf(points: number): Tier {
  if (points >= LOYALTY_RULES.platinumMinPoints) return 'Platinum';
  if (points >= LOYALTY_RULES.goldMinPoints) return 'Gold';
  if (points >= LOYALTY_RULES.silverMinPoints) return 'Silver';
  return 'Bronze';
}

export function segmentOf(daysSinceLastOrder: number | null): Segment {
  if (daysSinceLastOrder === null) return 'new';
  if (daysSinceLastOrder <= LOYALTY_RULES.activeMaxDays) return 'active';
  if (daysSinceLastOrder <= LOYALTY_RULES.lapsingMaxDays) return 'lapsing';
  return 'lapsed';
}

/** customer_tiers as of `ds`: every known customer, from the loyalty rows of all days up to `ds`. */
export function customerTiers(customers: readonly CustomerRow[], loyaltyRows: readonly LoyaltyRow[], ds: string): CustomerTierRow[] {
  const history = new Map<bigint, { points: number; spend: number; lastDay: string }>();
  for (const row of loyaltyRows) {
    if (row.data_dt > ds) continue;
    const current = history.get(row.cust_id) ?? { points: 0, spend: 0, lastDay: row.data_dt };
    current.points += row.points;
    current.spend += row.spnd_amt;
    if (row.data_dt > current.lastDay) current.lastDay = row.data_dt;
    history.set(row.cust_id, current);
  }
  return customers.map((c) => {
    const h = history.get(c.cust_id);
    const daysSince = h ? daysBetween(h.lastDay, ds) : null;
    const tier = tierOf(h?.points ?? 0);
    const segment = segmentOf(daysSince);
    const offer = OFFERS.get(`${tier}/${segment}`);
    if (!offer) throw new Error(`reference: no offer for ${tier}/${segment}`);
    return {
      cust_id: c.cust_id,
      cust_name: c.cust_nm,
      cust_member_card_no: c.cust_member_card_no,
      total_points: h?.points ?? 0,
      total_spend: h?.spend ?? 0,
      last_order_dt: h?.lastDay ?? null,
      days_since_last_order: daysSince,
      tier,
      segment,
      offer_code: offer.code,
      offer: offer.offer,
      as_of_dt: ds,
    };
  });
}
