import { TributaryError } from '../core/errors.js';
import { textLength } from '../core/schemas.js';

/**
 * A seed's column types, decided as dbt decides them, so that a seed loads into the same table
 * under Tributary as under dbt: every value of a column is tried as an integer, a number, a date,
 * a timestamp, a boolean, in that order, and the first type all of them fit wins (an empty value
 * or `null` fits every type). `column_types` from the project overrides a column.
 */

const NULLS = new Set(['', 'null']);
const TESTS: [type: string, fits: (value: string) => boolean][] = [
  ['INTEGER', (v) => /^[-+]?\d+$/.test(v) && Math.abs(Number(v)) < 2 ** 31],
  ['NUMBER', (v) => /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)],
  ['DATE', (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`))],
  ['TIMESTAMP', (v) => /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T') + 'Z'))],
  // dbt's agate reads a boolean in any case: True, FALSE.
  ['BOOLEAN', (v) => /^(true|false)$/i.test(v)],
];

/** Splits CSV text into records of fields (RFC 4180 quoting). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

export function inferSeedColumns(text: string, columnTypes: Record<string, string>, file: string): Record<string, string> {
  // A spreadsheet's "CSV UTF-8" starts with a byte-order mark, which names no column.
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header?.length) throw new TributaryError('the seed has no header row', { place: { file }, hint: 'a seed is a CSV file whose first line names its columns' });
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    const place = { file, line: 1 };
    if (!name.trim()) throw new TributaryError(`column ${i + 1} of the seed's header has no name`, { place, hint: 'name every column in the header line' });
    // The warehouse's names ignore case: `ID` and `id` would be one column.
    const first = seen.get(name.toLowerCase());
    if (first !== undefined) {
      throw new TributaryError(`the seed's header names column '${name}' twice (columns ${first + 1} and ${i + 1})`, { place, hint: 'give each column a name of its own in the header line' });
    }
    seen.set(name.toLowerCase(), i);
  });
  const columns: Record<string, string> = {};
  header.forEach((name, i) => {
    const values = rows.map((r) => r[i] ?? '').filter((v) => !NULLS.has(v.toLowerCase()));
    const override = columnTypes[name];
    if (override) {
      // dbt-duckdb makes the seed's table with this type, and DuckDB keeps no length: a value
      // longer than a VARCHAR(2) loads under dbt, so it loads here (a declared source refuses it).
      columns[name] = textLength(override) === undefined ? override : 'VARCHAR';
      return;
    }
    const found = TESTS.find(([, fits]) => values.every(fits))?.[0] ?? 'VARCHAR';
    // dbt maps a number column to an integer when no value has decimals, else to a double.
    columns[name] = found === 'NUMBER' ? (values.some((v) => /[.eE]/.test(v)) ? 'DOUBLE' : 'BIGINT') : found;
  });
  return columns;
}
