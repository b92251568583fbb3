import { z } from 'zod';

/**
 * Schemas shared by the project file and by the components that plug into it. A leaf module:
 * components import it, so it must import nothing of Tributary's.
 */

export const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*$/, 'expected a lower-case SQL identifier (letters, digits, _; not starting with a digit)');

/** A DuckDB type name, e.g. 'BIGINT', 'DECIMAL(10,2)', 'TIMESTAMP', "ENUM('a','b')". */
export const columnType = z
  .string()
  .min(1, 'expected a DuckDB type such as BIGINT or VARCHAR')
  // A type is put into SQL as it is written: it must not end the statement or start a comment.
  .refine((type) => !/;|--|\/\*/.test(type), 'expected one DuckDB type such as BIGINT or DECIMAL(10,2), with no ;, -- or /*');

/**
 * A declared column: its DuckDB type, or the type plus where the value comes from. `key` names the
 * field in a JSON record when it differs from the column (`userId` for `user_id`); `from` reads a
 * number as an epoch timestamp, as event logs write them.
 */
export const columnSpec = z.union([
  columnType,
  z
    .object({
      type: columnType,
      key: z.string().min(1).optional(),
      from: z.enum(['epoch_ms', 'epoch_s']).optional(),
    })
    .strict(),
]);

/** Column name → spec. Names are kept as written (quoted in SQL), so a JSON field such as `userId` may keep its name. */
export const columnsSchema = z.record(z.string().min(1), columnSpec);

export const ruleSchema = z
  .object({
    column: identifier,
    notNull: z.boolean().optional(),
    accepted: z.array(z.union([z.string(), z.number()])).min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict()
  .refine((r) => r.notNull || r.accepted || r.min !== undefined || r.max !== undefined, {
    message: 'a rule needs at least one of notNull, accepted, min, max',
  });

/** Partition column → SQL expression over the model's columns, e.g. { dt: 'CAST(event_time AS DATE)' }. */
export const partitionBySchema = z.record(identifier, z.string().min(1));

/**
 * How many rows a load may quarantine before it fails and commits nothing: a count (`25`) or a
 * share of the rows read (`'2%'`).
 */
export const maxQuarantinedSchema = z.union([
  z.number().int().min(0),
  z.string().regex(/^\d+(\.\d+)?%$/, "expected a count such as 25 or a share such as '2%'"),
]);

export type ColumnSpec = z.output<typeof columnSpec>;
export type Rule = z.output<typeof ruleSchema>;
export type MaxQuarantined = z.output<typeof maxQuarantinedSchema>;

/** A declared column, resolved: the name the table uses, its type, the JSON key and any conversion. */
export interface DeclaredColumn {
  name: string;
  type: string;
  key: string;
  from?: 'epoch_ms' | 'epoch_s';
}

/** The most characters a declared text type holds (`VARCHAR(3)`), or undefined when it sets none. */
export function textLength(type: string): number | undefined {
  const sized = /^(?:N?VARCHAR|TEXT|STRING|N?CHAR|BPCHAR|CHARACTER|(?:CHAR|CHARACTER)\s+VARYING)\s*\(\s*(\d+)\s*\)$/.exec(type.trim().toUpperCase());
  return sized ? Number(sized[1]) : undefined;
}

export function declaredColumns(columns: Record<string, ColumnSpec>, keyOf: (name: string) => string = (name) => name): DeclaredColumn[] {
  return Object.entries(columns).map(([name, spec]) =>
    typeof spec === 'string'
      ? { name, type: spec, key: keyOf(name) }
      : { name, type: spec.type, key: spec.key ?? keyOf(name), ...(spec.from ? { from: spec.from } : {}) },
  );
}
