import { TributaryError } from '../core/errors.js';
import type { Rule } from '../core/schemas.js';
import { quoteIdent, quoteLiteral, type Engine } from '../engine/index.js';

/** One declared constraint as SQL: `passes` is never NULL, `reason` explains a failure. */
export interface RuleCheck {
  key: string;
  column: string;
  passes: string;
  reason: string;
}

/** The column that carries each row's verdict: 'ok', or the key of the first check it failed. */
export const VERDICT = '__rule';
/** A connector's own per-row failure (a line that is not JSON, say), NULL when the row parsed. */
export const PARSE_ERROR = '__error';
/** The `__error` of a record that is no row at all (a blank line of a JSON-lines file): skipped, not quarantined. */
export const BLANK_LINE = 'blank line';
/** The verdict of a record that is skipped by its nature, not failed: a blank line. */
export const SKIPPED = 'skipped';

function literal(value: string | number): string {
  return typeof value === 'number' ? String(value) : quoteLiteral(value);
}

/**
 * A rule naming a column the rows do not have, as a field of the config (`sources.x.rules.0.column`)
 * with the columns there are; nothing when every rule names one. The load would fail with the
 * engine's binder error and a line of generated SQL.
 */
export function ruleWithoutColumn(rules: readonly Rule[], columns: readonly string[], field: string, file?: string): TributaryError | undefined {
  const known = new Set(columns.map((c) => c.toLowerCase()));
  const at = rules.findIndex((rule) => !known.has(rule.column.toLowerCase()));
  if (at < 0) return undefined;
  return new TributaryError(`the rule names column '${rules[at]!.column}', which the rows do not have; their columns: ${columns.join(', ')}`, {
    place: { ...(file ? { file } : {}), field: `${field}.${at}.column` },
    hint: 'name one of those columns, or declare the column',
  });
}

/**
 * A rule that cannot be checked on its column's type (accepted values that are no values of it, a
 * min on text), as a field of the config with the engine's reason; nothing when every rule can be.
 * The load would fail with the engine's conversion or binder error under the model's name.
 */
export async function ruleTypeProblem(engine: Engine, rules: readonly Rule[], columns: readonly { name: string; type: string }[], field: string, file?: string): Promise<TributaryError | undefined> {
  const typeOf = new Map(columns.map((c) => [c.name.toLowerCase(), c.type]));
  for (const [at, rule] of rules.entries()) {
    const type = typeOf.get(rule.column.toLowerCase());
    if (!type) continue;
    // Each comparison on a value of the type: a NULL guard (as the load's checks have) would spare the engine converting the constants.
    const value = `CAST(NULL AS ${type})`;
    const comparisons = [
      ...(rule.accepted ? [`${value} IN (${rule.accepted.map(literal).join(', ')})`] : []),
      ...(rule.min !== undefined ? [`${value} >= ${rule.min}`] : []),
      ...(rule.max !== undefined ? [`${value} <= ${rule.max}`] : []),
    ];
    if (!comparisons.length) continue;
    const problem = await engine.query(`SELECT ${comparisons.join(', ')}`).then(
      () => undefined,
      (error: Error) => error.message.split('\n')[0],
    );
    if (problem) {
      return new TributaryError(`the rule on column '${rule.column}' (${type}) cannot be checked: ${problem}`, {
        place: { ...(file ? { file } : {}), field: `${field}.${at}` },
        hint: "accepted values must be values of the column's type, and min and max apply to a column of numbers: correct the rule, or the column's declared type",
      });
    }
  }
  return undefined;
}

export function ruleChecks(rules: readonly Rule[]): RuleCheck[] {
  const checks: RuleCheck[] = [];
  for (const rule of rules) {
    const col = quoteIdent(rule.column);
    const got = `coalesce(CAST(${col} AS VARCHAR), 'NULL')`;
    const add = (passes: string, expected: string) =>
      checks.push({
        key: `r${checks.length}`,
        column: rule.column,
        passes,
        reason: `${quoteLiteral(`${rule.column}: expected ${expected}, got `)} || ${got}`,
      });
    if (rule.notNull) add(`${col} IS NOT NULL`, 'a value (not null)');
    if (rule.accepted) add(`(${col} IS NULL OR ${col} IN (${rule.accepted.map(literal).join(', ')}))`, `one of ${rule.accepted.join(', ')}`);
    if (rule.min !== undefined) add(`(${col} IS NULL OR ${col} >= ${rule.min})`, `>= ${rule.min}`);
    if (rule.max !== undefined) add(`(${col} IS NULL OR ${col} <= ${rule.max})`, `<= ${rule.max}`);
  }
  return checks;
}

/** The SQL expression that computes a row's verdict. */
export function verdictExpression(checks: readonly RuleCheck[], hasParseError: boolean): string {
  const branches = [
    ...(hasParseError ? [`WHEN ${PARSE_ERROR} = '${BLANK_LINE}' THEN '${SKIPPED}'`, `WHEN ${PARSE_ERROR} IS NOT NULL THEN 'parse'`] : []),
    ...checks.map((c) => `WHEN NOT ${c.passes} THEN '${c.key}'`),
  ];
  return branches.length ? `CASE ${branches.join(' ')} ELSE 'ok' END` : `'ok'`;
}

/** The SQL expression that explains a verdict in words, for the quarantine table. */
export function reasonExpression(checks: readonly RuleCheck[], hasParseError: boolean): { reason: string; column: string } {
  const reasons = [
    ...(hasParseError ? [`WHEN 'parse' THEN ${PARSE_ERROR}`] : []),
    ...checks.map((c) => `WHEN '${c.key}' THEN ${c.reason}`),
  ];
  const columns = [
    // A typing problem reads "<column>: expected <type>, got …" (the first, when several columns failed).
    ...(hasParseError ? [`WHEN 'parse' THEN nullif(regexp_extract(${PARSE_ERROR}, '^([^:;]+): expected ', 1), '')`] : []),
    ...checks.map((c) => `WHEN '${c.key}' THEN ${quoteLiteral(c.column)}`),
  ];
  return {
    reason: reasons.length ? `CASE ${VERDICT} ${reasons.join(' ')} END` : 'NULL',
    column: columns.length ? `CASE ${VERDICT} ${columns.join(' ')} END` : 'NULL',
  };
}
