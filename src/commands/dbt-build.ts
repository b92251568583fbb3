import { TributaryError, abortReason, errorMessage, unknownTypeError } from '../core/errors.js';
import { declaredColumns } from '../core/schemas.js';
import { parseSqlTree, quoteIdent, quoteLiteral } from '../engine/sql.js';
import type { Engine } from '../engine/index.js';
import { compileProject, runModels, selectModels, type ModelHooks, type ModelPlan, type ProjectPlan } from '../models/index.js';
import { queryableTables, type Workspace } from '../state/workspace.js';
import { renderForRun } from '../config/dbt.js';
import type { Project } from '../config/project.js';
import { runUnitTest } from './dbt-unit-tests.js';
import { QueryFailed, questionKey, Unanswered, type Answer, type CompiledTest, type RenderState } from '../dbt/index.js';

/**
 * dbt's `build`, `test` and `seed` over Tributary's runner: seeds and models run through
 * `runModels` (one node at a time, in DAG order, so each node's tests run before what reads it),
 * tests count their failing rows in the engine. A test that fails with severity error skips the
 * models downstream of what it tests, as dbt does.
 */

export type NodeStatus = 'success' | 'error' | 'skipped' | 'pass' | 'fail' | 'warn';

export interface NodeResult {
  node: string;
  type: 'seed' | 'snapshot' | 'model' | 'test' | 'unit_test' | 'operation';
  status: NodeStatus;
  /** Tests: the generic test's name (not_null…), or `singular`; its model (a unit test's too) and column. */
  test?: string;
  model?: string;
  column?: string;
  failures?: number;
  detail: string;
  /** A failed node: what its error said to do (where its quarantined rows are, say). */
  hint?: string;
}

export interface BuildOptions {
  select?: string[];
  exclude?: string[];
  fullRefresh?: boolean;
  /** Which nodes to run: everything (build), seeds, snapshots, tests. */
  only?: 'seeds' | 'snapshots' | 'tests';
  /** Nodes built at the same time (default: the profile target's threads, as dbt's). */
  threads?: number;
  /** Every test keeps its failing rows (dbt's --store-failures); undefined: as each test's config says. */
  storeFailures?: boolean;
  log: (message: string) => void;
  /** Stops the build: the nodes running are interrupted and commit nothing, the rest are skipped. */
  signal?: AbortSignal;
}

/**
 * The project as one run sees it, its templates answered by the warehouse: a render that asks a
 * question (run_query, statement, get_columns_in_relation) stops, the engine answers it, and the
 * project renders again with every answer so far, until no question is left. Queries over a node
 * not built yet read its SQL as dbt's parse renders it (`execute` false).
 */
async function renderWithWarehouse(project: Project, state: RenderState, engine: Engine): Promise<Project> {
  const dbt = project.dbt;
  if (!dbt) return project;
  // dbt's parse of every node: enough SQL for a query over a node not built yet, rendered only when a query reads one.
  let parsed: ReadonlyMap<string, string> | undefined;
  const previous = () => (parsed ??= dbt.surface.render(state).marked);
  return answered(engine, project.dir, (answers) => renderForRun(project, { ...state, answers, previous }));
}

/**
 * `render` run until it asks the warehouse nothing it has not answered: a render that asks stops,
 * the engine answers, and it runs again with every answer so far.
 */
