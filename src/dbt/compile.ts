import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import { columnsStruct, quoteIdent, quoteLiteral } from '../engine/sql.js';
import type { Environment } from '@huggingface/jinja';
import { DBT_BUILTINS } from './builtins.js';
import { DBT_MODULES } from './modules.js';
import { adapterColumn, questionKey, resultTable, Unanswered, type Answer, type Answers, type Question } from './introspect.js';
import { FunctionValue, argsOf, pyStr, toJs, toRuntime, type Value } from './jinja-python.js';
import { JinjaEnvironment, refuseLeftovers, splitArgs, type JinjaContext } from './jinja.js';
import { DBT_PROJECT_FILE, addHooks, hooksOf, parseYaml, type DbtModelFile, type DbtUnitTest, type DbtProjectFiles, type DbtSeedFile, type DbtSnapshotFile, type NodeConfig } from './project.js';
import { inferSeedColumns } from './seeds.js';
import { compileTests, type CompiledTest, type TestRendering } from './tests.js';

export type { CompiledTest };

/**
 * The dbt project as Tributary's models: each model's Jinja rendered for this run (is_incremental
 * depends on what the warehouse already holds), `ref()` left as Tributary's own `{{ ref('x') }}`
 * so the planner sees the DAG, and each seed a CSV source loaded into a table, every row
 * accounted for as any other load.
 */

/** How a dbt model lands, in the terms of Tributary's materialisation registry. */
export type DbtMaterialize =
  | 'view'
  | 'table'
  | 'ephemeral'
  | { kind: 'incremental'; strategy: 'append' | 'merge' | 'delete+insert'; uniqueKey?: string[]; onSchemaChange: SchemaChange }
  | { kind: 'incremental'; strategy: 'microbatch'; batchSize: 'hour' | 'day' | 'month' | 'year'; lookback: number; begin: string; onSchemaChange: SchemaChange }
  | {
      kind: 'snapshot';
      strategy: 'timestamp' | 'check';
      uniqueKey: string[];
      updatedAt?: string;
      checkCols?: 'all' | string[];
      hardDeletes: 'ignore' | 'invalidate' | 'new_record';
      validToCurrent?: string;
    };

/** A model as Tributary's config takes it (the SQL file's path: its rendered text is served by `readText`). */
export interface DbtModelConfig {
  sql: string;
  materialize: DbtMaterialize;
  /** A microbatch model's event_time: the column that places its rows in batches. */
  timeColumn?: string;
  tags: string[];
  description?: string;
  /** Column → its description in schema.yml. */
  columns?: Record<string, string>;
}

export interface DbtSourceConfig {
  format: 'csv';
  path: string;
  columns: Record<string, string>;
  maxQuarantined: number;
  description: string;
}

/** One render of the project: models, seeds' sources, and each model file's rendered SQL. */
export interface DbtRender {
  models: Record<string, DbtModelConfig>;
  sources: Record<string, DbtSourceConfig>;
  /** Model file (relative path) → rendered SQL, `{{ ref('x') }}` in place of each ref. */
  sql: Map<string, string>;
  /** Node name → rendered SQL with each ref as a mark: what the next render's queries read for a node not built yet. */
  marked: Map<string, string>;
  /** Node name → the relation dbt would build it as (its schema and alias), for every node that has one. */
  relations: Map<string, DbtRelationName>;
  /** Node name → its pre- and post-hooks, rendered (`this` its table); `''`: the command's on-run-start and on-run-end. */
  hooks: Map<string, { pre: string[]; post: string[] }>;
  /** Node name → why it could not be rendered when it ran (a query its template runs failed): the node fails when its turn comes. */
  failed: Map<string, TributaryError>;
}

/** Where dbt puts a node: `generate_schema_name` and `generate_alias_name` of its config. */
export interface DbtRelationName {
  schema: string;
  identifier: string;
}

/** What a model sees in a unit test: its inputs' given rows (by `ref('x')`, `source('a', 'b')`, `this`) and the test's overrides. */
export interface UnitRendering {
  /** The relation of an input's given rows; throws when the test gives none. `model`: the node being rendered. */
  given(input: string, model: string | undefined): string;
  overrides: DbtUnitTest['overrides'];
}

/** An input as a unit test names it, in one spelling: `ref('x')` (a package's `ref('p', 'x')` too), `source('a', 'b')`, `this`. */
export function unitInputKey(input: string): string | undefined {
  const text = input.trim();
  if (text === 'this') return text;
  const call = /^(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)$/.exec(text);
  if (!call) return undefined;
  if (call[1] === 'ref') return `ref('${call[5] ?? call[3]}')`;
  return call[5] === undefined ? undefined : `source('${call[3]}', '${call[5]}')`;
}

export interface RenderState {
  /** Tables and views the warehouse has now (is_incremental is true for an incremental model among them). */
  existing: ReadonlySet<string>;
  fullRefresh: boolean;
  /**
   * What the warehouse answered to the questions earlier renders asked (run_query, statement,
   * get_columns_in_relation). Absent: dbt's parse, where `execute` is false and queries answer None.
   */
  answers?: Answers;
  /** Each node's SQL as dbt's parse renders it, refs as marks (computed on first use): what a query over a node not built yet reads. */
  previous?: () => ReadonlyMap<string, string>;
  /** Models with no table, their SQL inlined where they are read (ephemeral): a test of one reads its SQL. */
  inlined?: ReadonlySet<string>;
}


const SCHEMA_CHANGES = ['ignore', 'fail', 'append_new_columns', 'sync_all_columns'] as const;
type SchemaChange = (typeof SCHEMA_CHANGES)[number];

