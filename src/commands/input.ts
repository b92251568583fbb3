import path from 'node:path';
import { z } from 'zod';
import { TributaryError } from '../core/errors.js';
import { isCalendarDay } from '../core/interval.js';
import { PLAIN_IDENTIFIER } from '../engine/sql.js';
import { describeIssues, inputProblemsText } from '../core/issues.js';
import type { OutputFormat } from './output.js';
import type { CommandDeclaration } from './types.js';

/**
 * The fields commands share, declared once: a client of the server's API gets the same checks,
 * words and defaults as the CLI's flags.
 */
export const format = z.enum(['table', 'csv', 'json'] satisfies OutputFormat[]).default('table');
/** Selectors as `--select` takes them (`orders+`, `tag:daily`…). */
export const selectors = z.array(z.string().min(1)).optional();
/** How many rows or runs to show. */
export const limit = (byDefault: number) => z.number().int().min(0).default(byDefault);
export const threads = z.number().int().min(1).max(1024).optional();
export const day = z.string().refine(isCalendarDay, 'expected a day of the calendar like 2019-11-05');
/** A name the command looks up (a table, a job, a run). */
export const name = z.string().min(1);
/** The name of a table the command makes: one that SQL and ref() reach without quoting. */
export const newTableName = z.string().regex(PLAIN_IDENTIFIER, 'expected a table name of letters, digits and _, not starting with a digit');
/**
 * A path on the machine that runs the command. The CLI makes paths absolute before it sends them:
 * a server has a working folder of its own, so a relative path would name another file there.
 */
export const absolutePath = z.string().refine((p) => path.isAbsolute(p), 'expected an absolute path (the command may run in a server with another working folder)');

/** A command was given an input it does not take: a usage error (the CLI exits 2, the server answers 400). */
export class CommandInputError extends TributaryError {}

/** The input a command was given, checked against what it declares: an error names each field that is wrong. */
export function commandInput<Input extends z.ZodType>(spec: CommandDeclaration<Input>, input: unknown): z.output<Input> {
  const parsed = spec.input.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new CommandInputError(inputProblemsText(describeIssues(parsed.error.issues, input), spec.name), {
    hint: 'each field is one of the command’s options (`tributary help COMMAND`), named in camelCase over HTTP: --full-refresh is fullRefresh',
  });
}
