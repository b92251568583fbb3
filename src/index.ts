export { defineProject, defineDashboard } from './config/config.js';
export type { ProjectConfig, SourceConfig, ModelConfig, CheckConfig, Rule, DashboardConfig } from './config/config.js';
export { defineGenerator, defineReplayer } from './config/modules.js';
export { defineJob } from './scheduler/definitions/index.js';
export type { TaskContext, TaskFunction } from './scheduler/index.js';
export type { GeneratorDefinition, GeneratorContext, GeneratorResult, ReplayerDefinition, ReplayerContext } from './config/modules.js';
export { TributaryError } from './core/errors.js';
export { Engine, quoteIdent, quoteLiteral } from './engine/index.js';
