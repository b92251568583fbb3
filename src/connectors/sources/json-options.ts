import { z } from 'zod';
import type { ColumnInfo } from '../../catalog/index.js';
import { declaredColumns, type DeclaredColumn } from '../../core/schemas.js';
import type { Engine } from '../../engine/index.js';
import type { SourceContext } from './types.js';

/** Options shared by the JSON formats. */
export const jsonOptions = z
  .object({
    /** An empty string is a missing value, in every column (`userId: ""` for a logged-out user). */
    emptyAsNull: z.boolean().optional(),
    /** How a column finds its field: by its own name, or by its camelCase form (`user_id` ← `userId`). */
    keys: z.enum(['as-named', 'camelCase']).optional(),
    /** Longest record accepted, in bytes; longer ones are quarantined. Default 16 MB. */
    maxRecordBytes: z.number().int().positive().optional(),
  })
  .strict();

export type JsonSourceOptions = z.output<typeof jsonOptions>;

export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_all, c: string) => c.toUpperCase());
}

/** The declared columns with their JSON keys, or the schema inferred from every record. */
export async function jsonColumns(
  context: SourceContext,
  columns: Parameters<typeof declaredColumns>[0] | undefined,
  options: JsonSourceOptions | undefined,
  infer: (engine: Engine) => Promise<ColumnInfo[]>,
): Promise<DeclaredColumn[]> {
  if (columns) return declaredColumns(columns, options?.keys === 'camelCase' ? camelCase : undefined);
  const inferred = await infer(context.engine);
  context.log(`source '${context.name}': no columns declared; inferred from every record: ${inferred.map((c) => `${c.name} ${c.type}`).join(', ')}`);
  return inferred.map((c) => ({ name: c.name, type: c.type, key: c.name }));
}
