import path from 'node:path';
import type { Metastore } from '../catalog/index.js';
import type { Store, StoreConfig } from '../connectors/index.js';
import type { ModelConfig } from '../config/config.js';
import type { Project } from '../config/project.js';
import { TributaryError } from '../core/errors.js';
import { fillSql, type DataInterval } from '../core/interval.js';
import { quoteIdent } from '../engine/index.js';
import { componentFor } from '../core/component.js';
import type { Materialization, MaterializationComponent, MaterializationContext } from '../materializations/index.js';

/** `{{ ref('x') }}` and `{{ source('x') }}` in a model's SQL. */
const REFERENCE = /\{\{\s*(ref|source)\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)\s*\}\}/g;

/**
 * A model compiled once for a run, a scheduled task or a stream: its SQL with the references it
 * makes, and the materialisation that says where and how its rows land. Everything that runs a
 * model reads this; nothing re-reads the config.
 */
export interface ModelPlan {
  name: string;
  /** The table (or view) it writes: its name, or a hidden one for a source's loaded rows. */
  table: string;
  config: ModelConfig;
  /** The SQL as written, its ref() and source() still in it. */
  template: string;
  /** The SQL file, relative to the project folder (what `path:` selects); none for inline SQL. */
  file: string | undefined;
  refs: string[];
  sources: string[];
  materialization: Materialization;
  /** How a run for a data interval takes the model: by its date partition, by its time column, or rebuilt whole. */
  placement: Placement;
}

/** How a run for a data interval takes a model (a run without one rebuilds every model whole). */
export type Placement = { kind: 'whole' } | { kind: 'partition'; key: string } | { kind: 'time'; column: string };

function placementOf(config: ModelConfig, materialization: Materialization): Placement {
  if (!materialization.intervals) return { kind: 'whole' };
  if (config.timeColumn) return { kind: 'time', column: config.timeColumn };
  const keys = Object.keys(config.partitionBy ?? {});
  // The date key is confirmed against the model's types when it runs.
  return keys.length ? { kind: 'partition', key: keys[0]! } : { kind: 'whole' };
}

/**
 * How a reference becomes a relation: a table, a micro-batch, a typed empty relation… Undefined
 * for a ref means the default: an ephemeral model's SQL inlined, any other table by its name.
 */
export type Relations = (kind: 'ref' | 'source', name: string) => string | undefined;

/** What compiling needs from the state that owns the project: its stores and catalog. */
export interface PlanStores {
  metastore: Metastore;
  store(config: StoreConfig, field: string): Store;
}

/** The materialisation a config names, among the project's (Tributary's and its own). */
export function materializationComponent(project: Project, kind: string): MaterializationComponent {
  const { modelMaterializations, streamMaterializations } = project.components;
  return componentFor([...modelMaterializations, ...streamMaterializations], kind);
}

/** The context a materialisation of `field` finds its stores through, the project's target deciding the named ones. */
export function materializationContext(project: Project, stores: PlanStores, field: string, defaultStore: () => Store): MaterializationContext {
  return {
    field,
    metastore: stores.metastore,
    defaultStore,
    lake: () => stores.store({ kind: 'lake' }, field),
    named: (name) => {
      const config = project.target.stores[name];
      if (!config) {
        throw new TributaryError(`${field} names store '${name}', which target '${project.target.name}' does not declare`, {
          place: { file: project.configFile, field },
          hint: `stores of target '${project.target.name}': ${Object.keys(project.target.stores).join(', ') || '(none)'}`,
        });
      }
      return stores.store(config, `targets.${project.target.name}.stores.${name}`);
    },
  };
}

/** The compiled project: every model's plan, in dependency order, and the graph selectors walk. */
export class ProjectPlan {
  /** Models in dependency order: each after what it reads. */
  readonly order: readonly ModelPlan[];
  readonly models: ReadonlyMap<string, ModelPlan>;
  /** Tables stream jobs keep, by name → the job: a model may read them with ref(). */
  readonly streamTables: ReadonlyMap<string, string>;

  constructor(
    readonly project: Project,
    order: ModelPlan[],
  ) {
    this.order = order;
    this.models = new Map(order.map((m) => [m.name, m]));
    this.streamTables = streamTables(project);
  }

  /** The models that read `name` (a model, or `source:<name>`) directly. */
  children(node: string): ModelPlan[] {
    return this.order.filter((m) => (node.startsWith('source:') ? m.sources.includes(node.slice(7)) : m.refs.includes(node)));
  }

  /** What a model reads directly: models as their names, sources as `source:<name>`. */
  parents(model: ModelPlan): string[] {
    return [...model.refs.filter((r) => this.models.has(r)), ...model.sources.map((s) => `source:${s}`)];
  }

  /**
   * The model's SQL with its references resolved: the one place a model's SQL is rendered. A ref
   * to an ephemeral model inlines that model's SQL, its own references resolved the same way.
   */
  sql(model: ModelPlan, relations: Relations, interval: DataInterval | undefined): string {
    return fillSql(this.render(model, relations), interval, `model '${model.name}'`);
  }

