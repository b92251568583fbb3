/** What `bench/run.ts` hands every suite. */
export interface SuiteContext {
  /** The repository root. */
  root: string;
  /** Generated inputs and scratch space (gitignored). */
  dataDir: string;
  /** Where suites write their .md, .svg and .json reports. */
  resultsDir: string;
  log: (line: string) => void;
}

export interface Suite {
  name: string;
  description: string;
  run(context: SuiteContext): Promise<void>;
}

export const MB = 1_000_000;

export function formatSeconds(seconds: number): string {
  return seconds >= 100 ? seconds.toFixed(0) : seconds.toFixed(1);
}

/** A positive integer from the environment (underscores allowed: 1_000_000), or the fallback. */
export function positiveIntegerEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (!value) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${value}'`);
  return n;
}
