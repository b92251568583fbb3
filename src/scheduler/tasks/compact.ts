import { z } from 'zod';
import { defineTaskComponent } from './types.js';

/**
 * Compacts lake tables: each partition's small files become one. A stream commits a file per
 * micro-batch and partition, so a table it writes gains thousands of files a day, and every read
 * of it pays for each; a compaction every few minutes keeps it to a few per partition.
 */
export const compactTask = defineTaskComponent({
  kind: 'compact',
  description: "Rewrite each partition's small files of lake tables as one, atomically, while streams keep writing",
  config: z.strictObject({
    tables: z.array(z.string().min(1)).min(1),
  }),
  create: (config) => ({
    async run(ctx) {
      const reports = await ctx.platform.compactTables({
        tables: config.tables,
        signal: ctx.signal,
        log: ctx.log,
        origin: { job: ctx.job, task: ctx.task, runId: ctx.runId, runKind: ctx.runKind, attempt: ctx.attempt, attemptOffset: ctx.attemptOffset },
      });
      for (const r of reports) ctx.log(`${r.table}: ${r.partitions} partition(s) compacted, ${r.filesBefore} → ${r.filesAfter} files`);
      return { status: 'success', result: reports.map((r) => ({ ...r })) };
    },
  }),
});
