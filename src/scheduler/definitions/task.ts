/** The fields every task has, whatever its kind, and the retry defaults a job gives its tasks. */
import { z } from 'zod';
import { TRIGGER_RULES } from '../dag.js';
import { hooksSchema } from './hooks.js';

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const taskNameSchema = z.string().regex(NAME_PATTERN, 'task names use letters, digits, _ and - (and start with a letter or _)');

const retryFields = {
  retries: z.number().int().min(0),
  retryDelaySeconds: z.number().min(0),
  retryBackoff: z.enum(['exponential', 'fixed']),
  maxRetryDelaySeconds: z.number().min(0),
  retryJitter: z.number().min(0).max(1),
  timeoutSeconds: z.number().positive(),
};

/** A job's defaults for its tasks. Without them: no retries; when set, 60 s doubling up to an hour. */
export const taskDefaultsSchema = z.strictObject({
  retries: retryFields.retries.default(0),
  retryDelaySeconds: retryFields.retryDelaySeconds.default(60),
  retryBackoff: retryFields.retryBackoff.default('exponential'),
  maxRetryDelaySeconds: retryFields.maxRetryDelaySeconds.default(3600),
  retryJitter: retryFields.retryJitter.default(0),
  timeoutSeconds: retryFields.timeoutSeconds.optional(),
});
export type TaskDefaults = z.output<typeof taskDefaultsSchema>;

/** Merged into every kind's config by the registry. No kind may define a field of the same name. */
export const taskCommonShape = {
  description: z.string().optional(),
  /** Tasks that must finish first (how they must finish is the trigger rule's business). */
  after: z.array(taskNameSchema).default([]),
  triggerRule: z.enum(TRIGGER_RULES).default('all_success'),
  retries: retryFields.retries.optional(),
  retryDelaySeconds: retryFields.retryDelaySeconds.optional(),
  retryBackoff: retryFields.retryBackoff.optional(),
  maxRetryDelaySeconds: retryFields.maxRetryDelaySeconds.optional(),
  retryJitter: retryFields.retryJitter.optional(),
  /** For a sensor: the whole wait, all pokes included. */
  timeoutSeconds: retryFields.timeoutSeconds.optional(),
  onFailure: hooksSchema,
  onSuccess: hooksSchema,
  onRetry: hooksSchema,
};
