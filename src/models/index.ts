export { runModels, RunFailed, describeInterval, type RunOptions, type ModelResult } from './run.js';
export { compileProject, materializationComponent, materializationContext, ProjectPlan, streamTables, type ModelPlan, type Placement, type Relations } from './plan.js';
export { selectModels } from './select.js';
