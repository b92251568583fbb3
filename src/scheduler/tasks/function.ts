import { z } from 'zod';
import { toJsonValue } from '../json.js';
import { TaskFailure, defineTaskComponent, type TaskContext } from './types.js';

/** What a project's task function looks like: `export async function load(ctx: TaskContext) { … }`. */
export type TaskFunction = (ctx: TaskContext) => unknown;

/** Calls a function exported by a project file, with the run's context; its return value is the result. */
export const functionTask = defineTaskComponent({
  kind: 'function',
  description: 'Call a typed TypeScript function exported from a project file',
  config: z.strictObject({
    /** Path relative to the project root, e.g. 'tasks/load.ts'. */
    module: z.string().min(1),
    export: z.string().min(1).default('default'),
  }),
  create: (config) => ({
    async run(ctx) {
      const module = await ctx.platform.importModule(config.module);
      const exported = module[config.export];
      if (typeof exported !== 'function') {
        const functions = Object.keys(module).filter((name) => typeof module[name] === 'function');
        throw new TaskFailure(
          `${config.module} has no function export '${config.export}' (function exports: ${functions.join(', ') || 'none'})`,
          { retryable: false },
        );
      }
      const value: unknown = await (exported as TaskFunction)(ctx);
      const result = toJsonValue(value);
      return result === undefined ? { status: 'success' } : { status: 'success', result };
    },
  }),
});
