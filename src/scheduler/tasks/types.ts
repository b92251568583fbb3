/**
 * The contract of a task kind (a component): a config schema, and `create(config)` returning the runner
 * the executor calls. The executor only ever sees TaskRunner; it never looks at a task's kind.
 */
import type { z } from 'zod';
import type { JsonValue } from '../json.js';
import type { Platform, RunInterval } from '../platform.js';
import type { RunKind } from '../store.js';
import type { TemplateVars } from './template.js';

export interface TaskContext {
  job: string;
  task: string;
  runId: string;
  runKind: RunKind;
  interval: RunInterval;
  attempt: number;
  /**
   * Attempts before this try of the task (a clear starts a new try): attempts of one try may take
   * up what an earlier attempt of the same try finished before it died.
   */
  attemptOffset: number;
  /** Start of this attempt; a sensor's pokes share it, so its timeout covers the whole wait. */
  attemptStartedAt: Date;
  timeoutSeconds?: number;
  /** What the previous poke of this attempt returned as pokeState. */
  pokeState?: JsonValue;
  /** The run's facts for templates ({{ ds }}, {{ job }}, …). */
  vars: TemplateVars;
  /** Aborted on timeout, when the scheduler stops, or when the attempt loses its lease. */
  signal: AbortSignal;
  platform: Platform;
  log(line: string): void;
}

export type TaskOutcome =
  | { status: 'success'; result?: JsonValue }
  /** Not done yet (a sensor's condition is false): free the slot, poke again at `nextPokeAt`. */
  | { status: 'reschedule'; nextPokeAt: Date; pokeState: JsonValue };

export interface TaskRunner {
  run(ctx: TaskContext): Promise<TaskOutcome>;
}

/** A failure with a message meant for people; `retryable: false` skips the retry policy (bad config, sensor timeout). */
export class TaskFailure extends Error {
  readonly retryable: boolean;

  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskFailure';
    this.retryable = options.retryable ?? true;
  }
}

export interface TaskComponent<Kind extends string = string, Config extends z.ZodObject = z.ZodObject> {
  kind: Kind;
  description: string;
  /** The kind's own fields; the registry adds `kind` and the fields every task has (after, retries, hooks…). */
  config: Config;
  /** A job flag that must be true for a job to use this kind (shell commands are opt-in). */
  requiresJobFlag?: 'allowShell';
  create(config: z.output<Config>): TaskRunner;
}

/**
 * A task kind (the scheduler's or a project's): `kind` names it in a job's tasks. Keeps the literal
 * kind and the schema's type, and stamps the family the project file's component list asks for;
 * `configure()` writes a task of this kind with its own fields typed.
 */
export function defineTaskComponent<const Kind extends string, Config extends z.ZodObject>(component: TaskComponent<Kind, Config>) {
  return {
    ...component,
    family: 'task' as const,
    configure: <const Options extends z.input<Config>>(options: Options) => ({ ...options, kind: component.kind }),
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