async function answered<T>(engine: Engine, dir: string, render: (answers: Map<string, Answer>) => T): Promise<T> {
  const answers = new Map<string, Answer>();
  for (let asked = 0; ; asked++) {
    try {
      return render(answers);
    } catch (error) {
      if (!(error instanceof Unanswered)) throw error;
      if (asked >= MAX_QUESTIONS) {
        throw new TributaryError(`the templates asked the warehouse more than ${MAX_QUESTIONS} questions while rendering`, { place: { file: dir }, hint: 'a macro runs a query per row or per column: compute it in SQL instead' });
      }
      const { question } = error;
      // Rendering may run many times: only one read-only query is ever answered (one SELECT, as DuckDB parses it).
      const tree = await parseSqlTree(engine, question.sql);
      if (tree.error || tree.statements?.length !== 1) {
        // The parser's words say why: a syntax error, or a statement that is no select.
        const why = tree.error ? String(tree.error_message ?? 'the parser refused it').split('\n')[0] : `${tree.statements?.length ?? 0} statements`;
        throw new TributaryError(`a template asked the warehouse something other than one select while rendering (${why}): ${question.sql.replace(/\s+/g, ' ').trim().slice(0, 200)}`, {
          place: { file: error.file ?? dir },
          hint: 'run_query() and statement() run one select while a model renders: fix its SQL, or write a change as a model',
        });
      }
      try {
        const columns = await engine.describe(question.sql);
        const rows = question.kind === 'rows' ? (await engine.query<Record<string, unknown>>(question.sql)).map((row) => columns.map((c) => row[c.name])) : [];
        answers.set(questionKey(question), { columns, rows });
      } catch (failure) {
        // The node that asked fails with it when it renders again; the rest render on.
        const failed = new QueryFailed(`a query this template runs while it renders failed: ${errorMessage(failure).split('\n')[0]}`, {
          place: { file: error.file ?? dir },
          hint: `the query (run_query, statement, get_columns_in_relation) runs in the warehouse as the template writes it: ${question.sql.replace(/\s+/g, ' ').slice(0, 200)}`,
          cause: failure,
        });
        answers.set(questionKey(question), { columns: [], rows: [], failed });
      }
    }
  }
}

/** A test rendered as dbt renders it when its turn comes: what it tests is built, and its templates may query it. */
async function renderTestNow(ws: Workspace, plan: ProjectPlan, test: CompiledTest, storeAll: boolean | undefined): Promise<CompiledTest> {
  const surface = ws.project.dbt!.surface;
  const existing = await queryableTables(ws.engine);
  let parsed: ReadonlyMap<string, string> | undefined;
  const previous = () => (parsed ??= surface.render({ existing, fullRefresh: false }).marked);
  const inlined = new Set([...plan.models.values()].filter((m) => m.materialization.reference === 'inline').map((m) => m.name));
  const state = { existing, fullRefresh: false, previous, inlined };
  const [rendered] = await answered(ws.engine, ws.project.dir, (answers) => surface.tests(storeAll, { state: { ...state, answers }, only: test.name }));
  return rendered ?? test;
}

const MAX_QUESTIONS = 1_000;

/**
 * A seed's column_types entry the engine does not know, named where a dbt user declares it, before
 * a template's question about the seed (or its load) meets it in the engine's words.
 */
async function refuseUnknownSeedTypes(project: Project, engine: Engine): Promise<void> {
  for (const [sourceName, seedFile] of project.dbt?.seeds ?? []) {
    const columns = project.config.sources[sourceName]?.columns;
    const unknown = columns && (await engine.unknownType(declaredColumns(columns)));
    if (unknown) throw unknownTypeError(unknown, { file: seedFile, field: `column_types.${unknown.name}` }, "in the seed's column_types (dbt_project.yml or its properties file)");
  }
}

/** The workspace seen through a render of the dbt models for what its warehouse holds now. */
export async function dbtWorkspace(ws: Workspace, fullRefresh = false): Promise<Workspace> {
  if (!ws.project.dbt) return ws;
  await refuseUnknownSeedTypes(ws.project, ws.engine);
  return ws.withProject(await renderWithWarehouse(ws.project, { existing: await queryableTables(ws.engine), fullRefresh }, ws.engine));
}

/** `tributary run` on a dbt project builds models only, as `dbt run` does: the seeds they read must be loaded already. */
export async function refuseUnloadedSeeds(ws: Workspace, selection: { select?: string[]; exclude?: string[] }): Promise<void> {
  const seeds = ws.project.dbt?.surface.seeds;
  if (!seeds?.size) return;
  const existing = await queryableTables(ws.engine);
  const plan = compileProject(ws.project, ws, existing);
  const selected = selectModels(plan, selection.select, selection.exclude).filter((m) => !seeds.has(m.name));
  const missing = [...new Set(selected.flatMap((m) => [...ancestorsOf(plan, m)]))].filter((n) => seeds.has(n) && !existing.has(n));
  if (missing.length) {
    throw new TributaryError(`the models read seeds that are not loaded yet: ${missing.join(', ')}`, {
      place: { file: ws.project.dir },
      hint: 'load them with `tributary seed` (or run everything with `tributary build`); nothing was run',
    });
  }
}

