import { z } from 'zod';
import { notifyConfigSchema } from '../tasks/notify.js';

/** A hook is a notify task's config (kind may be spelled out or left off). */
export const hookSchema = notifyConfigSchema.safeExtend({ kind: z.literal('notify').optional() });
export type Hook = z.output<typeof hookSchema>;

export const hooksSchema = z.array(hookSchema).default([]);
