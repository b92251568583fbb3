/** The scheduler's public surface: declarations, the store seam, the platform seam, and the daemon. */
export * from './definitions/index.js';
export { Scheduler, type SchedulerOptions, type JobSummary, type BackfillResult } from './daemon.js';
export type { SchedulerEvent, SchedulerListener } from './events.js';
export type { Platform, PlatformCall, RunInterval, ChecksReport, CompactionReport, LogLevel } from './platform.js';
export {
  TASK_STATES,
  RUN_STATES,
  RUN_KINDS,
  LOG_TAIL_CHARS,
  appendLogTail,
  runIdFor,
  type SchedulerStore,
  type JobRun,
  type JobState,
  type TaskInstance,
  type TaskState,
  type RunState,
  type RunKind,
  type NewRun,
  type RunFilter,
  type AttemptRef,
  type AttemptOutcome,
  type ExpiredAttemptOutcome,
} from './store.js';
export { MemorySchedulerStore } from './memory-store.js';
export { TRIGGER_RULES, HOOK_NAMES, validateDag, type TriggerRule, type HookName } from './dag.js';
export { retryDelayMs, type RetryPolicy, type RetryBackoff } from './retry.js';
export { Timetable, resolveSchedule, type DataInterval, type ResolvedSchedule } from './intervals.js';
export { TEMPLATE_VARIABLES, type TemplateVars, type TemplateVariable } from './tasks/template.js';
export { TaskFailure, defineTaskComponent, type TaskComponent, type TaskContext, type TaskRunner, type TaskOutcome } from './tasks/types.js';
export type { TaskFunction } from './tasks/function.js';
export { realTimers, type Timers } from './timers.js';
export type { JsonValue } from './json.js';
