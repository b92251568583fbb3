export { materializations, modelMaterializations, streamMaterializations, materializationsFor, type BuiltinMaterialization } from './registry.js';
export { defineMaterialization, type BatchPolicy, type HistoryInput, type Materialization, type MaterializationComponent, type MaterializationContext, type MaterializationUse } from './types.js';
