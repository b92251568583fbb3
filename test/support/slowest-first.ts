import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The test files that take longest, longest first (a fresh clone's CI of 748dec5, three at a time:
 * 415, 238, 231, 217, 199, 196, 196, 196 and 192 s of the 1,781 s run).
 */
const LONGEST = [
  'test/readme.test.ts',
  'test/dbt-project.test.ts',
  'examples/sparkify/test/sparkify.test.ts',
  'test/clone.test.ts',
  'test/scheduler.test.ts',
  'test/dbt-oracle.test.ts',
  'examples/customer-loyalty/test/live.test.ts',
  'test/cli.test.ts',
  'test/spool.test.ts',
];

/**
 * Starts the longest files first. A fresh clone has no timings of Vitest's own, and Vitest then
 * starts the largest files first: the README's commands, a small file that runs for minutes,
 * started last and ran alone at the end of the run. Files not named keep Vitest's order.
 */
export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = LONGEST.indexOf(relative(file.project.config.root, file.moduleId));
      return at < 0 ? LONGEST.length : at;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
