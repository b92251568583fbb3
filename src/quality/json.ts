import type { DeclaredColumn } from '../core/schemas.js';
import { quoteIdent, quoteLiteral } from '../engine/index.js';
import { PARSE_ERROR } from './rules.js';

/**
 * The one way JSON values become typed columns, for batch JSON sources and stream micro-batches
 * alike. A value is typed exactly or refused with a reason: DuckDB's own conversions round 1.5 to
 * 2, read `true` as 1.00 and `1e400` as NULL; here each of those is an error naming the field,
 * what was expected and what came. The rule is lossless conversion of the value's text: `"42"`
 * for an INTEGER is 42, `1.5` is not an INTEGER, `12.345` is not a DECIMAL(12,2).
 *
 * The JSON reader is asked for each field's text (one parse per record); the SQL here types it.
 */

export interface JsonOptions {
  /** An empty string is a missing value (for every column). */
  emptyAsNull?: boolean;
}

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|INT1|INT2|INT4|INT8|LONG|SHORT)$/;
const DECIMAL = /^(DECIMAL|NUMERIC)(\s*\(.*\))?$/;
const FLOAT = /^(DOUBLE|FLOAT|REAL|FLOAT4|FLOAT8)$/;
const BOOLEAN = /^(BOOLEAN|BOOL|LOGICAL)$/;
const LOCAL_TIMESTAMP = /^(TIMESTAMP|DATETIME)$/;
const TEXT = /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)(\s*\(\d+\))?$/;
const NESTED = /[[\](]|^(STRUCT|MAP|UNION)/;

/** What the JSON reader is asked for, per field: the value's text, or for JSON columns its JSON. */
export function fieldTextType(column: DeclaredColumn): 'VARCHAR' | 'JSON' {
  const type = column.type.trim().toUpperCase();
  return type === 'JSON' || (NESTED.test(type) && !DECIMAL.test(type)) ? 'JSON' : 'VARCHAR';
}

/** read_ndjson's `columns` argument: each field's key → its text type. */
export function fieldTextColumns(columns: readonly DeclaredColumn[]): string {
  return `{${columns.map((c) => `${quoteLiteral(c.key)}: ${quoteLiteral(fieldTextType(c))}`).join(', ')}}`;
}

/** json_transform's structure: each field's key → its text type. */
function fieldTextStructure(columns: readonly DeclaredColumn[]): string {
  return JSON.stringify(Object.fromEntries(columns.map((c) => [c.key, fieldTextType(c)])));
}

/**
 * One column typed from its text: `value` is the typed SQL expression, `problem` is NULL when the
 * value typed exactly (or is missing) and otherwise the reason, as SQL.
 */
export function exactValue(column: DeclaredColumn, text: string, options: JsonOptions = {}): { value: string; problem: string } {
  const type = column.type.trim();
  const upper = type.toUpperCase();
  const t = options.emptyAsNull ? `nullif(${text}, '')` : text;
  const reason = `${quoteLiteral(`${column.name}: expected ${type}${column.from ? ` (${column.from.replace('_', ' ')})` : ''}, got `)} || left(${t}, 100)`;
  const refuseUnless = (ok: string) => `CASE WHEN ${t} IS NULL OR (${ok}) THEN NULL ELSE ${reason} END`;

  if (column.from) {
    const scale = column.from === 'epoch_ms' ? 1000 : 1_000_000;
    // Whole numbers take the integer path; reading text as a DECIMAL costs some 40 µs a value.
    const whole = `TRY_CAST(${t} AS BIGINT)`;
    const micros = `CASE WHEN CAST(${whole} AS VARCHAR) = ${t} THEN TRY_CAST(${whole}::HUGEINT * ${scale} AS BIGINT)
      ELSE TRY_CAST(TRY_CAST(${t} AS DECIMAL(38,6)) * ${scale} AS BIGINT) END`;
    return { value: `CAST(make_timestamp(${micros}) AS ${type})`, problem: refuseUnless(`${micros} IS NOT NULL`) };
  }
  if (LOCAL_TIMESTAMP.test(upper)) {
    // DuckDB's cast to TIMESTAMP drops an offset (+02:00 reads as if UTC): such a text is read
    // as the instant it names, in UTC. Zone names (rare, and slow to read) are read when the
    // plain cast cannot.
    const instant = `TRY_CAST(TRY_CAST(${t} AS TIMESTAMPTZ) AS ${type})`;
    const value = `CASE WHEN regexp_matches(${t}, ':\\d\\d(\\.\\d+)?\\s*[+-]\\d\\d(:?\\d\\d)?$') THEN ${instant} ELSE coalesce(TRY_CAST(${t} AS ${type}), ${instant}) END`;
    return { value, problem: refuseUnless(`${value} IS NOT NULL`) };
  }
  if (INTEGER.test(upper) || DECIMAL.test(upper)) {
    const value = `TRY_CAST(${t} AS ${type})`;
    // The common case compares as text; otherwise as exact numbers ("22.1" is 22.10).
    return {
      value,
      problem: refuseUnless(`${value} IS NOT NULL AND (CAST(${value} AS VARCHAR) = ${t} OR TRY_CAST(${value} AS DECIMAL(38,18)) = TRY_CAST(${t} AS DECIMAL(38,18)))`),
    };
  }
  if (FLOAT.test(upper)) {
    const value = `TRY_CAST(${t} AS ${type})`;
    return { value, problem: refuseUnless(`${value} IS NOT NULL AND isfinite(${value})`) };
  }
  if (BOOLEAN.test(upper)) {
    const value = `CASE lower(${t}) WHEN 'true' THEN true WHEN 'false' THEN false END`;
    return { value, problem: refuseUnless(`${value} IS NOT NULL`) };
  }
  if (TEXT.test(upper) || upper === 'JSON') return { value: upper === 'JSON' ? t : `CAST(${t} AS ${type})`, problem: 'NULL' };
  const value = `TRY_CAST(${t} AS ${type})`;
  return { value, problem: refuseUnless(`${value} IS NOT NULL`) };
}

/**
 * The typed columns and the record's problems (NULL when none) over a relation that has each
 * field's text as column `textOf(column)`.
 */
export function typedColumns(columns: readonly DeclaredColumn[], textOf: (column: DeclaredColumn) => string, options: JsonOptions = {}): { select: string[]; problems: string } {
  const typed = columns.map((c) => exactValue(c, textOf(c), options));
  const problems = typed.map((t) => t.problem).filter((p) => p !== 'NULL');
  return {
    select: typed.map((t, i) => `${t.value} AS ${quoteIdent(columns[i]!.name)}`),
    problems: problems.length ? `nullif(concat_ws('; ', ${problems.join(', ')}), '')` : 'NULL::VARCHAR',
  };
}

/**
 * Types JSON text, one record per row of `relation` (its VARCHAR column `textColumn`), without
 * losing a row or a reason: the result has the `keep` columns, the typed columns and `__error`
 * (NULL when the record typed exactly).
 */
export function typeJson(relation: string, textColumn: string, columns: readonly DeclaredColumn[], keep: readonly string[], options: JsonOptions = {}): string {
  const v = quoteIdent(textColumn);
  const fields = '__fields';
  const { select, problems } = typedColumns(columns, (c) => `${fields}.${quoteIdent(c.key)}`, options);
  const kept = keep.map((k) => `${quoteIdent(k)}, `).join('');
  return `(
    SELECT ${kept}${select.join(', ')},
      CASE
        WHEN NOT coalesce(json_valid(${v}), false) THEN 'not valid JSON: ' || left(coalesce(${v}, ''), 100)
        WHEN json_type(${v}) <> 'OBJECT' THEN 'expected a JSON object, got ' || lower(json_type(${v}))
        ELSE ${problems}
      END AS ${PARSE_ERROR}
    FROM (SELECT *, CASE WHEN json_valid(${v}) AND json_type(${v}) = 'OBJECT' THEN json_transform(${v}, ${quoteLiteral(fieldTextStructure(columns))}) END AS ${fields}
          FROM ${relation}))`;
}