export function requireDbt(ws: Workspace, command: string): NonNullable<Workspace['project']['dbt']> {
  if (!ws.project.dbt) {
    throw new TributaryError(`\`tributary ${command}\` works on a dbt project, and this folder has no dbt_project.yml`, {
      place: { file: ws.project.dir },
      hint: command === 'build' ? 'run `tributary run` to build the models of a Tributary project (it runs its checks too)' : 'add a dbt_project.yml, or use `tributary run`',
    });
  }
  return ws.project.dbt;
}

/**
 * A test's status from its failing rows: error_if and warn_if against the count, then its
 * severity. With `audit`, its failing rows are first kept in a table of that schema, as dbt's
 * store_failures keeps them (replaced by each run, empty when the test passes).
 */
async function runTest(engine: Engine, test: CompiledTest, audit: string | undefined): Promise<NodeResult> {
  const base = { node: test.name, type: 'test' as const, test: test.kind, model: test.model, column: test.column };
  try {
    const stored = audit ? `${quoteIdent(audit)}.${quoteIdent(test.name)}` : undefined;
    if (stored) await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(audit!)}; CREATE OR REPLACE TABLE ${stored} AS ${test.sql}`);
    const count = test.failCalc;
    const [row] = await engine.query<{ failures: bigint | number | null; warn: boolean; error: boolean }>(
      `SELECT ${count} AS failures, (${count} ${test.warnIf}) AS warn, (${count} ${test.errorIf}) AS error FROM ${stored ?? `(${test.sql})`} AS dbt_internal_test`,
    );
    const failures = Number(row!.failures ?? 0);
    const status: NodeStatus = test.severity === 'error' && row!.error ? 'fail' : row!.warn ? 'warn' : 'pass';
    const kept = stored && failures ? `, kept in ${audit}.${test.name}` : '';
    // A test may fail on no rows (error_if '<1', a fail_calc of its own): what it counted is said with the bar it missed.
    const detail = status === 'pass' ? (failures ? `${failures} failing row(s)` : 'ok') : `${failures} failing row(s)${failures ? '' : ` (${status === 'warn' ? `warns if ${test.warnIf}` : `fails if ${test.errorIf}`})`}${status === 'warn' ? ', a warning' : ''}`;
    return { ...base, status, failures, detail: `${detail}${kept}` };
  } catch (error) {
    return { ...base, status: 'error', detail: `${test.file}: ${errorMessage(error).split('\n')[0]}` };
  }
}

/**
 * Each built node also where dbt would have put it: a view in the schema and under the alias its
 * config names (`+schema`, `alias`, the target's schema, the project's `generate_schema_name`), over
 * the table Tributary keeps in `main` under the node's name. Tools that read the warehouse file by
 * dbt's names find the same rows; a dbt-built table left at that name is replaced, as dbt would.
 */
export async function publishDbtRelations(ws: Workspace, names: readonly string[]): Promise<void> {
  const relations = ws.project.dbt?.relations;
  if (!relations) return;
  const existing = await queryableTables(ws.engine);
  for (const name of names) {
    const relation = relations.get(name);
    if (!relation || !existing.has(name) || (relation.schema.toLowerCase() === 'main' && relation.identifier === name)) continue;
    const target = `${quoteIdent(relation.schema)}.${quoteIdent(relation.identifier)}`;
    const [found] = await ws.engine.query<{ table_type: string }>(
      `SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = ${quoteLiteral(relation.schema)} AND table_name = ${quoteLiteral(relation.identifier)}`,
    );
    await ws.engine.run(
      `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(relation.schema)}; ${found && found.table_type !== 'VIEW' ? `DROP TABLE ${target}; ` : ''}CREATE OR REPLACE VIEW ${target} AS SELECT * FROM main.${quoteIdent(name)}`,
    );
  }
}

/**
 * What a dbt project does around each node a run builds: its pre-hooks, then, once it committed,
 * its post-hooks and its relation where dbt puts it. A hook that fails fails the node.
 */
export function dbtModelHooks(ws: Workspace): ModelHooks | undefined {
  const dbt = ws.project.dbt;
  if (!dbt) return undefined;
  return {
    before: async (model) => {
      const failed = dbt.failed.get(model);
      if (failed) throw failed;
      await runHooks(ws, dbt.hooks.get(model)?.pre ?? [], `a pre-hook of '${model}'`);
    },
    after: async (model) => {
      await runHooks(ws, dbt.hooks.get(model)?.post ?? [], `a post-hook of '${model}'`);
      await publishDbtRelations(ws, [model]);
    },
  };
}

/**
 * on-run-start (`start`) or on-run-end of a dbt project, around a command's nodes, each an
 * operation as dbt reports it. Before the start, every schema a node is built in exists (as dbt
 * creates them first), so a hook may write there.
 */
export async function runOnRunHooks(ws: Workspace, when: 'start' | 'end'): Promise<NodeResult[]> {
  const dbt = ws.project.dbt;
  const hooks = dbt?.hooks.get('');
  if (!dbt || !hooks) return [];
  if (when === 'start') for (const schema of new Set([...dbt.relations.values()].map((r) => r.schema))) await ws.engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  const statements = when === 'start' ? hooks.pre : hooks.post;
  const results: NodeResult[] = [];
  for (const [index, sql] of statements.entries()) {
    await runHooks(ws, [sql], `on-run-${when}`);
    results.push({ node: `${dbt.surface.files.name}-on-run-${when}-${index}`, type: 'operation', status: 'success', detail: 'ok' });
  }
  return results;
}

async function runHooks(ws: Workspace, statements: readonly string[], what: string): Promise<void> {
  if (!statements.length) return;
  const before = await queryableTables(ws.engine);
  for (const sql of statements) {
    try {
      await ws.engine.run(sql);
    } catch (error) {
      throw new TributaryError(`${what} failed: ${errorMessage(error).split('\n')[0]}`, {
        place: { file: ws.project.dir },
        hint: `the hook ran as: ${sql.split('\n')[0]!.slice(0, 120)}; fix it in its config (tributary compile shows the models' SQL)`,
      });
    }
  }
  await forgetDropped(ws, before, what);
}

