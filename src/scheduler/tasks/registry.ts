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

const components: ReadonlyMap<string, TaskComponent> = new Map(
  [modelsTask, checksTask, compactTask, sensorTask, reconcileTask, notifyTask, functionTask, shellTask].map((component): [string, TaskComponent] => [
    component.kind,
    component,
  ]),
);

if (components.size !== taskSchema.options.length) throw new Error('registry.ts: the components list and the task union list different kinds');
for (const component of components.values()) {
  const shadowed = Object.keys(component.config.shape).filter((field) => field === 'kind' || Object.hasOwn(taskCommonShape, field));
  if (shadowed.length > 0) throw new Error(`task kind '${component.kind}' redefines common task fields: ${shadowed.join(', ')}`);
}

export function taskComponent(kind: string): TaskComponent {
  const component = components.get(kind);
  if (!component) throw new Error(`unknown task kind '${kind}' (kinds: ${[...components.keys()].join(', ')})`);
  return component;
}

export function taskKinds(): Array<{ kind: string; description: string }> {
  return [...components.values()].map(({ kind, description }) => ({ kind, description }));
}
