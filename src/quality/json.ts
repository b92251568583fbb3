import { textLength, type DeclaredColumn, type Rule } from '../core/schemas.js';
import { quoteIdent, quoteLiteral } from '../engine/index.js';
import { BLANK_LINE, PARSE_ERROR, ruleChecks, SKIPPED, verdictExpression } from './rules.js';

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
/** A text of any length; a sized one (VARCHAR(3)) is textLength's. */
const TEXT = /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)$/;
/** A list or array (brackets), or a STRUCT, MAP or UNION; a scalar's parameters (DECIMAL(12,2), VARCHAR(3), ENUM('a')) make none. */
const NESTED = /[[\]]|^(STRUCT|MAP|UNION)\s*\(/;

/** What the JSON reader is asked for, per field: the value's text, or for JSON columns its JSON. */
export function fieldTextType(column: DeclaredColumn): 'VARCHAR' | 'JSON' {
  const type = column.type.trim().toUpperCase();
  return type === 'JSON' || NESTED.test(type) ? 'JSON' : 'VARCHAR';
}

/** read_ndjson's `columns` argument: each field's key → its text type. */
export function fieldTextColumns(columns: readonly DeclaredColumn[]): string {
  return `{${columns.map((c) => `${quoteLiteral(c.key)}: ${quoteLiteral(fieldTextType(c))}`).join(', ')}}`;
}

/**
 * A STRUCT column (not a list of them): json_transform can type it in the parse that reads every
 * field, where its text would otherwise be parsed a second time by a cast. The two are the same
 * conversion: a cast from JSON to a STRUCT is that transform, and it is never NULL for a present
 * value (a field that does not fit is NULL inside it), so the cast's check refused nothing.
 */
function transformsItself(column: DeclaredColumn): boolean {
  return /^STRUCT\s*\(.*\)$/s.test(column.type.trim().toUpperCase());
}

/** json_transform's structure: each field's key → its text type, or a STRUCT's own type. */
function fieldStructure(columns: readonly DeclaredColumn[]): string {
  return JSON.stringify(Object.fromEntries(columns.map((c) => [c.key, transformsItself(c) ? c.type.trim() : fieldTextType(c)])));
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
    // A time in UTC ('…Z', as JavaScript and most APIs write it) has no offset to look for: the
    // regular expression runs only on the others.
    const value = `CASE WHEN ends_with(${t}, 'Z') THEN coalesce(TRY_CAST(${t} AS ${type}), ${instant})
      WHEN regexp_matches(${t}, ':\\d\\d(\\.\\d+)?\\s*[+-]\\d\\d(:?\\d\\d)?$') THEN ${instant} ELSE coalesce(TRY_CAST(${t} AS ${type}), ${instant}) END`;
    return { value, problem: refuseUnless(`${value} IS NOT NULL`) };
  }
  if (INTEGER.test(upper) || DECIMAL.test(upper)) {
    const value = `TRY_CAST(${t} AS ${type})`;
    // The value's text as written, and again without trailing fractional zeros ("22.1" is 22.10,
    // "42.0" is 42); only a text neither settles (an exponent, a plus sign) is compared as an
    // exact number, which costs some 16 µs a value. A CASE, not an OR: DuckDB evaluates every
    // branch of an OR for every row, and a CASE only for the rows that reach it.
    const written = `CAST(${value} AS VARCHAR)`;
    const trimmed = (text: string) => `CASE WHEN contains(${text}, '.') THEN rtrim(rtrim(${text}, '0'), '.') ELSE ${text} END`;
    return {
      value,
      problem: refuseUnless(
        `CASE WHEN ${value} IS NULL THEN false WHEN ${written} = ${t} THEN true WHEN ${trimmed(written)} = ${trimmed(t)} THEN true
          ELSE coalesce(TRY_CAST(${value} AS DECIMAL(38,18)) = TRY_CAST(${t} AS DECIMAL(38,18)), false) END`,
      ),
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
  // The engine keeps no length (its VARCHAR(3) is VARCHAR): a longer value is refused here, as
  // Spark and PostgreSQL refuse it, not loaded under a type that says it cannot be.
  const length = textLength(upper);
  if (length !== undefined) return { value: `CAST(${t} AS ${type})`, problem: refuseUnless(`length(${t}) <= ${length}`) };
  if (TEXT.test(upper) || upper === 'JSON') return { value: upper === 'JSON' ? t : `CAST(${t} AS ${type})`, problem: 'NULL' };
  if (upper === 'DATE') {
    const value = `TRY_CAST(${t} AS DATE)`;
    // The engine's DATE takes the day of any text that starts with one ('2024-01-01 10:00:00',
    // '2024-01-01 anything'): a text longer than a date must be that day's midnight.
    return {
      value,
      problem: refuseUnless(`CASE WHEN ${value} IS NULL THEN false WHEN strlen(${t}) <= 10 THEN true ELSE coalesce(TRY_CAST(${t} AS TIMESTAMP) = CAST(${value} AS TIMESTAMP), false) END`),
    };
  }
  const value = `TRY_CAST(${t} AS ${type})`;
  return { value, problem: refuseUnless(`${value} IS NOT NULL`) };
}

/**
 * Whether every value of a stored type converts to the declared type as it is or not at all (an
 * overflow fails the cast): a whole number into a wider whole number, a decimal or a double; a
 * float into a double; a date into a timestamp; anything into text. Other casts round or cut (1.5
 * into an INTEGER is 2, a timestamp into a DATE its day), so a value is typed from its text.
 */
export function castsExactly(stored: string, declared: string): boolean {
  const from = stored.trim().toUpperCase();
  const to = declared.trim().toUpperCase();
  if (from === to || TEXT.test(to)) return true;
  if (INTEGER.test(from)) return INTEGER.test(to) || DECIMAL.test(to) || to === 'DOUBLE' || to === 'FLOAT8';
  if (from === 'FLOAT' || from === 'REAL' || from === 'FLOAT4') return to === 'DOUBLE' || to === 'FLOAT8';
  if (from === 'DATE') return LOCAL_TIMESTAMP.test(to) || to === 'TIMESTAMPTZ' || to === 'TIMESTAMP WITH TIME ZONE';
  // A decimal into one of at least its scale (DuckDB's bare DECIMAL is DECIMAL(18,3)).
  const scale = (type: string) => {
    const sized = /^(?:DECIMAL|NUMERIC)\s*\(\s*\d+\s*(?:,\s*(\d+)\s*)?\)$/.exec(type);
    return sized ? Number(sized[1] ?? 0) : DECIMAL.test(type) ? 3 : undefined;
  };
  const [fromScale, toScale] = [scale(from), scale(to)];
  if (fromScale !== undefined) return (toScale !== undefined && toScale >= fromScale) || to === 'DOUBLE' || to === 'FLOAT8';
  return false;
}

/**
 * The typed columns and the record's problems (NULL when none) over a relation that has each
 * field's text as column `textOf(column)`.
 */
export function typedColumns(columns: readonly DeclaredColumn[], textOf: (column: DeclaredColumn) => string, options: JsonOptions = {}): { select: string[]; problems: string } {
  return typedFields(columns, textOf, () => false, options);
}

/** typedColumns where some fields arrive typed already (`typed`): those are taken as they are. */
function typedFields(
  columns: readonly DeclaredColumn[],
  fieldOf: (column: DeclaredColumn) => string,
  typed: (column: DeclaredColumn) => boolean,
  options: JsonOptions,
): { select: string[]; problems: string } {
  const exact = columns.map((c) => (typed(c) ? { value: fieldOf(c), problem: 'NULL' } : exactValue(c, fieldOf(c), options)));
  const problems = exact.map((t) => t.problem).filter((p) => p !== 'NULL');
  return {
    select: exact.map((t, i) => `${t.value} AS ${quoteIdent(columns[i]!.name)}`),
    problems: problems.length ? `nullif(concat_ws('; ', ${problems.join(', ')}), '')` : 'NULL::VARCHAR',
  };
}

/**
 * Types JSON text, one record per row of `relation` (its VARCHAR column `textColumn`), without
 * losing a row or a reason: the result has the `keep` columns, the typed columns and `__error`
 * (NULL when the record typed exactly).
 *
 * Each record is parsed once: json_transform reads every field (and types STRUCTs) in one pass,
 * under try() so that a line that is not JSON gives NULL instead of failing the scan. Only such
 * lines, and the rare valid ones that are no object, are parsed again to word their reason. A
 * transform gives NULL for valid JSON only when it is `null` or when something else went wrong;
 * then it runs once more without try(), so that the real error surfaces instead of a wrong reason.
 *
 * `blankLines: 'skip'` is for the lines of a file, where a blank one (NULL text) holds no record:
 * its `__error` is BLANK_LINE, which a verdict skips. Elsewhere (a message with no value) NULL text
 * is a record that is not JSON.
 */
export function typeJson(
  relation: string,
  textColumn: string,
  columns: readonly DeclaredColumn[],
  keep: readonly string[],
  options: JsonOptions = {},
  blankLines: 'skip' | 'fail' = 'fail',
): string {
  const v = quoteIdent(textColumn);
  const structure = quoteLiteral(fieldStructure(columns));
  const { select, problems } = typedFields(columns, (c) => `__fields.${quoteIdent(c.key)}`, transformsItself, options);
  const kept = keep.map((k) => `${quoteIdent(k)}, `).join('');
  // Valid JSON is an object exactly when its first character past whitespace is a brace.
  const object = `CASE WHEN starts_with(${v}, '{') THEN true ELSE regexp_matches(${v}, '^[ \\t\\n\\r]*[{]') END`;
  // In JSON's words, not the engine's (UBIGINT, VARCHAR).
  const notObject = `'expected a JSON object, got ' || CASE json_type(${v}) WHEN 'ARRAY' THEN 'an array' WHEN 'VARCHAR' THEN 'a string' WHEN 'BOOLEAN' THEN 'a boolean' WHEN 'NULL' THEN 'null' ELSE 'a number' END`;
  return `(
    SELECT ${kept}${select.join(', ')},
      CASE${blankLines === 'skip' ? `\n        WHEN ${v} IS NULL THEN ${quoteLiteral(BLANK_LINE)}` : ''}
        WHEN __fields IS NULL THEN CASE WHEN coalesce(json_valid(${v}), false) THEN ${notObject} ELSE 'not valid JSON: ' || left(coalesce(${v}, ''), 100) END
        WHEN NOT ${object} THEN ${notObject}
        ELSE ${problems}
      END AS ${PARSE_ERROR}
    FROM (SELECT *, CASE WHEN __parsed IS NOT NULL OR NOT coalesce(json_valid(${v}), false) THEN __parsed ELSE json_transform(${v}, ${structure}) END AS __fields
          FROM (SELECT *, try(json_transform(${v}, ${structure})) AS __parsed FROM ${relation})))`;
}

/** A column whose typing never refuses a value: text, JSON, and STRUCTs typed by the transform itself. */
function cannotFail(column: DeclaredColumn): boolean {
  const type = column.type.trim().toUpperCase();
  return !column.from && (TEXT.test(type) || type === 'JSON' || transformsItself(column));
}

/**
 * typeJson for a re-read that looks for the few records that fail (to find their lines): every
 * record gets its reason and the columns a verdict reads (those that can fail to type, and those
 * the rules name), typed exactly; the other columns, which can neither fail nor change a verdict,
 * are read by a second transform only for the records that fail, and are NULL for the others.
 * Reading the large fields (a context object, free-text properties) is most of a re-read's cost.
 */
export function typeJsonFailures(
  relation: string,
  textColumn: string,
  columns: readonly DeclaredColumn[],
  keep: readonly string[],
  options: JsonOptions,
  rules: readonly Rule[],
  blankLines: 'skip' | 'fail' = 'fail',
): string {
  const ruled = new Set(rules.map((r) => r.column));
  const later = columns.filter((c) => !ruled.has(c.name) && cannotFail(c));
  // The first transform needs a field to read, even when no column could fail.
  if (later.length === columns.length) later.shift();
  if (!later.length) return typeJson(relation, textColumn, columns, keep, options, blankLines);
  const judged = typeJson(relation, textColumn, columns.filter((c) => !later.includes(c)), [...new Set([...keep, textColumn])], options, blankLines);
  const typedLater = typedFields(later, (c) => `__later.${quoteIdent(c.key)}`, transformsItself, options);
  const laterSelect = new Map(later.map((c, i) => [c, typedLater.select[i]!]));
  const failing = `${verdictExpression(ruleChecks(rules), true)} NOT IN ('ok', '${SKIPPED}')`;
  return `(
    SELECT ${keep.map((k) => `${quoteIdent(k)}, `).join('')}${columns.map((c) => laterSelect.get(c) ?? quoteIdent(c.name)).join(', ')}, ${PARSE_ERROR}
    FROM (SELECT *, CASE WHEN ${failing} THEN try(json_transform(${quoteIdent(textColumn)}, ${quoteLiteral(fieldStructure(later))})) END AS __later FROM ${judged}))`;
}
