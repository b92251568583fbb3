import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/stream/stats.js';

describe('event-to-commit histogram', () => {
  it('counts each sample in the first bucket whose bound it does not exceed, cumulatively, and beyond the last bound only in the total', () => {
    const histogram = new LatencyHistogram([0.1, 0.5, 1]);
    for (const seconds of [0.02, 0.1, 0.3, 0.5, 0.75, 4]) histogram.add(seconds);
    const snapshot = histogram.snapshot();
    expect(snapshot.cumulative).toEqual([2, 4, 5]);
    expect(snapshot.count).toBe(6);
    expect(snapshot.sum).toBeCloseTo(5.67);
  });
});
