import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssues, inputProblemsText } from './issues.js';

const problems = (schema: z.ZodType, value: unknown) => {
  const parsed = schema.safeParse(value);
  if (parsed.success) throw new Error(`${JSON.stringify(value)} passed`);
  return describeIssues(parsed.error.issues, value);
};

describe('problems in words a person acts on', () => {
  it('says a bound as a bound, in the value’s own terms, and keeps a schema’s own message', () => {
    const cases: [z.ZodType, unknown, string][] = [
      [z.string().min(1), '', "expected a non-empty string, got ''"],
      [z.string().max(3), 'abcd', "expected at most 3 characters, got 'abcd'"],
      [z.number().int().min(1), 0, 'expected at least 1, got 0'],
      [z.number().gt(0), 0, 'expected more than 0, got 0'],
      [z.number().max(5), 9, 'expected at most 5, got 9'],
      [z.array(z.string()).min(2), ['a'], 'expected at least 2 items'],
      [z.number().int(), 2.5, 'expected a whole number, got 2.5'],
      [z.string().trim().min(1, 'expected a query'), '  ', "expected a query, got '  '"],
    ];
    for (const [schema, value, message] of cases) expect(problems(schema, value)).toEqual([{ key: '', message }]);
  });

  it('names the field of a request’s input, each of several on its own line', () => {
    const schema = z.strictObject({ limit: z.number().int().min(0), format: z.enum(['table', 'json']) });
    expect(inputProblemsText(problems(schema, { limit: -1, format: 'json' }), 'runs')).toBe('runs: limit: expected at least 0, got -1');
    expect(inputProblemsText(problems(schema, { limt: 5 }), 'runs')).toBe(
      "the input of runs has 3 problems:\n    limit: missing: expected a number\n    format: expected one of 'table', 'json', got nothing\n    (the value): unknown key `limt`: remove it or check the spelling",
    );
  });

  it('names a refused name (a record key) and says why, where zod says only "Invalid key in record"', () => {
    const schema = z.strictObject({ models: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'expected a lower-case SQL identifier'), z.number()) });
    expect(problems(schema, { models: { ok: 1, 'daily-revenue': 2 } })).toEqual([{ key: 'models.daily-revenue', message: "the name 'daily-revenue' is refused: expected a lower-case SQL identifier" }]);
  });
});
