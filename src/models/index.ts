export { runModels, RunFailed, describeInterval, type RunOptions, type ModelResult, type ModelHooks } from './run.js';
export { compileProject, materializationComponent, materializationContext, ProjectPlan, streamTables, type ModelPlan, type Placement, type Relations } from './plan.js';
export { selectModels } from './select.js';
export { columnLineage, type ColumnOrigin, type Derivation, type ModelColumns, type UpstreamColumn } from './column-lineage.js';
