import { Cron } from 'croner';
import { z } from 'zod';
import { isDateOrInstant, isValidTimeZone } from '../timezone.js';

/** The presets a schedule may name instead of a cron expression, and the cron each stands for. */
export const SCHEDULE_PRESETS = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
} as const;
export type SchedulePreset = keyof typeof SCHEDULE_PRESETS;

export function isSchedulePreset(text: string): text is SchedulePreset {
  return Object.hasOwn(SCHEDULE_PRESETS, text);
}

/** The cron expression behind a schedule string: a preset's expansion, or the string itself. */
export function cronExpressionOf(schedule: string): string {
  return isSchedulePreset(schedule) ? SCHEDULE_PRESETS[schedule] : schedule;
}

/** Croner's own parser decides (never a hand-rolled one); its message names the bad field. */
export function cronError(expression: string): string | undefined {
  try {
    // A well-formed expression can still name no date (31 February): its job would never run.
    if (!new Cron(cronExpressionOf(expression), { paused: true }).nextRun()) return 'it names no date that exists (a day its months never have?), so it would never run';
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export const timeZoneSchema = z
  .string()
  .refine(isValidTimeZone, { error: (issue) => `unknown time zone ${JSON.stringify(issue.input)} (use an IANA name such as 'Europe/Paris' or 'UTC')` });

export const dateOrInstantSchema = z
  .string()
  .refine(isDateOrInstant, { error: (issue) => `${JSON.stringify(issue.input)} is not a date ('YYYY-MM-DD') or an ISO date-time` });

const cronStringSchema = z.string().superRefine((expression, ctx) => {
  const message = cronError(expression);
  if (message) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid schedule ${JSON.stringify(expression)}: ${message} (expected a cron expression or one of ${Object.keys(SCHEDULE_PRESETS).join(', ')})`,
    });
  }
});

/**
 * When a job runs: a cron string or preset, a cron with its own time zone, or "when these tables change".
 * No schedule at all means the job only runs when triggered.
 */
export const scheduleSchema = z.union([
  cronStringSchema,
  z.strictObject({ cron: cronStringSchema, timezone: timeZoneSchema.optional() }),
  z.strictObject({ onTablesChanged: z.array(z.string().min(1)).min(1) }),
]);
export type Schedule = z.output<typeof scheduleSchema>;
