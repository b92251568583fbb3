/** Declarations only: what a job, its schedule, its tasks and its hooks look like. No execution here. */
export { defineJob, jobSchema, jobsSchema, jobsSchemaFor, jobNameSchema, parseJobs, JobConfigError, type Job, type JobInput, type JobsInput } from './job.js';
export { scheduleSchema, SCHEDULE_PRESETS, cronExpressionOf, type Schedule, type SchedulePreset } from './schedule.js';
export { taskCommonShape, taskDefaultsSchema, taskNameSchema, type TaskDefaults } from './task.js';
export { hookSchema, hooksSchema, type Hook } from './hooks.js';
export { taskSchema, taskKinds, tasks, type Task, type TaskInput, type TaskKind } from '../tasks/registry.js';
