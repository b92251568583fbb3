/** The one way the scheduler waits, so tests can drive time by hand (see ManualClock in testing.ts). */
export interface Timers {
  /** Calls `callback` once after `delayMs` (≤ 0: as soon as possible, never synchronously); returns a cancel function. */
  schedule(callback: () => void, delayMs: number): () => void;
}

/** setTimeout cannot wait longer than 2^31−1 ms; a longer wait wakes early and the caller re-arms. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export const realTimers: Timers = {
  schedule(callback, delayMs) {
    const handle = setTimeout(callback, Math.min(Math.max(delayMs, 0), MAX_TIMER_DELAY_MS));
    return () => clearTimeout(handle);
  },
};
