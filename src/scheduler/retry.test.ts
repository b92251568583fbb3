import { describe, expect, it } from 'vitest';
import { resolveRetryPolicy, retryDelayMs, shouldRetry, type RetryPolicy } from './retry.js';

const policy: RetryPolicy = { retries: 3, retryDelaySeconds: 10, retryBackoff: 'exponential', maxRetryDelaySeconds: 35, retryJitter: 0 };

describe('retry delays', () => {
  it('doubles from the base and caps', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(policy, attempt))).toEqual([10_000, 20_000, 35_000, 35_000]);
  });

  it('stays fixed with fixed backoff', () => {
    expect([1, 2, 3].map((attempt) => retryDelayMs({ ...policy, retryBackoff: 'fixed' }, attempt))).toEqual([10_000, 10_000, 10_000]);
  });

  it('takes up to the jitter share off, deterministically for a given random source', () => {
    const jittered = { ...policy, retryJitter: 0.5 };
    expect(retryDelayMs(jittered, 1, () => 0)).toBe(10_000);
    expect(retryDelayMs(jittered, 1, () => 0.5)).toBe(7_500);
    expect(retryDelayMs(jittered, 2, () => 0.999)).toBe(10_010);
  });

  it('retries while failed attempts ≤ retries; task settings override job defaults', () => {
    expect([1, 2, 3, 4].map((failed) => shouldRetry(policy, failed))).toEqual([true, true, true, false]);
    expect(resolveRetryPolicy(policy, { retries: 0, retryDelaySeconds: undefined })).toEqual({ ...policy, retries: 0 });
  });
});
