import { projectSchemaFor } from './config.js';
import type { Project } from './project.js';
import { dbtReadText, type RenderState } from '../dbt/index.js';

/**
 * The project as one run sees it: every dbt model rendered for what the warehouse holds now (an
 * incremental model that exists renders with is_incremental() true and adds to its table; with
 * --full-refresh, or on its first run, it is built whole).
 */
export function renderForRun(project: Project, state: RenderState): Project {
  const dbt = project.dbt;
  if (!dbt) return project;
  const render = dbt.surface.render(state);
  const raw = { ...dbt.raw, models: { ...(dbt.raw.models as object), ...render.models }, sources: { ...(dbt.raw.sources as object), ...render.sources } };
  const config = projectSchemaFor(project.components).projectSchema.parse(raw) as Project['config'];
  return { ...project, config, dbt: { ...dbt, sql: render.sql, relations: render.relations, hooks: render.hooks, failed: render.failed }, readText: dbtReadText(render.sql, project.readText) };
}
