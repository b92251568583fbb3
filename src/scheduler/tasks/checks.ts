import { z } from 'zod';
import { TaskFailure, defineTaskComponent } from './types.js';

const FAILURES_IN_MESSAGE = 10;

/** Runs the project's checks (all, or those of some tables); any failed check fails the task. */
export const checksTask = defineTaskComponent({
  kind: 'checks',
  description: "Run the project's checks, optionally only those of some tables",
  config: z.strictObject({
    tables: z.array(z.string().min(1)).min(1).optional(),
  }),
  create: (config) => ({
    async run(ctx) {
      const report = await ctx.platform.runChecks({
        ...(config.tables ? { tables: config.tables } : {}),
        interval: ctx.interval,
        signal: ctx.signal,
        log: ctx.log,
        origin: { job: ctx.job, task: ctx.task, runId: ctx.runId, runKind: ctx.runKind, attempt: ctx.attempt, attemptOffset: ctx.attemptOffset },
      });
      const summary = { passed: report.passed, failed: report.failures.length };
      if (report.failures.length > 0) {
        const listed = report.failures
          .slice(0, FAILURES_IN_MESSAGE)
          .map((failure) => `- ${failure.check}${failure.table ? ` on ${failure.table}` : ''}: ${failure.message}`);
        const more = report.failures.length - listed.length;
        throw new TaskFailure(
          `${report.failures.length} of ${report.passed + report.failures.length} checks failed for ${ctx.interval.ds}:\n${listed.join('\n')}${more > 0 ? `\n… and ${more} more` : ''}`,
        );
      }
      return { status: 'success', result: summary };
    },
  }),
});
