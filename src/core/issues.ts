import type { z } from 'zod';
import { redact } from './redact.js';

/**
 * What is wrong with a config value, in words a person acts on: where (the key, once), what was
 * expected (the allowed values of an enum, the kinds of a union) and what was given. zod's own
 * messages say "Invalid input" for a union, and name nothing that was allowed.
 */
export interface ConfigProblem {
  /** Dotted path of the key, e.g. `models.orders.materialize`; '' for the value itself. */
  key: string;
  message: string;
}

type Issue = z.core.$ZodIssue;

export function describeIssues(issues: readonly Issue[], input: unknown): ConfigProblem[] {
  return issues.map((issue) => describeIssue(issue, [], input));
}

/** Problems as one message: a single one as it is, several as a list under `what`. */
export function problemsText(problems: readonly ConfigProblem[], what: string): string {
  if (problems.length === 1) return problems[0]!.message;
  return `${what} has ${problems.length} problems:\n${problems.map((p) => `    ${p.key || '(the value)'}: ${p.message}`).join('\n')}`;
}

/** The problems of a request's input to `what` (a command, an operation), as one message naming each field. */
export function inputProblemsText(problems: readonly ConfigProblem[], what: string): string {
  const one = problems.length === 1 ? problems[0]! : undefined;
  return one ? `${what}: ${one.key ? `${one.key}: ` : ''}${one.message}` : problemsText(problems, `the input of ${what}`);
}

function describeIssue(issue: Issue, prefix: PropertyKey[], input: unknown): ConfigProblem {
  const path = [...prefix, ...issue.path];
  const got = valueAt(input, path);
  const key = path.map(String).join('.');
  switch (issue.code) {
    case 'invalid_type': {
      const expected = expectedType(issue);
      return { key, message: got === undefined ? `missing: expected ${expected}` : `expected ${expected}, got ${shown(got)}` };
    }
    case 'invalid_value':
      return { key, message: `expected ${oneOf(issue.values)}, got ${shown(got)}` };
    case 'unrecognized_keys':
      return { key, message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling` };
    case 'invalid_union':
      return describeUnion(issue, path, input, got);
    case 'invalid_key':
      // A name (a key of a record: a model's, a source's) that is refused; zod says only "Invalid key in record".
      return { key, message: `the name ${shown(path.at(-1))} is refused: ${issue.issues.map((i) => i.message).join('; ')}` };
    case 'too_small':
    case 'too_big':
      return { key, message: `${boundOf(issue)}${got === undefined || typeof got === 'object' ? '' : `, got ${shown(got)}`}` };
    default:
      return { key, message: `${issue.message}${got === undefined || typeof got === 'object' ? '' : `, got ${shown(got)}`}` };
  }
}

/**
 * A value that matched none of a union's shapes. When one shape got past its first level (the
 * value is an object of the right kind, say), its own problem is the one to show; otherwise every
 * shape the key accepts is listed.
 */
function describeUnion(issue: Extract<Issue, { code: 'invalid_union' }>, path: PropertyKey[], input: unknown, got: unknown): ConfigProblem {
  const key = path.map(String).join('.');
  if ('discriminator' in issue && issue.discriminator) {
    const options = (issue as { options?: unknown[] }).options ?? [];
    return { key, message: `expected ${oneOf(options)}, got ${shown(got)}` };
  }
  const branches = issue.errors;
  const deeper = branches.filter((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0 || i.code === 'invalid_union'));
  if (deeper.length === 1) return describeIssue(deeper[0]![0]!, path, input);
  const shapes = branches.map((branch) => shapeOf(branch)).filter((s): s is string => Boolean(s));
  return { key, message: `expected ${shapes.length ? shapes.join(', or ') : 'another value'}, got ${shown(got)}` };
}

/** What a union branch accepts, read from how it refused the value. */
function shapeOf(branch: readonly Issue[]): string | undefined {
  const first = branch[0];
  if (!first) return undefined;
  if (first.code === 'invalid_value') return oneOf(first.values);
  if (first.code === 'invalid_type') return expectedType(first);
  if (first.code === 'invalid_union' && 'discriminator' in first && first.discriminator) {
    return `an object with ${String(first.discriminator)}: ${oneOf((first as { options?: unknown[] }).options ?? [])}`;
  }
  if (first.code === 'invalid_union') return first.errors.map((b) => shapeOf(b)).filter(Boolean).join(', or ');
  return undefined;
}

function oneOf(values: readonly unknown[]): string {
  const shownValues = values.map((v) => shown(v));
  return shownValues.length === 1 ? shownValues[0]! : `one of ${shownValues.join(', ')}`;
}

/** A schema may word what it expects (a store: its kinds); zod's own words only name the type. */
function expectedType(issue: Extract<Issue, { code: 'invalid_type' }>): string {
  if (!/^Invalid input/.test(issue.message)) return issue.message;
  return issue.expected === 'int' ? 'a whole number' : article(issue.expected);
}

/** A bound a value crossed, in words; a schema's own message stands. */
function boundOf(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  if (!/^Too (small|big)/.test(issue.message)) return issue.message;
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  if (issue.origin === 'string' && small && bound === 1) return 'expected a non-empty string';
  const side = small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
  if (issue.origin === 'string') return `expected ${side} ${bound} character${bound === 1 ? '' : 's'}`;
  if (issue.origin === 'array' || issue.origin === 'set') return `expected ${side} ${bound} item${bound === 1 ? '' : 's'}`;
  if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') return `expected ${side} ${bound}`;
  return issue.message;
}

function article(type: string): string {
  // zod calls a map of names a record; in a config file it is written as an object.
  const word = type === 'record' ? 'object' : type;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  // A value may be a URL from the environment, with its password.
  if (typeof value === 'string') return `'${redact(value)}'`;
  if (value === null || typeof value !== 'object') return String(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const step of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[step];
  }
  return value;
}
