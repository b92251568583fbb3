export { defineProject, defineDashboard } from './core/config.js';
export type { ProjectConfig, SourceConfig, ModelConfig, CheckConfig, Rule, DashboardConfig } from './core/config.js';
