import type { CommandContext, CommandIO } from '../../src/commands/types.js';
import { openScheduler } from '../../src/owner/scheduler.js';
import type { Workspace } from '../../src/state/workspace.js';

/** A command's output and messages, kept for assertions (what the CLI would print). */
export interface CapturedIO {
  io: CommandIO;
  out: string[];
  err: string[];
}

export function captureIO(): CapturedIO {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = {
    tty: false,
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    progress: () => ({ update: () => undefined, done: () => undefined }),
  };
  return { io, out, err };
}

/** What the CLI hands a command: the workspace, the output, and a scheduler it may open when no server has one. */
export function commandContext(ws: Workspace, io: CommandIO): CommandContext {
  return { ws, io, openScheduler: (options) => openScheduler(ws, options) };
}
