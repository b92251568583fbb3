import { describe, expect, it } from 'vitest';
import { replay } from '../src/stream/replay.js';
import { LatencyHistogram, LatencyWindow } from '../src/stream/stats.js';

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

describe('replay at a rate', () => {
  it('catches up on its schedule in sends no larger than the collector takes', async () => {
    const sizes: number[] = [];
    // A rate no sender keeps up with: every send after the first is catching up.
    const sent = await replay({
      next: (count) => Array.from({ length: count }, () => '{}'),
      bursts: { minEvents: 1, maxEvents: 1, minMs: 0, maxMs: 0 },
      rate: 100_000_000,
      count: 120_000,
      maxPerSend: 50_000,
      send: async (events) => {
        sizes.push(events.length);
      },
    });
    expect(sent).toBe(120_000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(120_000);
    expect(Math.max(...sizes)).toBe(50_000);
  });
});

describe('latency window', () => {
  it('answers percentiles over its most recent samples, and a sample added after a question changes the next answer', () => {
    const window = new LatencyWindow(4);
    for (const ms of [900, 10, 30, 20]) window.add(ms);
    expect([window.percentile(50), window.percentile(99)]).toEqual([30, 900]);
    // The ring drops 900, its oldest.
    window.add(40);
    expect([window.percentile(50), window.percentile(99)]).toEqual([30, 40]);
  });
});
