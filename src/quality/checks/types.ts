import { z } from 'zod';
import { withFamily, type Component } from '../../core/component.js';
import { identifier } from '../../core/schemas.js';

/**
 * A data test on a table after its models ran (dbt's tests): a kind (`test`), the schema of its
 * config, and the SQL that returns the offending rows. The check passes when that SQL returns none.
 */
export interface Check {
  /** As runs and messages show it: `unique(orders.order_id)`. */
  readonly name: string;
  readonly table: string;
  readonly severity: 'error' | 'warn';
  /** A query returning the rows that fail the check. */
  readonly offendingRows: string;
}

/** The fields every check has. */
export const checkCommon = {
  /** The table the check is on: its name in the engine. */
  table: identifier,
  /** error (the default) fails the run; warn reports and goes on. */
  severity: z.enum(['error', 'warn']).optional(),
};

export type CheckComponent<Kind extends string = string, Config extends z.ZodType = z.ZodType> = Component<Kind, Config, undefined, Check>;

/** A check (Tributary's or a project's): `test` names it in `checks`. */
export function defineCheck<const Kind extends string, Config extends z.ZodType>(component: CheckComponent<Kind, Config>) {
  return withFamily('check', 'test', component);
}

/** A check's name: its kind and where it looks. */
export function checkLabel(kind: string, table: string, column?: string): string {
  return `${kind}(${table}${column ? `.${column}` : ''})`;
}
