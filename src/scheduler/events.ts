/** What the scheduler tells listeners (live UI, metrics, tests) as things happen. */
import type { HookName } from './dag.js';
import type { JobRun, RunState, TaskState } from './store.js';

export type SchedulerEvent =
  /** A run was created or changed state. */
  | { type: 'run'; run: JobRun; previousState?: RunState }
  /** A task changed state; durationMs is set when an attempt (or a poke) ended. */
  | {
      type: 'task';
      job: string;
      runId: string;
      task: string;
      state: TaskState;
      attempt: number;
      at: Date;
      durationMs?: number;
      error?: string;
      nextAttemptAt?: Date;
    }
  /** A line a running task logged. */
  | { type: 'log'; job: string; runId: string; task: string; attempt: number; at: Date; line: string }
  /** A hook (notification) was sent, or failed to be. */
  | { type: 'hook'; job: string; runId: string; task?: string; hook: HookName; ok: boolean; error?: string };

export type SchedulerListener = (event: SchedulerEvent) => void;
