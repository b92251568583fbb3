import type { ModelConfig } from '../core/config.js';
import { TributaryError } from '../core/errors.js';
import type { Project } from '../core/project.js';

const REFERENCE = /\{\{\s*(ref|source)\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)\s*\}\}/g;

export interface CompiledModel {
  name: string;
  config: ModelConfig;
  /** SQL with `{{ ref('x') }}` and `{{ source('x') }}` placeholders still in it. */
  template: string;
  refs: string[];
  sources: string[];
}

export function compileModel(project: Project, name: string): CompiledModel {
  const config = project.config.models[name];
  if (!config) {
    throw new TributaryError(`no model named '${name}'`, {
      hint: `models in this project: ${Object.keys(project.config.models).join(', ') || '(none)'}`,
    });
  }
  const template = project.readText(config.sql, `models.${name}.sql`).trim().replace(/;\s*$/, '');
  const refs = new Set<string>();
  const sources = new Set<string>();
  for (const match of template.matchAll(REFERENCE)) (match[1] === 'ref' ? refs : sources).add(match[2]!);
  for (const source of sources) {
    if (!project.config.sources[source]) {
      throw new TributaryError(`model '${name}' reads source('${source}'), which is not declared`, {
        place: { file: project.configFile, field: `models.${name}.sql` },
        hint: `declared sources: ${Object.keys(project.config.sources).join(', ') || '(none)'}`,
      });
    }
  }
  return { name, config, template, refs: [...refs], sources: [...sources] };
}

export function renderModel(model: CompiledModel, resolve: (kind: 'ref' | 'source', name: string) => string): string {
  return model.template.replace(REFERENCE, (_all, kind: 'ref' | 'source', ref: string) => resolve(kind, ref));
}

/**
 * Orders models so each runs after what it reads. With `selected`, runs just those, still in
 * dependency order. Refs to tables outside the project (crawled ones) are allowed.
 */
export function planModels(project: Project, selected?: string[]): CompiledModel[] {
  const all = new Map(Object.keys(project.config.models).map((n) => [n, compileModel(project, n)]));
  const ordered: CompiledModel[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    const model = all.get(name);
    if (!model || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new TributaryError(`models depend on each other in a cycle: ${[...path, name].join(' → ')}`, {
        place: { file: project.configFile },
        hint: 'break the cycle: a model cannot read, directly or indirectly, its own output',
      });
    }
    state.set(name, 'visiting');
    for (const ref of model.refs) visit(ref, [...path, name]);
    state.set(name, 'done');
    ordered.push(model);
  };
  for (const name of all.keys()) visit(name, []);
  if (!selected?.length) return ordered;
  for (const name of selected) if (!all.has(name)) compileModel(project, name);
  return ordered.filter((m) => selected.includes(m.name));
}
