import type { ModelConfig } from '../core/config.js';
import { TributaryError } from '../core/errors.js';
import type { Project } from '../core/project.js';
import type { Engine } from '../engine/index.js';
import { parseSqlTree, printSqlTree, quoteIdent, type SqlNode } from '../engine/index.js';

const REFERENCE = /\{\{\s*(ref|source)\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)\s*\}\}/g;

export interface CompiledModel {
  name: string;
  config: ModelConfig;
  /** SQL with `{{ ref('x') }}` and `{{ source('x') }}` placeholders still in it. */
  template: string;
  refs: string[];
  sources: string[];
}

/** Tables a project's stream jobs keep, by name: a model may read them with ref(). */
export function streamTables(project: Project): Map<string, string> {
  const out = new Map<string, string>();
  for (const [job, stream] of Object.entries(project.config.streams)) {
    for (const sink of Object.values(stream.sinks)) for (const table of Object.keys(sink.tables)) out.set(table, job);
  }
  return out;
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
  const streamed = new Set([...Object.values(project.config.streams)].map((s) => s.binds));
  for (const source of sources) {
    if (!project.config.sources[source] && !streamed.has(source)) {
      throw new TributaryError(`model '${name}' reads source('${source}'), which is not declared`, {
        place: { file: project.configFile, field: `models.${name}.sql` },
        hint: `declared sources: ${Object.keys(project.config.sources).join(', ') || '(none)'}; streams bind: ${[...streamed].join(', ') || '(none)'}`,
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
 * dependency order. A ref must name a model, a table a stream job keeps, or a table the catalog
 * already has (a crawled one): checked here, before anything runs.
 */
export function planModels(project: Project, selected?: string[], known: ReadonlySet<string> = new Set()): CompiledModel[] {
  const all = new Map(Object.keys(project.config.models).map((n) => [n, compileModel(project, n)]));
  const streamed = streamTables(project);
  for (const model of all.values()) {
    for (const ref of model.refs) {
      if (!all.has(ref) && !streamed.has(ref) && !known.has(ref)) {
        throw new TributaryError(`model '${model.name}' reads ref('${ref}'), which is no model, no stream table and no table in the catalog`, {
          place: { file: project.configFile, field: `models.${model.name}.sql` },
          hint: `models: ${[...all.keys()].join(', ')}${streamed.size ? `; stream tables: ${[...streamed.keys()].join(', ')}` : ''}; crawl external tables first with \`tributary crawl\``,
        });
      }
      const materialize = project.config.models[ref]?.materialize;
      if (typeof materialize === 'object') {
        throw new TributaryError(`model '${model.name}' reads ref('${ref}'), which is written to ${materialize.kind === 'postgres' ? 'PostgreSQL' : 'MySQL'}, where the engine does not read`, {
          place: { file: project.configFile, field: `models.${model.name}.sql` },
          hint: `keep '${ref}' in the lake or a table and read that; publish it to ${materialize.kind === 'postgres' ? 'PostgreSQL' : 'MySQL'} with a second model, SELECT * FROM {{ ref('${ref}') }}`,
        });
      }
    }
  }
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

/** A ref names a built table, or inlines an ephemeral model's SQL. */
export function refRelation(project: Project, name: string, sourceRelation?: (name: string) => string): string {
  const target = project.config.models[name];
  if (target?.materialize !== 'ephemeral') return quoteIdent(name);
  return `(${renderModel(compileModel(project, name), (kind, ref) => (kind === 'ref' ? refRelation(project, ref, sourceRelation) : (sourceRelation?.(ref) ?? quoteIdent(ref))))})`;
}

type Node = SqlNode;

/**
 * Makes columns of a source travel through a model that reads it, so a load may project and
 * rename freely while the rows it diverts (rule verdicts, file and line) stay identifiable.
 *
 * Works on DuckDB's parse tree of the model, where the source is the table `placeholder`: every
 * SELECT on the way from the source to the result gains the columns (unless a `*` already brings
 * them), and the tree is printed back as SQL. A SELECT that groups, aggregates or picks distinct
 * rows on that way cannot keep every row, and is refused with what to do.
 */
export async function carrySourceColumns(engine: Engine, sql: string, placeholder: string, columns: readonly string[], model: string): Promise<string> {
  const tree = await parseSqlTree(engine, sql);
  if (tree.error || tree.statements?.length !== 1) {
    throw new TributaryError(`model '${model}' must be one SELECT statement: ${String(tree.error_message ?? 'it has several')}`, { hint: 'a model is a single query' });
  }
  const refuse = (why: string) => {
    throw new TributaryError(`model '${model}' reads a source, so it must keep every row, but ${why}`, {
      hint: 'a load may project, rename, cast and derive columns; filter, join or aggregate in a downstream model that reads it with ref()',
    });
  };
  const carriers = new Set<string>([placeholder.toLowerCase()]);
  let changed = false;
  /** Returns the alias the source's columns are reached by in `node`, or undefined when it does not read the source. */
  const fromAlias = (ref: Node | null | undefined): string | undefined => {
    if (!ref) return undefined;
    if (ref.type === 'BASE_TABLE' && carriers.has(String(ref.table_name).toLowerCase())) return String(ref.alias || ref.table_name);
    if (ref.type === 'SUBQUERY') return query((ref.subquery as { node: Node }).node) ? String(ref.alias) : undefined;
    if (ref.type === 'JOIN') {
      const left = fromAlias(ref.left as Node);
      const right = fromAlias(ref.right as Node);
      if (left && right) refuse('it joins the source with itself');
      return left ?? right;
    }
    return undefined;
  };
  const query = (node: Node): boolean => {
    for (const entry of ((node.cte_map as { map?: { key: string; value: { query: { node: Node } } }[] } | undefined)?.map ?? [])) {
      if (query(entry.value.query.node)) carriers.add(entry.key.toLowerCase());
    }
    if (node.type === 'SET_OPERATION_NODE') {
      const left = query(node.left as Node);
      const right = query(node.right as Node);
      if (left || right) refuse('it combines the source with a set operation (UNION, EXCEPT)');
      return false;
    }
    if (node.type !== 'SELECT_NODE') return false;
    const alias = fromAlias(node.from_table as Node);
    if (alias === undefined) return false;
    if ((node.group_expressions as unknown[] | undefined)?.length || (node.aggregate_handling && node.aggregate_handling !== 'STANDARD_HANDLING')) refuse('it groups rows (GROUP BY)');
    if ((node.modifiers as { type: string }[] | undefined)?.some((m) => m.type === 'DISTINCT_MODIFIER')) refuse('it removes duplicates (DISTINCT)');
    if (hasAggregate(node.select_list)) refuse('it aggregates (sum, count, …)');
    const list = node.select_list as Node[];
    // A `*` (or `alias.*`) that excludes none of them already brings the columns along.
    const star = list.some(
      (e) =>
        e.class === 'STAR' &&
        !(e.columns as boolean) &&
        (!e.relation_name || String(e.relation_name) === alias) &&
        !columns.some((c) => JSON.stringify(e.exclude_list ?? []).includes(JSON.stringify(c))),
    );
    if (!star) {
      changed = true;
      for (const column of columns) {
        list.push({ class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', query_location: 0, column_names: [alias, column] });
      }
    }
    return true;
  };
  if (!query(tree.statements[0]!.node) || !changed) return sql;
  return printSqlTree(engine, tree);
}

/** Aggregate function calls in expressions (DuckDB names them; the parse tree does not mark them). */
const AGGREGATES = new Set(['sum', 'count', 'count_star', 'avg', 'min', 'max', 'any_value', 'first', 'last', 'list', 'array_agg', 'string_agg', 'median', 'mode', 'arg_max', 'arg_min', 'bool_and', 'bool_or', 'stddev', 'variance', 'approx_count_distinct', 'histogram']);

function hasAggregate(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasAggregate);
  if (!node || typeof node !== 'object') return false;
  const n = node as Node;
  if (n.class === 'WINDOW') return false; // a window function keeps every row
  if (n.class === 'FUNCTION' && AGGREGATES.has(String(n.function_name).toLowerCase())) return true;
  if (n.class === 'SUBQUERY') return false; // a scalar subquery aggregates its own rows
  return Object.values(n).some(hasAggregate);
}
