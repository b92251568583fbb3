import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * An error a person can act on: where it happened (file, line, field), what was expected, and
 * what to do next. The CLI prints these without a stack trace.
 */
export interface ErrorPlace {
  file?: string;
  line?: number;
  field?: string;
}

export class TributaryError extends Error {
  readonly place: ErrorPlace;
  readonly hint: string | undefined;

  constructor(message: string, options: { place?: ErrorPlace; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TributaryError';
    this.place = options.place ?? {};
    this.hint = options.hint;
  }

  /** "file:line field: message\n  → hint" */
  format(): string {
    const { file, line, field } = this.place;
    const where = [file && (line ? `${file}:${line}` : file), field && `field ${field}`].filter(Boolean).join(' ');
    return `${where ? `${where}: ` : ''}${this.message}${this.hint ? `\n  → ${this.hint.split('\n').join('\n  → ')}` : ''}`;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof TributaryError) return error.format();
  const message = error instanceof Error ? error.message : String(error);
  return isDiskFull(message) ? `${message}\n  → ${diskFullHint()}` : message;
}

/** The system's words for a full disk, from Node (ENOSPC) or the engine. */
export function isDiskFull(message: string): boolean {
  return /No space left on device|ENOSPC/.test(message);
}

/** What to do about a full disk, wherever a command met it; `done`: what the command did about it. */
export function diskFullHint(done?: string): string {
  return `the disk is full${done ? `; ${done}` : ''}: free space on it (the disk of the path named, or of the data folder), or give --data-dir a larger disk, then run the command again`;
}

/** A file as a message shows it: relative to `base` (the project, a source's folder) when inside it, else whole. */
export function shownPath(file: string, base: string): string {
  const relative = path.relative(base, file);
  return relative.startsWith('..') ? file : relative;
}

/** A declared column whose type the engine does not know (with its reason), named at its field with the types to declare. */
export function unknownTypeError(column: { type: string; problem: string }, place: ErrorPlace & { field: string }, declaredIn?: string): TributaryError {
  return new TributaryError(`'${column.type}' is no type the engine knows (${column.problem})`, {
    place,
    hint: `declare a DuckDB type, e.g. BIGINT, INTEGER, DOUBLE, DECIMAL(10,2), VARCHAR, BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ or JSON${declaredIn ? `, ${declaredIn}` : ''}`,
  });
}

/** Why work was stopped, as its abort said it (a timeout, Ctrl+C, a client gone). */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.name !== 'AbortError' ? reason.message : typeof reason === 'string' ? reason : 'asked to stop';
}

/**
 * Makes a folder Tributary writes to (and its parents), or fails saying which path stands in the
 * way: Node names the folder asked for, while the cause is its nearest existing ancestor (a file
 * where a folder should be, or a folder that cannot be written).
 */
export function makeFolder(dir: string, role: string, hint: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let existing = dir;
    while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
    const why =
      existsSync(existing) && !statSync(existing).isDirectory()
        ? `${existing} is a file, not a folder`
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `${existing} cannot be written (${code === 'EROFS' ? 'a read-only file system' : 'no permission'})`
          : errorMessage(error);
    throw new TributaryError(`cannot make ${role} ${dir}: ${why}`, { hint, cause: error });
  }
}
