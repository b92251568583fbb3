import type { Engine } from '../../engine/index.js';
import type { CheckComponent } from './types.js';

export interface CheckResult {
  name: string;
  severity: 'error' | 'warn';
  passed: boolean;
  failures: number;
  detail: string;
}

/** A declared check: `test` names its kind. */
export type CheckDeclaration = { test: string; table: string };

/**
 * Runs declared checks (on the tables given, or all) after the models that write them: data
 * tests in the dbt sense. `kinds` finds each check's component by its `test`.
 */
export async function runChecks(engine: Engine, declared: readonly CheckDeclaration[], kinds: readonly CheckComponent[], tables?: ReadonlySet<string>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const declaration of declared) {
    if (tables && !tables.has(declaration.table)) continue;
    const check = kinds.find((k) => k.kind === declaration.test)!.create(declaration, undefined);
    try {
      const failures = Number(await engine.scalar<bigint>(`SELECT count(*) FROM (${check.offendingRows})`));
      results.push({ name: check.name, severity: check.severity, passed: failures === 0, failures, detail: failures ? `${failures} offending row(s)` : 'ok' });
    } catch (error) {
      results.push({ name: check.name, severity: check.severity, passed: false, failures: 1, detail: (error as Error).message.split('\n')[0]! });
    }
  }
  return results;
}
