export { defineProject, defineDashboard } from './config/config.js';
export type { ProjectConfig, SourceConfig, ModelConfig, CheckConfig, Rule, DashboardConfig } from './config/config.js';
export { defineGenerator, defineReplayer } from './config/modules.js';
export { defineJob } from './scheduler/definitions/index.js';
export type { TaskContext, TaskFunction, RunInterval, TemplateVars, JsonValue } from './scheduler/index.js';
export type { GeneratorDefinition, GeneratorContext, GeneratorResult, ReplayerDefinition, ReplayerContext } from './config/modules.js';
export { TributaryError } from './core/errors.js';
export { Engine, quoteIdent, quoteLiteral } from './engine/index.js';

// Components: Tributary's own are made with these, and so are a project's (listed in its `components`).
// Their config schemas are zod schemas, made with the same zod Tributary validates with.
export { z } from 'zod';
export { defineSource, type SourceComponent, type SourceContext, type SourceScan, type RecordPlace, type RejectedRow } from './connectors/sources/types.js';
export { defineInput, type InputComponent, type InputContext, type StreamInput, type RecordSink } from './connectors/inputs/types.js';
export { defineStore, type Store, type StoreComponent, type StoreContext, type TableShape, type Staged, type StageRequest, type CommitUnit, type WriteMode } from './connectors/stores/types.js';
export { defineMaterialization, type Materialization, type MaterializationComponent, type MaterializationContext } from './materializations/index.js';
export { defineCheck, type Check, type CheckComponent } from './quality/index.js';
export { defineTaskComponent as defineTask } from './scheduler/tasks/types.js';
export type { TaskComponent, TaskRunner, TaskOutcome } from './scheduler/index.js';
