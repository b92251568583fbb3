import { inputs, sources, stores, type InputComponent, type SourceComponent, type StoreComponent } from '../connectors/index.js';
import type { ComponentFamily } from '../core/component.js';
import { TributaryError } from '../core/errors.js';
import { modelMaterializations, streamMaterializations, type MaterializationComponent } from '../materializations/index.js';
import { checks, type CheckComponent } from '../quality/index.js';
import { tasks } from '../scheduler/definitions/index.js';
import type { TaskComponent } from '../scheduler/index.js';

/**
 * Every component a project can name, by family: Tributary's own and the project's. The project
 * schema is built from it (so its errors list a project's kinds too), and the runtime finds a
 * component in it by the kind a config names.
 */
export interface ComponentRegistry {
  readonly sources: readonly SourceComponent[];
  readonly inputs: readonly InputComponent[];
  readonly stores: readonly StoreComponent[];
  /** What a model's `materialize` may name. */
  readonly modelMaterializations: readonly MaterializationComponent[];
  /** What a stream table's `materialize` may name. */
  readonly streamMaterializations: readonly MaterializationComponent[];
  readonly checks: readonly CheckComponent[];
  readonly tasks: readonly TaskComponent[];
}

export const builtinComponents = {
  sources,
  inputs,
  stores,
  modelMaterializations,
  streamMaterializations,
  checks,
  tasks,
} as const satisfies ComponentRegistry;

/** A component of a project's own, as a `define…` function made it (its family stamped). */
type ProjectComponent = { readonly family: ComponentFamily; readonly kind: string; readonly config: unknown; readonly create: unknown };

const FAMILIES: Record<ComponentFamily, (keyof ComponentRegistry)[]> = {
  source: ['sources'],
  input: ['inputs'],
  store: ['stores'],
  materialization: ['modelMaterializations', 'streamMaterializations'],
  check: ['checks'],
  task: ['tasks'],
};

/**
 * Tributary's components with the project's own (`components` in its config) added. Each must
 * have been made by a `define…` function and must not reuse a kind of its family.
 */
export function registryWith(declared: unknown, configFile: string): ComponentRegistry {
  if (declared === undefined) return builtinComponents;
  const place = { file: configFile, field: 'components' };
  if (!Array.isArray(declared)) throw new TributaryError('components must be a list of components', { place, hint: 'components: [defineSource({ … }), defineTask({ … })]' });
  const registry: Record<keyof ComponentRegistry, unknown[]> = {
    sources: [...builtinComponents.sources],
    inputs: [...builtinComponents.inputs],
    stores: [...builtinComponents.stores],
    modelMaterializations: [...builtinComponents.modelMaterializations],
    streamMaterializations: [...builtinComponents.streamMaterializations],
    checks: [...builtinComponents.checks],
    tasks: [...builtinComponents.tasks],
  };
  declared.forEach((component: unknown, i) => {
    const c = component as Partial<ProjectComponent> | null;
    const where = { ...place, field: `components.${i}` };
    if (!c || typeof c !== 'object' || !c.family || !(c.family in FAMILIES) || typeof c.kind !== 'string' || !c.config || typeof c.create !== 'function') {
      throw new TributaryError('this is not a component', {
        place: where,
        hint: "make it with defineSource, defineInput, defineStore, defineMaterialization, defineCheck or defineTask from 'tributary'",
      });
    }
    let lists = FAMILIES[c.family];
    if (c.family === 'materialization') {
      const uses = (c as MaterializationComponent).usedBy;
      lists = lists.filter((l) => (l === 'modelMaterializations' ? uses.includes('model') : uses.includes('stream')));
    }
    for (const list of lists) {
      if ((registry[list] as { kind: string }[]).some((existing) => existing.kind === c.kind)) {
        throw new TributaryError(`a ${c.family} of kind '${c.kind}' already exists`, { place: where, hint: 'give your component a kind of its own (e.g. prefixed with your project or package name)' });
      }
      registry[list].push(c);
    }
  });
  return registry as unknown as ComponentRegistry;
}