/** Sentinels a render leaves where a ref goes; replaced once the text is known to hold no Jinja. */
const REF_MARK = '\u0001ref:';
const MARK_END = '\u0001';
const SEED_SOURCE = 'seed__';
/** The warehouse schema of Tributary's own records (the catalog's metastore), which no dbt node may be built into. */
const METASTORE_SCHEMA = 'tributary';

/** Rendered SQL with each ref mark as Tributary's own `{{ ref('x') }}`, which the planner resolves. */
/** SQL with each ref as the table itself, as a hook runs it outside the planner. */
const refsAsTables = (sql: string) => sql.replaceAll(new RegExp(`${REF_MARK}([A-Za-z0-9_]+)${MARK_END}`, 'g'), (_all, name: string) => `main.${quoteIdent(name)}`);
const tributaryRefs = (sql: string) => sql.replaceAll(new RegExp(`${REF_MARK}([A-Za-z0-9_]+)${MARK_END}`, 'g'), (_all, name: string) => `{{ ref('${name}') }}`);

export const seedSourceName = (seed: string) => `${SEED_SOURCE}${seed}`;

/** `--vars` as dbt takes it: a YAML (or JSON) mapping. */
export function parseVars(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new TributaryError(`--vars is not YAML: ${(error as Error).message.split('\n')[0]}`, { hint: `pass a mapping, e.g. --vars '{until: "2024-03-31"}'` });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TributaryError(`--vars must be a mapping, got ${text}`, { hint: `e.g. --vars '{until: "2024-03-31"}'` });
  return parsed as Record<string, unknown>;
}

export class Relation {
  constructor(
    readonly identifier: string,
    private readonly text: string,
    /** The warehouse's name, as dbt-duckdb names it by its file. */
    readonly database?: string,
    /** table or view, when a template says (`this.incorporate(type='table')`). */
    readonly type: string | null = null,
  ) {}
  /** The same relation with what a template adds (`type=`), as dbt's Relation.incorporate. */
  incorporate(options?: { type?: unknown }): Relation {
    return new Relation(this.identifier, this.text, this.database, options?.type === undefined ? this.type : String(options.type));
  }
  get name() {
    return this.identifier;
  }
  get schema() {
    return 'main';
  }
  /** What dbt_utils' _is_relation looks for (`relation.get('metadata', {}).get('type', '').endswith('Relation')`). */
  get metadata() {
    return { type: 'DuckDBRelation' };
  }
  /** Its name as text (dbt_utils.union_relations writes it as a column's value), where printing it gives the SQL that reads it. */
  render() {
    return [this.database, this.schema, this.identifier].filter((part) => part !== undefined).map((part) => quoteIdent(part)).join('.');
  }
  toString() {
    return this.text;
  }
}

/** A compiled dbt project: what renders its models and tests for a run. */
export class DbtSurface {
  readonly seeds: ReadonlySet<string>;
  readonly snapshots: ReadonlySet<string>;
  readonly modelNames: ReadonlySet<string>;

  private readonly seedColumns = new Map<string, Record<string, string>>();

  constructor(
    readonly files: DbtProjectFiles,
    private readonly cliVars: Record<string, unknown>,
  ) {
    this.seeds = new Set(files.seeds.map((s) => s.name));
    this.snapshots = new Set(files.snapshots.map((s) => s.name));
    this.modelNames = new Set([...files.models, ...files.snapshots].map((m) => m.name));
  }

  get dir() {
    return this.files.dir;
  }

  /** The warehouse's name: dbt-duckdb names the database by its file, as the engine does (warehouse.duckdb is `warehouse`). */
  get database(): string {
    return this.files.target.path === ':memory:' ? 'memory' : path.basename(this.files.target.path).replace(/\.[^.]*$/, '');
  }

  /** Where each node's errors point: its file. */
  place(file: string) {
    return { file: path.join(this.files.dir, file) };
  }

