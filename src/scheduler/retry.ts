/** How long to wait before retrying a failed task attempt, and whether to retry at all. */

export type RetryBackoff = 'exponential' | 'fixed';

export interface RetryPolicy {
  /** Retries after the first attempt: 2 means at most 3 attempts. */
  retries: number;
  retryDelaySeconds: number;
  retryBackoff: RetryBackoff;
  maxRetryDelaySeconds: number;
  /** 0–1: the share of the delay that may be taken off at random, so retries of many tasks spread out. */
  retryJitter: number;
}

export type RetryPolicyOverrides = { [K in keyof RetryPolicy]?: RetryPolicy[K] | undefined };

/** A task's own settings win over its job's defaults. */
export function resolveRetryPolicy(jobDefaults: RetryPolicy, task: RetryPolicyOverrides): RetryPolicy {
  return {
    retries: task.retries ?? jobDefaults.retries,
    retryDelaySeconds: task.retryDelaySeconds ?? jobDefaults.retryDelaySeconds,
    retryBackoff: task.retryBackoff ?? jobDefaults.retryBackoff,
    maxRetryDelaySeconds: task.maxRetryDelaySeconds ?? jobDefaults.maxRetryDelaySeconds,
    retryJitter: task.retryJitter ?? jobDefaults.retryJitter,
  };
}

/** `failedAttempts` counts the attempts of this try so far, all failed (1 after the first failure). */
export function shouldRetry(policy: RetryPolicy, failedAttempts: number): boolean {
  return failedAttempts <= policy.retries;
}

/**
 * Delay before the next attempt after the `failedAttempts`-th failure: base × 2^(n−1) (exponential) or base
 * (fixed), capped at maxRetryDelaySeconds, then shortened by up to `retryJitter` of itself. `random` returns
 * a number in [0, 1); inject a seeded one for deterministic delays.
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const baseMs = policy.retryDelaySeconds * 1000;
  const exponent = Math.max(0, failedAttempts - 1);
  const uncapped = policy.retryBackoff === 'exponential' ? baseMs * 2 ** exponent : baseMs;
  const capped = Math.min(uncapped, policy.maxRetryDelaySeconds * 1000);
  return Math.round(capped * (1 - policy.retryJitter * random()));
}