  private render(model: ModelPlan, relations: Relations): string {
    return model.template.replace(REFERENCE, (_all, kind: 'ref' | 'source', name: string) => {
      const given = relations(kind, name);
      if (given !== undefined) return given;
      if (kind === 'source') throw new Error(`model '${model.name}': no relation for source('${name}')`);
      const target = this.models.get(name);
      return target?.materialization.reference === 'inline' ? `(${this.render(target, relations)})` : quoteIdent(name);
    });
  }
}

/** Tables a project's stream jobs keep, by name → the job. */
export function streamTables(project: Project): Map<string, string> {
  const out = new Map<string, string>();
  for (const [job, stream] of Object.entries(project.config.streams)) {
    for (const sink of Object.values(stream.sinks)) for (const table of Object.keys(sink.tables)) out.set(table, job);
  }
  return out;
}

/** A model's SQL and the references it makes, checked against what the project declares. */
function parseModel(project: Project, name: string, config: ModelConfig): Omit<ModelPlan, 'materialization' | 'placement'> {
  const template = project.readText(config.sql, `models.${name}.sql`).trim().replace(/;\s*$/, '');
  const refs = new Set<string>();
  const sources = new Set<string>();
  for (const match of template.matchAll(REFERENCE)) (match[1] === 'ref' ? refs : sources).add(match[2]!);
  const streamed = new Set(Object.values(project.config.streams).map((s) => s.binds));
  for (const source of sources) {
    if (!project.config.sources[source] && !streamed.has(source)) {
      throw new TributaryError(`model '${name}' reads source('${source}'), which is not declared`, {
        place: { file: project.configFile, field: `models.${name}.sql` },
        hint: `declared sources: ${Object.keys(project.config.sources).join(', ') || '(none)'}; streams bind: ${[...streamed].join(', ') || '(none)'}`,
      });
    }
  }
  const file = /\.sql$/i.test(config.sql.trim()) ? path.normalize(config.sql.trim()) : undefined;
  return { name, table: name, config, template, file, refs: [...refs], sources: [...sources] };
}

/**
 * Compiles every model of the project for its target: SQL, references, materialisation and
 * store. A ref must name a model whose rows the engine can read, a table a stream keeps, or a
 * table the catalog already has (`known`, a crawled one; unchecked when not given): checked here,
 * before anything runs.
 */
export function compileProject(project: Project, stores: PlanStores, known?: ReadonlySet<string>): ProjectPlan {
  const parsed = new Map(Object.entries(project.config.models).map(([name, config]) => [name, parseModel(project, name, config)]));
  const plans = new Map<string, ModelPlan>();
  for (const [name, model] of parsed) {
    const field = `models.${name}.materialize`;
    const materialization = materializationComponent(project, model.config.materialize.kind).create(
      model.config.materialize,
      materializationContext(project, stores, field, () => stores.store({ kind: 'duckdb' }, field)),
    );
    if (model.config.partitionBy && !materialization.partitions) {
      throw new TributaryError(`model '${name}' has partitionBy, but a ${materialization.label} has no partitions`, {
        place: { file: project.configFile, field: `models.${name}.partitionBy` },
        hint: "materialize it in the lake (materialize: 'lake'), or declare timeColumn for runs by data interval",
      });
    }
    if (materialization.batches && !model.config.timeColumn) {
      throw new TributaryError(`model '${name}' is built in batches of time, but declares no timeColumn`, {
        place: { file: project.configFile, field: `models.${name}.timeColumn` },
        hint: 'name the column that places each of its rows in time (dbt: event_time): a batch replaces the rows whose time falls in it',
      });
    }
    plans.set(name, { ...model, materialization, placement: placementOf(model.config, materialization) });
  }
  const streamed = streamTables(project);
  for (const model of plans.values()) {
    for (const ref of model.refs) {
      const target = plans.get(ref);
      if (!target && !streamed.has(ref) && known && !known.has(ref)) {
        throw new TributaryError(`model '${model.name}' reads ref('${ref}'), which is no model, no stream table and no table in the catalog`, {
          place: { file: project.configFile, field: `models.${model.name}.sql` },
          hint: `models: ${[...plans.keys()].join(', ')}${streamed.size ? `; stream tables: ${[...streamed.keys()].join(', ')}` : ''}; crawl external tables first with \`tributary crawl\``,
        });
      }
      if (target?.materialization.reference === 'elsewhere') {
        throw new TributaryError(`model '${model.name}' reads ref('${ref}'), whose rows are a ${target.materialization.label}, which the engine does not read`, {
          place: { file: project.configFile, field: `models.${model.name}.sql` },
          hint: `keep '${ref}' in the lake or the embedded warehouse and read that; publish it with a second model, SELECT * FROM {{ ref('${ref}') }}, materialised where '${ref}' is now`,
        });
      }
    }
  }
  const ordered: ModelPlan[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    const model = plans.get(name);
    if (!model || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new TributaryError(`models depend on each other in a cycle: ${[...trail, name].join(' → ')}`, {
        place: { file: project.configFile },
        hint: 'break the cycle: a model cannot read, directly or indirectly, its own output',
      });
    }
    state.set(name, 'visiting');
    for (const ref of model.refs) visit(ref, [...trail, name]);
    state.set(name, 'done');
    ordered.push(model);
  };
  for (const name of plans.keys()) visit(name, []);
  return new ProjectPlan(project, ordered);
}
