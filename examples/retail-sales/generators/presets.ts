import type { RetailOptions } from './index.js';

/**
 * Named sizes. `sample` is what data/sample/ holds (committed, under 3 MB); `benchmark` is the
 * full-size month (30 million sales lines) for the project's benchmarks.
 */
export const PRESETS = {
  sample: {
    seed: 42,
    // A Friday-to-Sunday holiday weekend; the hold-out test day is the Sunday.
    start: '2024-12-06',
    days: 3,
    linesPerDay: 1500,
    stores: 2000,
    products: 5000,
    customers: 3000,
    sessionsPerDay: 900,
    streamLimits: { logLines: 600, orders: 300 },
  },
  benchmark: {
    seed: 42,
    start: '2024-11-01',
    days: 30,
    linesPerDay: 1_000_000,
    stores: 3000,
    products: 12_000,
    customers: 50_000,
    sessionsPerDay: 50_000,
  },
} satisfies Record<string, Omit<RetailOptions, 'out'>>;

export type PresetName = keyof typeof PRESETS;
