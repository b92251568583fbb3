import type { z } from 'zod';
import type { Progress } from '../core/progress.js';
import type { DuckDBSchedulerStore } from '../catalog/index.js';
import type { Scheduler } from '../scheduler/index.js';
import type { Workspace } from '../state/workspace.js';

/**
 * Where a command writes: its output, its messages, and progress for long work. In the CLI these
 * are the terminal; when the command runs inside a server that owns the state, they are frames
 * streamed back to the CLI that asked, which shows them the same way.
 */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  progress(label: string, totalBytes?: number): Progress;
  /** Whether output goes to a person (colours, tables) rather than a pipe. */
  readonly tty: boolean;
}

/** A project's scheduler on its state: the daemon and the store it keeps its runs in. */
export interface ProjectScheduler {
  scheduler: Scheduler;
  store: DuckDBSchedulerStore;
  /** With a shared catalog: whether this process leads the scheduler, and which process does. */
  leadership?(): Promise<{ role: 'leader' | 'standby'; holder: string; leader?: { holder: string; epoch: number; url: string | null; since: string; expiresAt: string; live: boolean } }>;
  /** Gives up what opening took (a shared catalog's leader lease); after the scheduler's stop. */
  close?(): Promise<void>;
}

/** Opens the project's scheduler here, for a command run without a server (`only` narrows it to one job, run when triggered). */
export type SchedulerOpener = (options: { only?: string; log: (message: string) => void }) => Promise<ProjectScheduler>;

/** What the running server adds to a command run inside it. */
export interface ServerServices {
  /** Stream jobs' status, for `status`. */
  status(): unknown;
  /** The running scheduler, for `jobs`, `trigger`, `backfill` and the like. */
  scheduler?: ProjectScheduler;
}

export interface CommandContext {
  ws: Workspace;
  io: CommandIO;
  /** Set when the command runs inside `tributary up`. */
  server?: ServerServices;
  /** Set when the client stops waiting (Ctrl+C): long work should stop. */
  signal?: AbortSignal;
  /** How a command that needs the scheduler opens it when no server runs one (given by whoever runs the command). */
  openScheduler?: SchedulerOpener;
}

/**
 * A command that works on a project's state, as clients see it: a name and its input. The input is
 * plain JSON (what the CLI parsed, or what a client of the server's API sent), so it can be sent
 * to the server that owns the state and run there exactly as it would run here. The command
 * declares that input as a schema: it is checked wherever it comes from, and the command's code
 * gets it typed, with defaults filled in. Declarations live apart from the code (declarations.ts).
 */
export interface CommandDeclaration<Input extends z.ZodType = z.ZodType> {
  name: string;
  input: Input;
  /** It stops early when its context's signal aborts (Ctrl+C stops it cleanly; others end the process). */
  stoppable?: boolean;
}

/** A declared command with its code. */
export interface CommandSpec<Input extends z.ZodType = z.ZodType> extends CommandDeclaration<Input> {
  run(context: CommandContext, input: z.output<Input>): Promise<void>;
}

export function defineCommand<Input extends z.ZodType>(spec: CommandSpec<Input>): CommandSpec<Input> {
  return spec;
}
