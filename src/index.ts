export { defineProject, defineDashboard } from './core/config.js';
export type { ProjectConfig, SourceConfig, ModelConfig, CheckConfig, Rule, DashboardConfig } from './core/config.js';
export { defineGenerator, defineReplayer } from './core/modules.js';
export { defineJob } from './scheduler/definitions/index.js';
export type { TaskContext, TaskFunction, RunInterval, TemplateVars, JsonValue } from './scheduler/index.js';
export type { GeneratorDefinition, GeneratorContext, GeneratorResult, ReplayerDefinition, ReplayerContext } from './core/modules.js';
export { TributaryError } from './core/errors.js';
export { Engine, quoteIdent, quoteLiteral } from './engine/index.js';
