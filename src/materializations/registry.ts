import { appendMaterialization } from './append.js';
import { ephemeralMaterialization } from './ephemeral.js';
import { incrementalMaterialization } from './incremental.js';
import { lakeMaterialization } from './lake.js';
import { mergeMaterialization } from './merge.js';
import { snapshotMaterialization } from './snapshot.js';
import { tableMaterialization } from './table.js';
import type { MaterializationComponent } from './types.js';
import { viewMaterialization } from './view.js';

/**
 * Every materialisation Tributary ships, in one place. A model's `materialize` and a stream
 * table's `materialize` name one of these (or one a project registers); the runner asks it where
 * and how rows land.
 */
export const modelMaterializations = [tableMaterialization, lakeMaterialization, viewMaterialization, ephemeralMaterialization, incrementalMaterialization, snapshotMaterialization] as const;
export const streamMaterializations = [appendMaterialization, mergeMaterialization] as const;
export const materializations = [...modelMaterializations, ...streamMaterializations] as const;

export type BuiltinMaterialization = (typeof materializations)[number];

export function materializationsFor(list: readonly MaterializationComponent[], use: 'model' | 'stream'): MaterializationComponent[] {
  return list.filter((m) => m.usedBy.includes(use));
}
