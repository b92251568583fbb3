import type { CommandIO } from '../../src/commands/types.js';

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
