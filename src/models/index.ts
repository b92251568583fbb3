export { openWorkspace, type Workspace } from './workspace.js';
export { runModels, type RunOptions, type ModelResult } from './run.js';
export { planModels, compileModel, type CompiledModel } from './compile.js';
export { openScheduler, schedulerPlatform, selectModels, type ProjectScheduler } from './schedule.js';