  /**
   * dbt's context for rendering: ref, source, var, env_var, config, this, target, is_incremental,
   * adapter.dispatch, and macros from macros/ and dbt_packages/. `mode` says what a ref becomes:
   * a mark the planner turns into Tributary's ref (models), or the relation itself (tests). With
   * `unit`, each ref, source and `this` is the unit test's given rows, and its overrides win.
   */
  environment(state: RenderState, mode: 'model' | 'test', unit?: UnitRendering) {
    // Errors raised by dbt's context pass through the template engine as they are; the environment adds the line.
    const raised = (error: TributaryError): TributaryError => error;
    const { database } = this;
    const current: {
      node?: DbtModelFile;
      config: NodeConfig;
      refs: Set<string>;
      file: string;
      renderedSql?: (name: string) => string | undefined;
      /** While a hook renders: what adapter calls in it do to the warehouse, run after its own SQL. */
      hookStatements?: string[];
    } = {
      config: { tags: [] },
      refs: new Set(),
      file: '',
    };
    const relationOf = (name: string) => (mode === 'model' ? `${REF_MARK}${name}${MARK_END}` : quoteIdent(name));
    const refFn = (...args: unknown[]) => {
      const { positional, keywords } = splitArgs(args);
      const name = String(positional.at(-1) ?? keywords.name ?? '');
      if (!this.modelNames.has(name) && !this.seeds.has(name)) {
        throw raised(new TributaryError(`ref('${name}') names no model or seed of this project`, {
          place: this.place(current.file),
          hint: `models: ${[...this.modelNames].join(', ')}; seeds: ${[...this.seeds].join(', ') || '(none)'}`,
        }));
      }
      current.refs.add(name);
      if (unit) return new Relation(name, unit.given(`ref('${name}')`, current.node?.name), database);
      // An ephemeral model has no table: a test of it reads its SQL, as dbt inlines it.
      if (mode === 'test' && state.inlined?.has(name)) return new Relation(name, `(${resolve(`${REF_MARK}${name}${MARK_END}`)})`, database);
      return new Relation(name, relationOf(name), database);
    };
    const sourceFn = (sourceName: unknown, tableName: unknown) => {
      if (unit) return new Relation(String(tableName), unit.given(`source('${String(sourceName)}', '${String(tableName)}')`, current.node?.name), database);
      const found = this.files.sources.find((s) => s.source === sourceName && s.table === tableName);
      if (!found) {
        throw raised(new TributaryError(`source('${String(sourceName)}', '${String(tableName)}') is not declared in any sources.yml`, {
          place: this.place(current.file),
          hint: `declared: ${this.files.sources.map((s) => `${s.source}.${s.table}`).join(', ') || '(none)'}`,
        }));
      }
      if (found.externalLocation) return new Relation(found.identifier, this.externalLocation(found.externalLocation, found.table), database);
      // A source over a node of the project (a seed, say) reads it, and runs after it.
      if (this.modelNames.has(found.identifier) || this.seeds.has(found.identifier)) {
        current.refs.add(found.identifier);
        return new Relation(found.identifier, relationOf(found.identifier), database);
      }
      return new Relation(found.identifier, `${quoteIdent(found.schema ?? 'main')}.${quoteIdent(found.identifier)}`, database);
    };
    const varFn = (name: unknown, fallback?: unknown) => {
      const key = String(name);
      const found = unit && key in unit.overrides.vars ? unit.overrides.vars[key] : this.lookupVar(key, current.node?.package ?? this.files.name);
      // A value written as Jinja ("{{ source('segment', 'pages') }}") is rendered where it is used, as dbt does.
      if (found !== undefined) return typeof found === 'string' && /\{\{|\{%/.test(found) ? env.render(found, current.file) : found;
      if (fallback !== undefined) return fallback;
      throw raised(new TributaryError(`var('${key}') has no value and no default`, {
        place: this.place(current.file),
        hint: `declare it under vars: in dbt_project.yml, pass --vars '{${key}: …}', or give var() a default`,
      }));
    };
    const envVarFn = (name: unknown, fallback?: unknown) => {
      const overridden = unit?.overrides.envVars[String(name)];
      const value = overridden === undefined ? process.env[String(name)] : String(overridden);
      if (value !== undefined) return value;
      if (fallback !== undefined) return fallback;
      throw raised(new TributaryError(`env_var('${String(name)}') is not set and has no default`, { place: this.place(current.file), hint: `set ${String(name)} in the environment, or give env_var() a default` }));
    };
    const configFn = (...args: unknown[]) => {
      const { keywords } = splitArgs(args);
      for (const [key, value] of Object.entries(keywords)) {
        if (key === 'tags') current.config.tags = [...new Set([...current.config.tags, ...(Array.isArray(value) ? value.map(String) : [String(value)])])];
        else if (!addHooks(current.config, key, value)) current.config[key] = value;
      }
      return '';
    };
    // config.get('x') as dbt's macros call it (the default positional or as default=).
    Object.assign(configFn, {
      get: (...args: unknown[]) => {
        const { positional, keywords } = splitArgs(args);
        return current.config[String(positional[0] ?? keywords.name)] ?? positional[1] ?? keywords.default ?? null;
      },
      require: (key: string) => current.config[key],
    });
    // A unit test's `overrides: macros: {is_incremental: …}` replaces it, as any macro (overrideMacro).
    const isIncremental = () => current.node !== undefined && current.config.materialized === 'incremental' && !state.fullRefresh && state.existing.has(current.node.name);
    // `{{ this }}` is the table Tributary builds; its name and schema are dbt's (an alias, a custom schema), as templates print them.
    const dbtRelation = () => (current.node ? this.relationName(env, current.node, current.config, this.snapshots.has(current.node.name) ? 'snapshot' : 'model') : undefined);
    const thisRelation = {
      toString: () => (!current.node ? '' : unit ? unit.given('this', current.node.name) : `main.${quoteIdent(current.node.name)}`),
      get identifier() {
        return dbtRelation()?.identifier;
      },
      get name() {
        return dbtRelation()?.identifier;
      },
      get schema() {
        return dbtRelation()?.schema;
      },
      incorporate: (options?: { type?: unknown }) => new Relation(current.node?.name ?? '', String(thisRelation), database, options?.type === undefined ? null : String(options.type)),
    };
    // dbt's `model`: the node being rendered, as macros read it (model.name, model.package_name, model.config…).
    const { snapshots, files } = this;
    const modelNode = {
      get name() {
        return current.node?.name;
      },
      get package_name() {
        return current.node?.package;
      },
      get resource_type() {
        return current.node && (snapshots.has(current.node.name) ? 'snapshot' : 'model');
      },
      get unique_id() {
        return current.node && `${modelNode.resource_type}.${current.node.package}.${current.node.name}`;
      },
      get original_file_path() {
        return current.node?.file;
      },
      get alias() {
        return dbtRelation()?.identifier;
      },
      get schema() {
        return dbtRelation()?.schema;
      },
      get config() {
        return current.config;
      },
      get tags() {
        return current.config.tags;
      },
      get description() {
        return current.node && (files.descriptions.get(current.node.name) ?? '');
      },
      get raw_code() {
        return current.node?.text;
      },
      get raw_sql() {
        return current.node?.text;
      },
    };
    const target = { name: this.files.target.name, type: 'duckdb', database, schema: this.files.target.schema, path: this.files.target.path, threads: this.files.target.threads ?? 1, profile_name: this.files.name };
    let env: JinjaEnvironment;
    const adapter = {
      dispatch: (name: string, namespace?: string) => {
        const candidates = [`duckdb__${name}`, `default__${name}`, name];
        for (const candidate of candidates) {
          const fn = (namespace ? env.macro(candidate, namespace) : undefined) ?? env.macro(candidate);
          if (fn) return fn;
        }
        throw raised(new TributaryError(`adapter.dispatch('${name}') found none of ${candidates.join(', ')}`, { place: this.place(current.file), hint: 'define one of them in macros/ or ship the package that has them' }));
      },
      quote: (identifier: string) => quoteIdent(identifier),
      get_columns_in_relation: (relation: unknown) => {
        const answer = ask('columns', `SELECT * FROM ${String(relation)}`);
        return answer ? answer.columns.map((c) => adapterColumn(c.name, c.type)) : [];
      },
      // dbt runs these at once; a hook runs them as it runs, and a model's render may not change the warehouse.
      drop_relation: (relation: unknown) => {
        const type = (relation as { type?: unknown } | null)?.type ?? (String(relation) === String(thisRelation) ? current.config.materialized : 'table');
        return hookStatement('drop_relation', `DROP ${String(type).toLowerCase() === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${String(relation)}`);
      },
      truncate_relation: (relation: unknown) => hookStatement('truncate_relation', `DELETE FROM ${String(relation)}`),
      get_relation: (...args: unknown[]) => existingRelation(String(splitArgs(args).keywords.identifier ?? splitArgs(args).positional[2] ?? '')),
      type: () => 'duckdb',
    };
    const hookStatement = (name: string, sql: string) => {
      if (!current.hookStatements) {
        throw raised(new TributaryError(`adapter.${name}() would change the warehouse while a model renders`, {
          place: this.place(current.file),
          hint: `call it in a hook (pre-hook, post-hook, on-run-start, on-run-end), where it runs in its turn: ${refsAsTables(sql)}`,
        }));
      }
      current.hookStatements.push(sql);
      return '';
    };
    /**
     * A relation of the warehouse by name, or None when it holds none (dbt's adapter.get_relation,
     * load_relation). A node this one refs is built before it, as dbt renders a node only when its
     * turn comes: it exists by then, though every node here is rendered before the run.
     */
    const existingRelation = (name: string) =>
      state.existing.has(name) ? new Relation(name, quoteIdent(name), database) : current.refs.has(name) && name !== current.node?.name ? new Relation(name, relationOf(name), database) : null;
    // What the warehouse answered; a question not yet answered stops the render (see introspect.ts).
    const ask = (kind: Question['kind'], sql: string): Answer | undefined => {
      if (!state.answers) return undefined;
      const question = { kind, sql: resolve(sql) };
      const answer = state.answers.get(questionKey(question));
      if (!answer) throw new Unanswered(question, this.place(current.file).file);
      if (answer.failed) throw answer.failed;
      return answer;
    };
    // A query a template runs names refs as marks: a table the warehouse has, else the node's own SQL.
    const resolve = (sql: string, depth = 0): string =>
      sql.replace(new RegExp(`${REF_MARK}([A-Za-z0-9_]+)${MARK_END}`, 'g'), (_all, name: string) => {
        if (state.existing.has(name)) return `main.${quoteIdent(name)}`;
        const seed = this.files.seeds.find((x) => x.name === name);
        if (seed) return `(SELECT * FROM read_csv(${quoteLiteral(path.join(this.files.dir, seed.file))}, header = true, columns = ${columnsStruct(this.seedColumnsOf(seed))}))`;
        const previous = current.renderedSql?.(name) ?? state.previous?.().get(name);
        if (previous !== undefined && depth < 32) return `(${resolve(previous, depth + 1)})`;
        throw raised(new TributaryError(`a query this template runs while it renders reads '${name}', which is neither built nor rendered yet`, {
          place: this.place(current.file),
          hint: `build '${name}' first (tributary run --select +${name})`,
        }));
      });
    const results = new Map<string, Answer>();
    // {% call statement('name', fetch_result=True) %} … {% endcall %}: the block's SQL, run (once answered) and kept for load_result.
    const statement = new FunctionValue((args: Value[], scope: Environment) => {
      const [positional, keywords] = argsOf(args);
      const name = String(toJs(positional[0] ?? keywords.get('name') ?? toRuntime('main')));
      const caller = scope.lookupVariable('caller') as Value;
      const sql = pyStr((caller.value as (a: Value[], s: Environment) => Value)([], scope)).trim().replace(/;\s*$/, '');
      if (!/^\s*(\(|with\b|select\b|from\b|values\b|describe\b|show\b|summarize\b|pivot\b|unpivot\b)/i.test(sql)) {
        throw raised(new TributaryError(`statement('${name}') would change the warehouse while a template renders: ${sql.split('\n')[0]!.slice(0, 80)}`, {
          place: this.place(current.file),
          hint: 'Tributary runs only queries (select, with, describe…) while rendering; write the change as a model, or as a hook of your own job',
        }));
      }
      const answer = ask('rows', sql);
      if (answer) results.set(name, answer);
      return toRuntime('');
    });
    const globals: JinjaContext = {
      ref: refFn,
      source: sourceFn,
      var: varFn,
      env_var: envVarFn,
      config: configFn,
      this: thisRelation,
      model: modelNode,
      target,
      is_incremental: isIncremental,
      should_full_refresh: () => state.fullRefresh,
      should_store_failures: () => current.config.store_failures === true,
      execute: state.answers !== undefined,
      run_query: (sql: unknown) => {
        const answer = ask('rows', String(sql).trim().replace(/;\s*$/, ''));
        return answer ? resultTable(answer) : null;
      },
      statement,
      load_result: (name: unknown) => {
        const answer = results.get(String(name));
        return answer ? { response: { code: 'SELECT', rows_affected: answer.rows.length }, data: answer.rows, table: resultTable(answer) } : null;
      },
      load_relation: (relation: unknown) => existingRelation(String((relation as { identifier?: unknown })?.identifier ?? relation)),
      flags: { FULL_REFRESH: state.fullRefresh },
      adapter,
      project_name: this.files.name,
      modules: DBT_MODULES,
      log: () => '',
      print: () => '',
      exceptions: {
        raise_compiler_error: (message: unknown) => {
          throw raised(new TributaryError(`a template raised an error: ${String(message)}`, { place: this.place(current.file) }));
        },
        warn: () => '',
      },
    };
    env = new JinjaEnvironment(this.files.dir, globals);
    // dbt's own macros first, so a package's or the project's of the same name win.
    env.loadMacros([DBT_BUILTINS, ...this.files.macros], this.files.name);
    for (const [name, value] of Object.entries(unit?.overrides.macros ?? {})) env.overrideMacro(name, value);
    return { env, current };
  }

  /**
   * A var as a node of `pkg` sees it, in dbt's order: --vars, the root project's vars scoped to
   * the package (`vars: {segment: {…}}`), the root project's own, then the package's defaults.
   */
  private lookupVar(key: string, pkg: string): unknown {
    const scoped = (vars: Record<string, unknown> | undefined) => {
      const block = vars?.[pkg];
      return block && typeof block === 'object' && !Array.isArray(block) && key in block ? (block as Record<string, unknown>)[key] : undefined;
    };
    if (key in this.cliVars) return this.cliVars[key];
    const root = this.files.vars;
    const shipped = this.files.packageVars.get(pkg);
    return scoped(root) ?? (key in root && !this.files.packageVars.has(key) ? root[key] : undefined) ?? scoped(shipped) ?? shipped?.[key];
  }

  /** dbt-duckdb's external location as a relation: `{name}` filled in, a relative path made the project's. */
  private externalLocation(location: string, table: string): string {
    const filled = location.replaceAll('{name}', table);
    const resolve = (p: string) => (/^([a-z0-9]+:\/\/|\/)/i.test(p) ? p : path.join(this.files.dir, p).replace(/'/g, "''"));
    const call = /^(\s*[A-Za-z_][A-Za-z0-9_]*\s*\(\s*)'([^']*)'/.exec(filled);
    if (call) return `${call[1]}'${resolve(call[2]!)}'${filled.slice(call[0].length)}`;
    return `'${resolve(filled.replace(/^'|'$/g, ''))}'`;
  }

  /** Renders every model for a run: its SQL, its materialisation, its tags. */
  render(state: RenderState): DbtRender {
    const { env, current } = this.environment(state, 'model');
    const models: Record<string, DbtModelConfig> = {};
    const sources: Record<string, DbtSourceConfig> = {};
    const sql = new Map<string, string>();
    const marked = new Map<string, string>();
    for (const seed of this.files.seeds) {
      const columns = this.seedColumnsOf(seed);
      sources[seedSourceName(seed.name)] = { format: 'csv', path: seed.file, columns, maxQuarantined: 0, description: `seed ${seed.file}` };
      models[seed.name] = {
        sql: `SELECT * FROM {{ source('${seedSourceName(seed.name)}') }}`,
        materialize: 'table',
        tags: seed.config.tags,
        description: this.files.descriptions.get(seed.name) ?? `seed ${seed.file}`,
        columns: this.columnDescriptions(seed.name),
      };
    }
    // A node's SQL with its Jinja rendered (config() calls land in `current.config`) and refs as Tributary's.
    const renderNode = (node: DbtModelFile | DbtSnapshotFile): string => {
      current.node = node;
      current.file = node.file;
      current.config = { ...node.config, tags: [...node.config.tags] };
      current.refs = new Set();
      const text = env.render(node.text, node.file).trim().replace(/;\s*$/, '');
      refuseLeftovers(text, node.file, this.files.dir);
      marked.set(node.name, text);
      return tributaryRefs(text);
    };
    // A query over a model not built yet reads that model's SQL as it renders now, as dbt renders
    // it before this one (its parse, where `execute` is false, may be empty: dbt_utils.union_relations).
    const rendering = new Set<string>();
    current.renderedSql = (name) => {
      const model = this.files.models.find((m) => m.name === name);
      if (!marked.has(name) && model && !rendering.has(name) && state.answers) {
        const { node, file, config, refs } = current;
        rendering.add(name);
        try {
          renderNode(model);
        } finally {
          rendering.delete(name);
          Object.assign(current, { node, file, config, refs });
        }
      }
      return marked.get(name);
    };
    const relations = new Map<string, DbtRelationName>();
    const hooks = new Map<string, { pre: string[]; post: string[] }>();
    // A hook runs as it is, outside the planner: its refs are the tables themselves.
    const hookSql = (text: string) => refsAsTables(text).trim();
    const renderHook = (text: string, file: string, context?: JinjaContext) => {
      current.hookStatements = [];
      try {
        return [env.render(text, file, context), ...current.hookStatements].map(hookSql).filter(Boolean).join(';\n');
      } finally {
        current.hookStatements = undefined;
      }
    };
    const renderHooks = (name: string, file: string) => {
      const [pre, post] = (['pre', 'post'] as const).map((which) => hooksOf(current.config, which).map((h) => renderHook(h, file)).filter(Boolean));
      if (pre!.length || post!.length) hooks.set(name, { pre: pre!, post: post! });
    };
    for (const seed of this.files.seeds) relations.set(seed.name, this.relationName(env, { ...seed, package: this.files.name }, seed.config, 'seed'));
    const failed = new Map<string, TributaryError>();
    // The project's parse rendered every node when it loaded (`execute` false), so an error now is
    // one only a run meets (a query that fails, raise_compiler_error under `if execute`): as in
    // dbt, the node fails alone; its SQL raises the error should anything still read it (an
    // ephemeral model is inlined into what reads it).
    const renderOrFail = (node: DbtModelFile | DbtSnapshotFile): string => {
      try {
        return renderNode(node);
      } catch (error) {
        if (!(state.answers && error instanceof TributaryError)) throw error;
        failed.set(node.name, error);
        // What it read before its query failed stays upstream of it, as dbt's parse records refs.
        const reads = [...current.refs].map((name) => `{{ ref('${name}') }}`).join(', ');
        return `SELECT error(${quoteLiteral(`'${node.name}' could not be rendered: ${error.message}`)}) AS not_rendered${reads ? `\n-- depends_on: ${reads}` : ''}`;
      }
    };
    for (const model of this.files.models) {
      sql.set(path.normalize(model.file), renderOrFail(model));
      models[model.name] = {
        sql: model.file,
        ...this.landing(model, current.config, state),
        tags: current.config.tags,
        description: this.files.descriptions.get(model.name),
        columns: this.columnDescriptions(model.name),
      };
      if (current.config.materialized !== 'ephemeral') relations.set(model.name, this.relationName(env, model, current.config, 'model'));
      renderHooks(model.name, model.file);
    }
    for (const snapshot of this.files.snapshots) {
      const key = this.snapshotKey(snapshot);
      sql.set(key, renderOrFail(snapshot));
      models[snapshot.name] = { sql: key, materialize: this.snapshot(snapshot, current.config), tags: current.config.tags, description: this.files.descriptions.get(snapshot.name), columns: this.columnDescriptions(snapshot.name) };
      relations.set(snapshot.name, this.relationName(env, snapshot, current.config, 'snapshot'));
      renderHooks(snapshot.name, snapshot.file);
    }
    for (const seed of this.files.seeds) {
      current.node = { name: seed.name, file: seed.file, text: '', package: this.files.name, config: seed.config };
      current.config = seed.config;
      renderHooks(seed.name, seed.file);
    }
    current.node = undefined;
    current.config = { tags: [] };
    hooks.set('', { pre: this.files.onRun.start.map((h) => renderHook(h, DBT_PROJECT_FILE)), post: this.files.onRun.end.map((h) => renderHook(h, DBT_PROJECT_FILE, { results: [], schemas: [this.files.target.schema] })) });
    this.refuseClashingRelations(relations);
    return { models, sources, sql, marked, relations, hooks, failed };
  }

  /**
   * A node's relation as dbt names it, by the project's own `generate_schema_name` and
   * `generate_alias_name` when it has them (a snapshot's legacy `target_schema` is taken as it is).
   */
  private relationName(env: JinjaEnvironment, node: { name: string; file: string; package: string }, config: NodeConfig, resourceType: string): DbtRelationName {
    const described = { name: node.name, resource_type: resourceType, package_name: node.package, config, alias: config.alias ?? null, version: config.version ?? null, original_file_path: node.file };
    const named = (macro: string, custom: unknown) => env.render(`{{ ${macro}(custom, node) }}`, node.file, { custom: custom ?? null, node: described }).trim();
    const legacy = resourceType === 'snapshot' && config.schema === undefined && config.target_schema !== undefined;
    const schema = legacy ? String(config.target_schema) : named('generate_schema_name', config.schema);
    const identifier = named('generate_alias_name', config.alias);
    for (const [what, value] of [['schema', schema], ['alias', identifier]] as const) {
      if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(value) || (what === 'schema' && value.toLowerCase() === METASTORE_SCHEMA)) {
        throw new TributaryError(`'${node.name}' would be built as ${schema}.${identifier}, and '${value}' cannot be its ${what}`, {
          place: this.place(node.file),
          hint: what === 'schema' && value.toLowerCase() === METASTORE_SCHEMA ? `the schema '${METASTORE_SCHEMA}' holds Tributary's own records: give the node (or the target) another schema` : 'name it with letters, digits and _',
        });
      }
    }
    return { schema, identifier };
  }

  /** Two nodes dbt would build as one relation, or a relation that is another node's table, are refused before anything runs. */
  private refuseClashingRelations(relations: ReadonlyMap<string, DbtRelationName>): void {
    const taken = new Map<string, string>();
    const fileOf = (name: string) => [...this.files.models, ...this.files.seeds, ...this.files.snapshots].find((n) => n.name === name)?.file ?? DBT_PROJECT_FILE;
    for (const [name, relation] of relations) {
      const key = `${relation.schema}.${relation.identifier}`.toLowerCase();
      const clash = taken.get(key) ?? (relation.schema.toLowerCase() === 'main' && relation.identifier.toLowerCase() !== name.toLowerCase() && relations.has(relation.identifier) ? relation.identifier : undefined);
      if (clash !== undefined) {
        throw new TributaryError(`'${name}' and '${clash}' would both be ${relation.schema}.${relation.identifier}`, {
          place: this.place(fileOf(name)),
          hint: 'give one of them another alias or schema (dbt refuses this too)',
        });
      }
      taken.set(key, name);
    }
  }

  private columnDescriptions(node: string): Record<string, string> | undefined {
    const prefix = `${node}.`;
    const found = [...this.files.descriptions].filter(([key]) => key.startsWith(prefix)).map(([key, text]) => [key.slice(prefix.length), text] as const);
    return found.length ? Object.fromEntries(found) : undefined;
  }

  /** A seed's columns and types, inferred from its file once (column_types win). */
  private seedColumnsOf(seed: DbtSeedFile): Record<string, string> {
    let columns = this.seedColumns.get(seed.name);
    if (!columns) {
      columns = inferSeedColumns(readFileSync(path.join(this.files.dir, seed.file), 'utf8'), seed.config.column_types ?? {}, path.join(this.files.dir, seed.file));
      this.seedColumns.set(seed.name, columns);
    }
    return columns;
  }

  /** Where a snapshot's SQL is served: its file, or its file and name when the file holds several (or it is declared in YAML). */
  private snapshotKey(snapshot: DbtSnapshotFile): string {
    const shared = this.files.snapshots.filter((s) => s.file === snapshot.file).length > 1 || !snapshot.file.endsWith('.sql');
    return path.normalize(shared ? `${snapshot.file}#${snapshot.name}` : snapshot.file);
  }

  /** dbt's snapshot config (strategy, unique_key, updated_at, check_cols, hard deletes) as Tributary's. */
  private snapshot(snapshot: DbtSnapshotFile, config: NodeConfig): DbtMaterialize {
    const place = this.place(snapshot.file);
    const strategy = String(config.strategy ?? '');
    if (strategy !== 'timestamp' && strategy !== 'check') {
      throw new TributaryError(`snapshot '${snapshot.name}' has strategy '${strategy || '(none)'}'`, { place, hint: "give it strategy='timestamp' (with updated_at) or strategy='check' (with check_cols)" });
    }
    const uniqueKey = config.unique_key === undefined ? [] : Array.isArray(config.unique_key) ? config.unique_key.map(String) : [String(config.unique_key)];
    if (!uniqueKey.length) throw new TributaryError(`snapshot '${snapshot.name}' has no unique_key`, { place, hint: "add unique_key='<column>' to its config" });
    if (config.snapshot_meta_column_names) {
      throw new TributaryError(`snapshot '${snapshot.name}' renames its meta columns (snapshot_meta_column_names), which Tributary does not do yet`, { place, hint: 'remove the setting: the columns keep dbt’s names (dbt_scd_id, dbt_valid_from…)' });
    }
    const hard = String(config.hard_deletes ?? (config.invalidate_hard_deletes === true ? 'invalidate' : 'ignore'));
    if (hard !== 'ignore' && hard !== 'invalidate' && hard !== 'new_record') throw new TributaryError(`snapshot '${snapshot.name}' has hard_deletes '${hard}'`, { place, hint: 'hard_deletes may be ignore, invalidate or new_record' });
    const checkCols = config.check_cols === undefined ? undefined : config.check_cols === 'all' ? 'all' : Array.isArray(config.check_cols) ? config.check_cols.map(String) : [String(config.check_cols)];
    if (strategy === 'timestamp' && !config.updated_at) throw new TributaryError(`snapshot '${snapshot.name}' uses the timestamp strategy without updated_at`, { place, hint: "add updated_at='<column>' to its config" });
    if (strategy === 'check' && !checkCols) throw new TributaryError(`snapshot '${snapshot.name}' uses the check strategy without check_cols`, { place, hint: "add check_cols=['a', 'b'] (or 'all') to its config" });
    return {
      kind: 'snapshot',
      strategy,
      uniqueKey,
      updatedAt: config.updated_at === undefined ? undefined : String(config.updated_at),
      checkCols,
      hardDeletes: hard,
      validToCurrent: config.dbt_valid_to_current === undefined ? undefined : String(config.dbt_valid_to_current),
    };
  }

  /** How a model's rows land: its materialisation, and for a microbatch its event_time as the time column. */
  private landing(model: DbtModelFile, config: NodeConfig, state: RenderState): Pick<DbtModelConfig, 'materialize' | 'timeColumn'> {
    const asked = String(config.incremental_strategy ?? 'default');
    // Batches keep their own record from the first build on; --full-refresh rebuilds the table whole.
    if (String(config.materialized) === 'incremental' && asked === 'microbatch' && !state.fullRefresh) return { materialize: this.microbatch(model, config), timeColumn: String(config.event_time) };
    return { materialize: this.materialize(model, config, state) };
  }

  private materialize(model: DbtModelFile, config: NodeConfig, state: RenderState): DbtMaterialize {
    const kind = String(config.materialized ?? 'view');
    if (kind === 'view' || kind === 'table' || kind === 'ephemeral') return kind;
    if (kind !== 'incremental') {
      throw new TributaryError(`model '${model.name}' is materialized as '${kind}', which Tributary does not run yet`, {
        place: this.place(model.file),
        hint: 'materialized may be view, table, ephemeral or incremental',
      });
    }
    const asked = String(config.incremental_strategy ?? 'default');
    const uniqueKey = config.unique_key === undefined ? undefined : Array.isArray(config.unique_key) ? config.unique_key.map(String) : String(config.unique_key).split(',').map((k) => k.trim());
    // dbt-duckdb's default strategy is delete+insert, which is an append without a unique key.
    const strategy = asked === 'default' ? (uniqueKey ? 'delete+insert' : 'append') : asked;
    // Checked on the first build too (dbt checks once the table exists): a misspelt strategy or a
    // missing key is found then, not on the run after it.
    if (strategy !== 'append' && strategy !== 'merge' && strategy !== 'delete+insert' && strategy !== 'microbatch') {
      throw new TributaryError(`model '${model.name}' asks for incremental_strategy '${asked}', which Tributary does not run yet`, {
        place: this.place(model.file),
        hint: 'incremental strategies: append, merge, delete+insert, microbatch',
      });
    }
    if ((strategy === 'merge' || strategy === 'delete+insert') && !uniqueKey?.length) {
      throw new TributaryError(`model '${model.name}' uses incremental_strategy '${strategy}' without a unique_key`, { place: this.place(model.file), hint: "add unique_key='<column>' to its config" });
    }
    // A first build, or --full-refresh (a microbatch model's too), builds the whole table; later runs add to it.
    if (state.fullRefresh || !state.existing.has(model.name) || strategy === 'microbatch') return 'table';
    return { kind: 'incremental', strategy, uniqueKey: strategy === 'append' ? undefined : uniqueKey, onSchemaChange: this.onSchemaChange(model, config) };
  }

  /** dbt's microbatch config as Tributary's: event_time, batch_size, lookback (dbt's default 1) and begin. */
  private microbatch(model: DbtModelFile, config: NodeConfig): DbtMaterialize {
    const sizes = ['hour', 'day', 'month', 'year'] as const;
    const size = sizes.find((s) => s === String(config.batch_size));
    const missing = [!config.event_time && 'event_time', !size && `batch_size (${sizes.join(', ')})`, !config.begin && 'begin'].filter(Boolean);
    if (missing.length) {
      throw new TributaryError(`model '${model.name}' uses incremental_strategy 'microbatch' without ${missing.join(', ')}`, {
        place: this.place(model.file),
        hint: "add them to its config, e.g. config(materialized='incremental', incremental_strategy='microbatch', event_time='created_at', batch_size='day', begin='2024-01-01')",
      });
    }
    const lookback = config.lookback === undefined ? 1 : Number(config.lookback);
    // dbt takes a date or a datetime (UTC unless it says otherwise).
    const begin = String(config.begin).trim();
    const instant = /^\d{4}-\d{2}-\d{2}$/.test(begin) ? begin : new Date(Date.parse(`${begin.replace(' ', 'T')}${/([zZ]|[+-]\d\d:?\d\d)$/.test(begin) ? '' : 'Z'}`));
    if (typeof instant !== 'string' && Number.isNaN(instant.getTime())) {
      throw new TributaryError(`model '${model.name}' has begin '${begin}', which is no date`, { place: this.place(model.file), hint: "write it as '2024-01-01' or '2024-01-01 06:00:00'" });
    }
    return { kind: 'incremental', strategy: 'microbatch', batchSize: size!, lookback, begin: typeof instant === 'string' ? instant : instant.toISOString(), onSchemaChange: this.onSchemaChange(model, config) };
  }

  private onSchemaChange(model: DbtModelFile, config: NodeConfig): SchemaChange {
    const asked = String(config.on_schema_change ?? 'ignore');
    const known = SCHEMA_CHANGES.find((c) => c === asked);
    if (!known) throw new TributaryError(`model '${model.name}' has on_schema_change '${asked}'`, { place: this.place(model.file), hint: `on_schema_change may be ${SCHEMA_CHANGES.join(', ')}` });
    return known;
  }

  /** A query of the user's own (`show --inline`) rendered as a model is: Jinja, macros, vars, and refs as Tributary's. */
  renderInline(text: string): string {
    const { env, current } = this.environment({ existing: new Set(), fullRefresh: false }, 'model');
    current.file = '--inline';
    const rendered = env.render(text, '--inline').trim().replace(/;\s*$/, '');
    refuseLeftovers(rendered, '--inline', this.files.dir);
    return tributaryRefs(rendered);
  }

  /** A source table as the engine reads it (its file, its seed, or its table). */
  sourceRelation(source: string, table: string): string {
    const { env } = this.environment({ existing: new Set(), fullRefresh: false }, 'test');
    return env.render(`{{ source(${JSON.stringify(source)}, ${JSON.stringify(table)}) }}`, this.files.sources.find((s) => s.source === source && s.table === table)?.file ?? 'sources.yml');
  }

  /** A model's SQL for one of its unit tests: every input read from its given rows, the test's overrides applied. */
  renderUnitTest(test: DbtUnitTest, state: RenderState, unit: UnitRendering): string {
    const model = this.files.models.find((m) => m.name === test.model);
    if (!model) {
      throw new TributaryError(`unit test '${test.name}' tests '${test.model}', which is no model of this project`, { place: this.place(test.file), hint: `models: ${this.files.models.map((m) => m.name).join(', ')}` });
    }
    const { env, current } = this.environment(state, 'test', unit);
    current.node = model;
    current.file = model.file;
    current.config = { ...model.config, tags: [...model.config.tags] };
    const text = env.render(model.text, model.file).trim().replace(/;\s*$/, '');
    refuseLeftovers(text, model.file, this.files.dir);
    return text;
  }

  /** The relation an input of a unit test names, in the warehouse (whose columns type the given rows). */
  inputRelation(input: string, model: string): string {
    if (input === 'this') return `main.${quoteIdent(model)}`;
    const { env } = this.environment({ existing: new Set(), fullRefresh: false }, 'test');
    return env.render(`{{ ${input} }}`, DBT_PROJECT_FILE).trim();
  }

  /** Every test of the project as SQL returning its failing rows, with the nodes it reads; `storeAll` overrides each one's store_failures. */
  tests(storeAll?: boolean, rendering?: TestRendering): CompiledTest[] {
    return compileTests(this, storeAll, rendering);
  }
}
