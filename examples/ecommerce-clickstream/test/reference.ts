/**
 * An independent reference for the clickstream example: it reads the real sample with its own
 * RFC 4180 parser (no DuckDB, no SQL) and applies System A's processing rules as the product brief
 * states them, written a second time, so the tests can compare every table the pipeline builds.
 *
 * - `department` is the first segment of `category_code`, `product` the last; `revenue` is `price`
 *   for a purchase and 0 otherwise; a missing brand, department or product is `'other'`.
 * - Missing is NULL, empty, blank or the text NaN in any case (what the original's JSON round trip
 *   wrote); only a whole value counts, so the brand `tognana` stays `tognana`.
 *
 * Money is kept in integer cents, so sums are exact; times are the file's UTC text.
 */
import { readFileSync } from 'node:fs';

export interface SampleRow {
  /** The file's line number (the header is line 1). */
  line: number;
  event_time: string;
  event_type: string;
  product_id: string;
  category_id: string;
  category_code: string | null;
  brand: string | null;
  price_cents: number;
  user_id: string;
  user_session: string | null;
}

export interface Operation {
  event_time: string;
  event_type: string;
  brand: string;
  department: string;
  product: string;
  price_cents: number;
  revenue_cents: number;
}

export interface Totals {
  operations: number;
  revenue_cents: number;
  purchases: number;
  views: number;
  carts: number;
}

export interface ClickstreamReference {
  rows: SampleRow[];
  operations: Operation[];
  kpis: Totals;
  /** Keyed `day|department|brand` (day: 'YYYY-MM-DD'). */
  byDepartmentBrand: Map<string, Omit<Totals, 'operations'>>;
  /** Keyed by product. */
  byProduct: Map<string, Omit<Totals, 'operations'>>;
  /** Keyed `YYYY-MM-DD HH:MM|event_type`. */
  perMinute: Map<string, number>;
  facts: {
    days: string[];
    missingCategory: number;
    missingBrand: number;
    nanBrand: number;
    tognana: number;
    zeroPrice: number;
  };
}

/** RFC 4180 fields of one line (the sample has no line breaks inside quotes). */
export function parseCsvLine(line: string): { value: string; quoted: boolean }[] {
  const fields: { value: string; quoted: boolean }[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = line.indexOf('"', i);
        if (quote < 0) throw new Error(`unterminated quote in: ${line}`);
        value += line.slice(i, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      fields.push({ value, quoted: true });
      i++; // the comma (or the end)
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      fields.push({ value: line.slice(i, end), quoted: false });
      i = end + 1;
    }
  }
  return fields;
}

/** Missing text, however the source spelled it. */
export function isMissing(value: string | null): boolean {
  return value === null || value.trim() === '' || value.trim().toLowerCase() === 'nan';
}

const orOther = (value: string | null): string => (isMissing(value) ? 'other' : value!);

function cents(price: string): number {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(price);
  if (!match) throw new Error(`price '${price}' is not a decimal with at most two places`);
  const value = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  return match[1] ? -value : value;
}

export function readSample(file: string): SampleRow[] {
  const [header, ...lines] = readFileSync(file, 'utf8').replace(/\r?\n$/, '').split(/\r?\n/);
  const names = parseCsvLine(header!).map((f) => f.value);
  return lines.map((text, i) => {
    const fields = parseCsvLine(text);
    if (fields.length !== names.length) throw new Error(`line ${i + 2}: ${fields.length} fields, expected ${names.length}`);
    const field = (name: string) => fields[names.indexOf(name)]!.value;
    // The file writes a missing value as "" (quoted empty): NULL, as the CSV reader reads it.
    const orNull = (name: string) => (field(name) === '' ? null : field(name));
    return {
      line: i + 2,
      event_time: field('event_time').replace(/ UTC$/, ''),
      event_type: field('event_type'),
      product_id: field('product_id'),
      category_id: field('category_id'),
      category_code: orNull('category_code'),
      brand: orNull('brand'),
      price_cents: cents(field('price')),
      user_id: field('user_id'),
      user_session: orNull('user_session'),
    };
  });
}

/** System A's processed row. */
export function operationOf(row: Pick<SampleRow, 'event_time' | 'event_type' | 'category_code' | 'brand' | 'price_cents'>): Operation {
  const segments = row.category_code?.split('.') ?? [];
  return {
    event_time: row.event_time,
    event_type: row.event_type,
    brand: orOther(row.brand),
    department: orOther(segments[0] ?? null),
    product: orOther(segments.at(-1) ?? null),
    price_cents: row.price_cents,
    revenue_cents: row.event_type === 'purchase' ? row.price_cents : 0,
  };
}

function add(totals: Omit<Totals, 'operations'>, op: Operation): void {
  totals.revenue_cents += op.revenue_cents;
  if (op.event_type === 'purchase') totals.purchases++;
  if (op.event_type === 'view') totals.views++;
  if (op.event_type === 'cart') totals.carts++;
}

const empty = () => ({ revenue_cents: 0, purchases: 0, views: 0, carts: 0 });

/** Every table of the example, from operations (the sample's, or live events made from it). */
export function aggregate(operations: readonly Operation[]): Pick<ClickstreamReference, 'kpis' | 'byDepartmentBrand' | 'byProduct' | 'perMinute'> {
  const kpis = { operations: 0, ...empty() };
  const byDepartmentBrand = new Map<string, Omit<Totals, 'operations'>>();
  const byProduct = new Map<string, Omit<Totals, 'operations'>>();
  const perMinute = new Map<string, number>();
  for (const op of operations) {
    kpis.operations++;
    add(kpis, op);
    const key = `${op.event_time.slice(0, 10)}|${op.department}|${op.brand}`;
    if (!byDepartmentBrand.has(key)) byDepartmentBrand.set(key, empty());
    add(byDepartmentBrand.get(key)!, op);
    if (!byProduct.has(op.product)) byProduct.set(op.product, empty());
    add(byProduct.get(op.product)!, op);
    const minute = `${op.event_time.slice(0, 16)}|${op.event_type}`;
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
  }
  return { kpis, byDepartmentBrand, byProduct, perMinute };
}

export function clickstreamReference(file: string): ClickstreamReference {
  const rows = readSample(file);
  const operations = rows.map(operationOf);
  return {
    rows,
    operations,
    ...aggregate(operations),
    facts: {
      days: [...new Set(rows.map((r) => r.event_time.slice(0, 10)))].sort(),
      missingCategory: rows.filter((r) => isMissing(r.category_code)).length,
      missingBrand: rows.filter((r) => isMissing(r.brand)).length,
      nanBrand: rows.filter((r) => r.brand !== null && r.brand.trim().toLowerCase() === 'nan').length,
      tognana: rows.filter((r) => r.brand === 'tognana').length,
      zeroPrice: rows.filter((r) => r.price_cents === 0).length,
    },
  };
}