/**
 * Tables and views a hook dropped (`adapter.drop_relation`, a `DROP` of its own) are gone from the
 * catalog too, as from dbt's warehouse: else the view is made again when the workspace next opens
 * and `tributary catalog` lists both. What the hook dropped is what the engine held before it and
 * holds no more; a lake or crawled table's view comes back from its files, which a hook does not drop.
 */
async function forgetDropped(ws: Workspace, before: ReadonlySet<string>, what: string): Promise<void> {
  const after = await queryableTables(ws.engine);
  const dropped = new Set([...before].filter((name) => !after.has(name)));
  if (!dropped.size) return;
  const gone = (await ws.metastore.tables()).filter((t) => (t.kind === 'view' || t.kind === 'table') && dropped.has(t.name.toLowerCase()));
  if (!gone.length) return;
  await ws.metastore.commit(ws.engine, { operation: 'drop', summary: `${gone.map((t) => t.name).join(', ')} dropped by ${what}` }, async (tx) => {
    for (const table of gone) await tx.dropTable(table.name);
  });
}

/** Every node a model reads, transitively (models and seeds). */
function ancestorsOf(plan: ProjectPlan, model: ModelPlan): Set<string> {
  const out = new Set<string>();
  const walk = (m: ModelPlan) => {
    for (const ref of m.refs) {
      const parent = plan.models.get(ref);
      if (parent && !out.has(ref)) {
        out.add(ref);
        walk(parent);
      }
    }
  };
  walk(model);
  return out;
}

