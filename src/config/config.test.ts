import { describe, expect, it } from 'vitest';
import { projectSchema } from './config.js';

const rowGroupIssues = (rowGroupSize: unknown) => {
  const parsed = projectSchema.safeParse({ name: 'p', engine: { rowGroupSize } });
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('engine.rowGroupSize', () => {
  it('takes a multiple of 2048 up to DuckDB’s own 122880', () => {
    expect(rowGroupIssues(30_720)).toEqual([]);
    expect(rowGroupIssues(122_880)).toEqual([]);
  });

  it('refuses, before DuckDB would, a size it cannot use, saying what it takes', () => {
    expect(rowGroupIssues(1000)).toContain("engine.rowGroupSize: a multiple of 2048, DuckDB's vector size (30720, 61440, 122880)");
    expect(rowGroupIssues(245_760)).toEqual(["engine.rowGroupSize: at most 122880, DuckDB's own size: larger groups need a newer storage version than the warehouse file's"]);
    expect(rowGroupIssues(0).length).toBeGreaterThan(0);
  });
});
