import { z } from 'zod';
import { toJsonValue } from '../json.js';
import { defineTaskComponent } from './types.js';

/** Runs a selection of the project's models for the run's data interval. */
export const modelsTask = defineTaskComponent({
  kind: 'models',
  description: "Run a selection of the project's models for the run's data interval",
  config: z.strictObject({
    /** Model selectors in the platform's syntax: names, 'orders+' (with downstream), 'tag:daily', '*'. */
    select: z.array(z.string().min(1)).min(1),
    exclude: z.array(z.string().min(1)).default([]),
    fullRefresh: z.boolean().default(false),
  }),
  create: (config) => ({
    async run(ctx) {
      const summary = await ctx.platform.runModels({
        select: config.select,
        exclude: config.exclude,
        fullRefresh: config.fullRefresh,
        interval: ctx.interval,
        signal: ctx.signal,
        log: ctx.log,
        origin: { job: ctx.job, task: ctx.task, runId: ctx.runId, runKind: ctx.runKind, attempt: ctx.attempt, attemptOffset: ctx.attemptOffset },
      });
      const result = toJsonValue(summary);
      return result === undefined ? { status: 'success' } : { status: 'success', result };
    },
  }),
});
