/**
 * The one list of task kinds. A kind is a component file in this folder; adding one means adding it here,
 * and the job schema's task union (a discriminated union on `kind`) follows.
 */
import { z } from 'zod';
import { taskCommonShape } from '../definitions/task.js';
import { checksTask } from './checks.js';
import { compactTask } from './compact.js';
import { functionTask } from './function.js';
import { modelsTask } from './models.js';
import { notifyTask } from './notify.js';
import { reconcileTask } from './reconcile.js';
import { sensorTask } from './sensor.js';
import { shellTask } from './shell.js';
import type { TaskComponent } from './types.js';

/** The task kinds the scheduler ships; a project may add its own (they join the job schema and the lookup). */
export const tasks = [modelsTask, checksTask, compactTask, sensorTask, reconcileTask, notifyTask, functionTask, shellTask] as const;

/**
 * Each option is a kind's config plus `kind` and the fields every task has. Written out per kind (not
 * mapped over a list) so that TypeScript keeps each option's exact type; safeExtend keeps refinements.
 */
export const taskSchema = z.discriminatedUnion('kind', [
  modelsTask.config.safeExtend({ kind: z.literal(modelsTask.kind), ...taskCommonShape }),
  checksTask.config.safeExtend({ kind: z.literal(checksTask.kind), ...taskCommonShape }),
  compactTask.config.safeExtend({ kind: z.literal(compactTask.kind), ...taskCommonShape }),
  sensorTask.config.safeExtend({ kind: z.literal(sensorTask.kind), ...taskCommonShape }),
  reconcileTask.config.safeExtend({ kind: z.literal(reconcileTask.kind), ...taskCommonShape }),
  notifyTask.config.safeExtend({ kind: z.literal(notifyTask.kind), ...taskCommonShape }),
  functionTask.config.safeExtend({ kind: z.literal(functionTask.kind), ...taskCommonShape }),
  shellTask.config.safeExtend({ kind: z.literal(shellTask.kind), ...taskCommonShape }),
]);
export type Task = z.output<typeof taskSchema>;
export type TaskInput = z.input<typeof taskSchema>;
export type TaskKind = Task['kind'];

if (tasks.length !== taskSchema.options.length) throw new Error('registry.ts: the components list and the task union list different kinds');

/** The task union over a list of kinds (the shipped ones and a project's own): typed as the shipped union, checked at run time against the list. */
export function taskSchemaFor(list: readonly TaskComponent[]): typeof taskSchema {
  for (const component of list) {
    const shadowed = Object.keys(component.config.shape).filter((field) => field === 'kind' || Object.hasOwn(taskCommonShape, field));
    if (shadowed.length > 0) throw new Error(`task kind '${component.kind}' redefines common task fields: ${shadowed.join(', ')}`);
  }
  if (list === tasks) return taskSchema;
  return z.discriminatedUnion(
    'kind',
    list.map((c) => c.config.safeExtend({ kind: z.literal(c.kind), ...taskCommonShape })) as unknown as typeof taskSchema.options,
    {
      error: (issue) =>
        issue.code === 'invalid_union' && 'options' in issue ? `expected kind to be one of ${(issue.options as unknown[]).map((o) => `'${String(o)}'`).join(', ')}` : undefined,
    },
  ) as unknown as typeof taskSchema;
}

export function taskComponent(kind: string, list: readonly TaskComponent[] = tasks): TaskComponent {
  const component = list.find((c) => c.kind === kind);
  if (!component) throw new Error(`unknown task kind '${kind}' (kinds: ${list.map((c) => c.kind).join(', ')})`);
  return component;
}

export function taskKinds(list: readonly TaskComponent[] = tasks): Array<{ kind: string; description: string }> {
  return list.map(({ kind, description }) => ({ kind, description }));
}
