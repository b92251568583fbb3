import type { CheckConfig } from '../core/config.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent, quoteLiteral } from '../engine/index.js';

export interface CheckResult {
  name: string;
  severity: 'error' | 'warn';
  passed: boolean;
  failures: number;
  detail: string;
}

/** The SQL that returns offending rows (or, for min_rows, the shortfall) for one declared check. */
function offendingRows(check: CheckConfig): string {
  const table = quoteIdent(check.table);
  const column = check.column ? quoteIdent(check.column) : undefined;
  const need = (what: string) => {
    throw new Error(`check on ${check.table}: test '${check.test}' needs ${what}`);
  };
  switch (check.test) {
    case 'not_null':
      return `SELECT * FROM ${table} WHERE ${column ?? need('a column')} IS NULL`;
    case 'unique':
      return `SELECT ${column ?? need('a column')}, count(*) AS n FROM ${table} GROUP BY 1 HAVING count(*) > 1`;
    case 'accepted_values':
      return `SELECT ${column ?? need('a column')}, count(*) AS n FROM ${table} WHERE ${column} NOT IN (${(check.values ?? need('values'))
        .map((v) => (typeof v === 'number' ? String(v) : quoteLiteral(v)))
        .join(', ')}) GROUP BY 1`;
    case 'relationships': {
      const to = check.to ?? need('to: { table, column }');
      return `SELECT ${column ?? need('a column')}, count(*) AS n FROM ${table} WHERE ${column} IS NOT NULL
              AND ${column} NOT IN (SELECT ${quoteIdent(to.column)} FROM ${quoteIdent(to.table)} WHERE ${quoteIdent(to.column)} IS NOT NULL) GROUP BY 1`;
    }
    case 'min_rows':
      return `SELECT count(*) AS n FROM ${table} HAVING count(*) < ${check.min ?? need('min')}`;
    case 'sql':
      return check.sql ?? need('sql');
  }
}

export function checkName(check: CheckConfig): string {
  return `${check.test}(${check.table}${check.column ? `.${check.column}` : ''})`;
}

/** Runs the project's checks after its models: data tests in the dbt sense. */
export async function runChecks(engine: Engine, checks: readonly CheckConfig[], tables?: ReadonlySet<string>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    if (tables && !tables.has(check.table)) continue;
    const name = checkName(check);
    const severity = check.severity ?? 'error';
    try {
      const failures = Number(await engine.scalar<bigint>(`SELECT count(*) FROM (${offendingRows(check)})`));
      results.push({ name, severity, passed: failures === 0, failures, detail: failures ? `${failures} offending row(s)` : 'ok' });
    } catch (error) {
      results.push({ name, severity, passed: false, failures: 1, detail: (error as Error).message.split('\n')[0]! });
    }
  }
  return results;
}
