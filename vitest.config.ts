import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The package's own names, as a project that installed it imports them.
    alias: [
      { find: /^tributary$/, replacement: new URL('./src/index.ts', import.meta.url).pathname },
      { find: /^tributary\/testing$/, replacement: new URL('./src/testing.ts', import.meta.url).pathname },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'examples/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // A cap against hangs, not a performance assertion: CLI tests spawn real processes.
    testTimeout: 120_000,
    // Vitest runs one file at a time on a 2-core machine (CPUs − 1); the tests mostly wait on the
    // processes and services they start. Three files at once: the whole suite in a fresh clone took
    // 1,433 s (584 tests, all passed) against 1,916 s with two.
    maxWorkers: 3,
    hookTimeout: 120_000,
    // expect.poll waits for something to happen (a push, a render); under a loaded CI machine that
    // can take seconds. A deadline against hangs, not a performance assertion.
    expect: { poll: { timeout: 15_000 } },
  },
});