export async function buildDbt(ws: Workspace, options: BuildOptions): Promise<NodeResult[]> {
  const dbt = requireDbt(ws, options.only === 'tests' ? 'test' : options.only === 'seeds' ? 'seed' : options.only === 'snapshots' ? 'snapshot' : 'build');
  const view = await dbtWorkspace(ws, options.fullRefresh);
  const plan = compileProject(view.project, view, await queryableTables(ws.engine));
  const { seeds, snapshots } = dbt.surface;
  const typeOf = (name: string) => (seeds.has(name) ? 'seed' : snapshots.has(name) ? 'snapshot' : 'model');
  let nodes = selectModels(plan, options.select, options.exclude);
  if (options.only === 'seeds') nodes = nodes.filter((m) => seeds.has(m.name));
  if (options.only === 'snapshots') nodes = nodes.filter((m) => snapshots.has(m.name));
  const chosen = new Set(nodes.map((m) => m.name));
  // `seed` and `snapshot` run no test, as in dbt. A test runs when every node it reads is selected
  // (a relationships test reads two); one that reads no node (a source's file) with an unfiltered build or test.
  const withTests = options.only !== 'seeds' && options.only !== 'snapshots';
  const selectedTest = (t: CompiledTest) =>
    t.depends.length === 0 ? !options.select?.length : t.depends.every((d) => chosen.has(d) || (options.only === 'tests' && plan.models.has(d))) && t.depends.some((d) => chosen.has(d));
  const tests = withTests ? dbt.surface.tests(options.storeFailures).filter(selectedTest) : [];
  // A model's unit tests run before it builds (a failing one skips it), or with `test`, before the data tests.
  const unitTests = withTests ? dbt.surface.files.unitTests.filter((t) => chosen.has(t.model)) : [];
  const unitState = { existing: await queryableTables(ws.engine), fullRefresh: options.fullRefresh ?? false };
  const withWarehouse = (render: (state: RenderState) => string) => answered(ws.engine, ws.project.dir, (answers) => render({ ...unitState, answers }));
  /** A model's unit tests, or each skipped for `skip` (why the model is skipped: its unit tests are too, as in dbt). */
  const runUnitTests = async (model: string, skip?: string): Promise<NodeResult | undefined> => {
    let failed: NodeResult | undefined;
    for (const test of unitTests.filter((t) => t.model === model)) {
      // As dbt's build: once one unit test of a model fails, the model's other unit tests are skipped with it.
      const skipped = skip ?? (failed && options.only !== 'tests' ? `unit test ${failed.node} of ${model} did not pass` : undefined);
      const result: NodeResult = skipped
        ? { node: test.name, type: 'unit_test', model, status: 'skipped', detail: skipped }
        : await runUnitTest(ws.engine, dbt.surface, test, withWarehouse);
      results.push(result);
      options.log(`${result.status === 'pass' ? '✔' : result.status === 'skipped' ? '⊘' : '✘'} unit test ${test.name}: ${result.detail}`);
      failed ??= result.status === 'pass' ? undefined : result;
    }
    return failed;
  };
  const results: NodeResult[] = [];
  const status = new Map<string, NodeStatus>();
  const failedTests: CompiledTest[] = [];
  const testsDone = new Set<string>();

  const runReadyTests = async () => {
    for (const test of tests) {
      if (testsDone.has(test.name)) continue;
      const states = test.depends.map((d) => (chosen.has(d) && options.only !== 'tests' ? status.get(d) : 'success'));
      if (states.some((s) => s === undefined)) continue;
      testsDone.add(test.name);
      if (options.signal?.aborted) {
        results.push({ node: test.name, type: 'test', test: test.kind, model: test.model, column: test.column, status: 'skipped', detail: `the build was stopped (${abortReason(options.signal)})` });
        continue;
      }
      if (states.some((s) => s !== 'success')) {
        results.push({ node: test.name, type: 'test', test: test.kind, model: test.model, column: test.column, status: 'skipped', detail: 'what it tests was not built' });
        continue;
      }
      const result = await renderTestNow(view, plan, test, options.storeFailures).then(
        (now) => runTest(ws.engine, now, now.storeFailures ? `${dbt.surface.files.target.schema}_dbt_test__audit` : undefined),
        (error: unknown): NodeResult => ({ node: test.name, type: 'test', test: test.kind, model: test.model, column: test.column, status: 'error', detail: `${test.file}: ${errorMessage(error).split('\n')[0]}` }),
      );
      results.push(result);
      if (result.status === 'fail' || result.status === 'error') failedTests.push(test);
      const mark = result.status === 'pass' ? '✔' : result.status === 'warn' ? '!' : '✘';
      options.log(`${mark} test ${test.name}: ${result.detail}`);
    }
  };

  // Tests run one at a time, after the nodes they read; a node waits for its ancestors and for
  // the tests over them (a failed one skips it), and up to `threads` nodes build at once.
  let testing = Promise.resolve();
  const settleTests = () => (testing = testing.then(runReadyTests));
  const buildNode = async (model: (typeof nodes)[number], ancestors: ReadonlySet<string>) => {
    const type = typeOf(model.name);
    const blockedBy = [...ancestors].find((a) => chosen.has(a) && status.get(a) !== 'success');
    // A test that reads no node (a singular test over literals) is upstream of nothing.
    const failedTest = failedTests.find((t) => t.depends.length > 0 && t.depends.every((d) => ancestors.has(d)));
    const stopped = options.signal?.aborted ? abortReason(options.signal) : undefined;
    const upstream = stopped
      ? `the build was stopped (${stopped})`
      : failedTest
        ? `test ${failedTest.name} failed`
        : blockedBy
          ? `it reads '${blockedBy}', which ${status.get(blockedBy) === 'error' ? 'failed' : 'was skipped'}`
          : undefined;
    const failedUnit = await runUnitTests(model.name, upstream);
    if (upstream || failedUnit) {
      const because = upstream ?? `unit test ${failedUnit!.node} ${failedUnit!.status === 'fail' ? 'failed' : 'could not run'}`;
      status.set(model.name, 'skipped');
      results.push({ node: model.name, type, status: 'skipped', detail: because });
      options.log(`⊘ ${type} ${model.name} skipped: ${because}`);
      return;
    }
    // A node that could not be rendered fails here, an ephemeral one too (nothing of it runs to fail it), so what reads it is skipped.
    const unrendered = view.project.dbt?.failed.get(model.name);
    if (unrendered) {
      status.set(model.name, 'error');
      results.push({ node: model.name, type, status: 'error', detail: errorMessage(unrendered).split('\n')[0]!, ...(unrendered.hint ? { hint: unrendered.hint } : {}) });
      return;
    }
    try {
      const [result] = await runModels(view, { select: [model.name], quiet: true, trigger: 'cli', log: options.log, hooks: dbtModelHooks(view), signal: options.signal });
      status.set(model.name, 'success');
      // An ephemeral model is SQL inlined where it is read, not a node dbt runs or reports.
      if (model.materialization.reference === 'inline') return;
      results.push({ node: model.name, type, status: 'success', detail: result ? `${result.materialize}: ${result.holdsRows ? `${result.written} row(s)` : 'defined'}` : 'done' });
    } catch (error) {
      status.set(model.name, 'error');
      const hint = error instanceof TributaryError ? error.hint : undefined;
      results.push({ node: model.name, type, status: 'error', detail: errorMessage(error).split('\n')[0]!, ...(hint ? { hint } : {}) });
    }
  };
  results.push(...(await runOnRunHooks(view, 'start')));
  if (options.only !== 'tests') {
    const threads = Math.max(1, options.threads ?? ws.project.config.threads);
    const pending = nodes.map((model) => ({ model, ancestors: ancestorsOf(plan, model) }));
    const running = new Set<Promise<void>>();
    const ready = ({ ancestors }: (typeof pending)[number]) =>
      [...ancestors].every((a) => !chosen.has(a) || status.has(a)) && tests.every((t) => testsDone.has(t.name) || !t.depends.length || !t.depends.every((d) => ancestors.has(d)));
    while (pending.length || running.size) {
      for (const node of pending.filter(ready)) {
        if (running.size >= threads) break;
        pending.splice(pending.indexOf(node), 1);
        const job: Promise<void> = buildNode(node.model, node.ancestors)
          .then(settleTests)
          .finally(() => running.delete(job));
        running.add(job);
      }
      if (!running.size) break;
      await Promise.race(running);
    }
    // Not reached while the DAG is acyclic (the planner refuses cycles); said rather than dropped.
    for (const { model } of pending) results.push({ node: model.name, type: typeOf(model.name), status: 'skipped', detail: 'its upstream never finished' });
  }
  if (options.only === 'tests') for (const model of chosen) await runUnitTests(model);
  if (withTests) await runReadyTests();
  // As dbt: a stopped command does not run its on-run-end hooks (they often grant or record a finished run).
  if (options.signal?.aborted) options.log(`on-run-end hooks not run: the build was stopped (${abortReason(options.signal)})`);
  else results.push(...(await runOnRunHooks(view, 'end')));
  return results;
}
