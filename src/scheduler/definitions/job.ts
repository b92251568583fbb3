/** A job: when it runs, how its tasks retry and time out, who hears about it, and its tasks. */
import { z } from 'zod';
import { validateDag } from '../dag.js';
import { taskComponent, taskSchemaFor, tasks, type TaskInput } from '../tasks/registry.js';
import type { TaskComponent } from '../tasks/types.js';
import { parseDateOrInstant } from '../timezone.js';
import { hooksSchema } from './hooks.js';
import { dateOrInstantSchema, scheduleSchema, timeZoneSchema } from './schedule.js';
import { NAME_PATTERN, taskDefaultsSchema, taskNameSchema } from './task.js';

export const jobNameSchema = z.string().regex(NAME_PATTERN, 'job names use letters, digits, _ and - (and start with a letter or _)');

/** A job's schema over a list of task kinds (the shipped ones, and a project's own). */
export function jobSchemaFor(kinds: readonly TaskComponent[]) {
  return z
  .strictObject({
    description: z.string().optional(),
    /** Absent: the job runs only when triggered. */
    schedule: scheduleSchema.optional(),
    /** IANA zone of the schedule and of `ds`. */
    timezone: timeZoneSchema.default('UTC'),
    /** Start of the first interval ('YYYY-MM-DD' = midnight in the job's zone). Default: when the scheduler starts. */
    start: dateOrInstantSchema.optional(),
    /** No interval starts after it. */
    end: dateOrInstantSchema.optional(),
    /** true: every missed interval gets a run; false: only the latest. */
    catchup: z.boolean().default(false),
    maxActiveRuns: z.number().int().min(1).default(1),
    /** Shell tasks run arbitrary commands: a job must ask for them. */
    allowShell: z.boolean().default(false),
    defaults: taskDefaultsSchema.default(taskDefaultsSchema.parse({})),
    onFailure: hooksSchema,
    onSuccess: hooksSchema,
    onRetry: hooksSchema,
    tasks: z.record(taskNameSchema, taskSchemaFor(kinds)),
  })
  .superRefine((job, ctx) => {
    if (Object.keys(job.tasks).length === 0) ctx.addIssue({ code: 'custom', path: ['tasks'], message: 'a job needs at least one task' });
    for (const problem of validateDag(job.tasks)) ctx.addIssue({ code: 'custom', path: ['tasks'], message: problem });
    for (const [name, task] of Object.entries(job.tasks)) {
      const flag = taskComponent(task.kind, kinds).requiresJobFlag;
      if (flag && !job[flag]) {
        ctx.addIssue({
          code: 'custom',
          path: ['tasks', name],
          message: `task '${name}' is a ${task.kind} task: set ${flag}: true on the job to allow it`,
        });
      }
    }
    if (job.start && job.end) {
      const start = parseDateOrInstant(job.start, job.timezone);
      const end = parseDateOrInstant(job.end, job.timezone);
      if (start && end && end < start) ctx.addIssue({ code: 'custom', path: ['end'], message: `end ${job.end} is before start ${job.start}` });
    }
  });
}

export const jobSchema = jobSchemaFor(tasks);

export type JobInput = z.input<typeof jobSchema>;
export type Job = z.output<typeof jobSchema>;

/** The project config's `jobs: { name: Job }`. */
export const jobsSchema = z.record(jobNameSchema, jobSchema);

/** The project config's `jobs` over a list of task kinds. */
export function jobsSchemaFor(kinds: readonly TaskComponent[]): typeof jobsSchema {
  return kinds === tasks ? jobsSchema : (z.record(jobNameSchema, jobSchemaFor(kinds)) as unknown as typeof jobsSchema);
}
export type JobsInput = z.input<typeof jobsSchema>;

export class JobConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobConfigError';
  }
}

/** Validates job definitions; the error lists every problem with its path (jobs.daily.tasks.load…). */
export function parseJobs(input: unknown, kinds: readonly TaskComponent[] = tasks): Record<string, Job> {
  const parsed = jobsSchemaFor(kinds).safeParse(input);
  if (!parsed.success) throw new JobConfigError(`invalid jobs:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

type TaskInputWithAfter<Names extends string> = TaskInput & { after?: readonly Names[] };

/**
 * Typed identity for a job in a project file: editors complete task kinds and their fields, and a task's
 * `after` may only name tasks of the same job.
 */
export function defineJob<const Tasks extends Record<string, TaskInputWithAfter<Extract<keyof Tasks, string>>>>(
  job: Omit<JobInput, 'tasks'> & { tasks: Tasks },
): JobInput {
  return job as JobInput;
}
