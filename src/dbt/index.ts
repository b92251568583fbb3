/**
 * The dbt adapter's surface: a dbt project folder read (`loadDbt`), rendered for a run
 * (`DbtSurface.render`) and its tests compiled to SQL (`DbtSurface.tests`). It knows dbt and
 * Jinja; it knows nothing of Tributary's runner, which takes what it renders as models.
 */
export { loadDbt, hasDbtProject, dbtReadText, type DbtAttachment, type DbtLoad, type ReadText } from './load.js';
export { DbtSurface, parseVars, seedSourceName, unitInputKey, type CompiledTest, type DbtRender, type RenderState } from './compile.js';
export { DBT_PROJECT_FILE, type DbtFixtureRows, type DbtUnitTest } from './project.js';
export { parseCsv } from './seeds.js';
export { QueryFailed, questionKey, Unanswered, type Answer } from './introspect.js';
