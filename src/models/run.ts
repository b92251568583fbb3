import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { RAW_KEEP_CHARS, type CatalogTransaction, type ColumnInfo, type QuarantineRow, type RunCounts, type RunPhase, type RunTrigger } from '../catalog/index.js';
import { openSource, PartitionKeyError, type DivertedNote, type LineFingerprint, type RecordPlace, type RejectedRow, type SourceScan, type Staged, type TableShape, type WriteMode } from '../connectors/index.js';
import type { SourceConfig } from '../config/config.js';
import { groupBy } from '../core/collections.js';
import { TributaryError, abortReason, diskFullHint, errorMessage, isDiskFull } from '../core/errors.js';
import { intervalDays, type DataInterval } from '../core/interval.js';
import { declaredColumns } from '../core/schemas.js';
import { createProgress, withQueryProgress, type Progress } from '../core/progress.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent, quoteLiteral, listParameter } from '../engine/index.js';
import { PARSE_ERROR, SKIPPED, VERDICT, reasonExpression, ruleChecks, ruleTypeProblem, ruleWithoutColumn, verdictExpression } from '../quality/index.js';
import { assertLoadAcceptable } from '../quality/threshold.js';
import type { HistoryInput } from '../materializations/index.js';
import { planBatches, type BatchPlan } from './batches.js';
import { carrySourceColumns } from './carry.js';
import { compileProject, materializationComponent, materializationContext, type ModelPlan, type ProjectPlan, type Relations } from './plan.js';
import { selectModels } from './select.js';
import { engineGzipError } from '../core/gzip.js';
import { printable } from '../core/printable.js';
import { queryableTables, type Workspace } from '../state/workspace.js';

export interface RunOptions {
  /** Selectors in dbt's syntax (`orders+`, `tag:daily`, `path:models/staging`…); none: every model. */
  select?: readonly string[];
  exclude?: readonly string[];
  /** The data interval to (re)build; none rebuilds everything. */
  interval?: DataInterval;
  /** Models built at the same time (default: the project's `threads`). */
  threads?: number;
  trigger?: RunTrigger;
  /** Runs started together share a group (a scheduled job run, one `tributary run`). */
  group?: string;
  attempt?: number;
  log?: (message: string) => void;
  /** Makes a progress reporter (rows, MB/s, ETA) for a long step. */
  progress?: (label: string, totalBytes?: number) => Progress;
  quiet?: boolean;
  /** Stops the run (a scheduled task's timeout): the statements running are interrupted, nothing more commits. */
  signal?: AbortSignal;
  /** Work around each model (dbt's pre- and post-hooks): `before` runs first, `after` once it committed; either failing fails the model. */
  hooks?: ModelHooks;
}

export interface ModelHooks {
  before(model: string): Promise<void>;
  after(model: string): Promise<void>;
}

export interface ModelResult extends RunCounts {
  model: string;
  runId: string;
  /** How its rows landed, as the summary shows it: `lake`, `table`, `source load`… */
  materialize: string;
  seconds: number;
  partitions: number;
  /** Rows of the source outside the run's interval: another run's business. */
  skipped: number;
  /** False for a model that defines a query and keeps no rows (a view): its `written` counts nothing. */
  holdsRows: boolean;
}

/** A run in which some models failed: what committed, what failed and why, and what was not run because of it. */
export class RunFailed extends TributaryError {
  constructor(
    message: string,
    hint: string,
    readonly results: ModelResult[],
    readonly failed: { model: string; error: unknown }[],
    readonly skipped: { model: string; because: string }[],
  ) {
    // One failure keeps its place (file, line, field): the run failed where it did.
    const only = failed.length === 1 && failed[0]!.error instanceof TributaryError ? failed[0]!.error : undefined;
    super(message, { hint, cause: failed[0]?.error, place: only?.place });
  }
}

/** Columns a load carries through its model for bookkeeping; never part of a table. */
const LOCATION = ['__file', '__record'];
/** Each row's verdict once the interval has had its say: 'ok', a rule's key, 'parse', 'outside' or 'unplaced'. */
const ROW_VERDICT = '__verdict';
/** Each row's verdict inside a load, before its file is added to a failing one's. */
const ROW_RULE = '__v';
const OUTSIDE = 'outside';
/**
 * A row whose place in time is NULL belongs to no day: a run for an interval quarantines it (had it
 * been written, every day's run would write it again, and no day's run would replace it).
 */
const UNPLACED = 'unplaced';
/** Joins a failing row's verdict to its file's hash, when the source labels rows with their file. */
const FILE_MARK = '_in_';
/** A run may repair its input this many times (a runaway quote per file, say) before it gives up. */
const MAX_REPAIRS = 20;

/**
 * Runs the selected models as a DAG: each after what it reads, independent ones at the same time
 * (up to `threads`). A model that fails commits nothing, and the models that read it are skipped;
 * the others go on. The run then fails, naming each.
 *
 * A source's rows are accounted for by a load step before any model logic: every row read is
 * loaded or quarantined with its reason (or, in a run for an interval, skipped as outside it). A
 * model that is its source's only reader and keeps its rows one for one loads it in its own pass;
 * otherwise the source is loaded once for the run, and the models read the loaded rows.
 */
export async function runModels(ws: Workspace, options: RunOptions = {}): Promise<ModelResult[]> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const plan = compileProject(ws.project, ws, await queryableTables(ws.engine));
  const selected = selectModels(plan, options.select, options.exclude).filter((m) => m.materialization.store);
  // Every store a run writes to is checked first: a missing database URL, or a database that cannot
  // be reached, stops the run before any model commits (not after the models before it ran).
  for (const store of new Set(selected.map((m) => m.materialization.store!))) await store.check();
  if (options.interval) await refuseUnplaceable(ws, plan, selected, options.interval);
  const run: RunContext = { ws, plan, options: { ...options, group: options.group ?? ws.metastore.newRunId() }, log, loads: new Map(), loaded: [] };
  const readers = new Map<string, number>();
  for (const model of selected) for (const source of model.sources) readers.set(source, (readers.get(source) ?? 0) + 1);
  // Which rows a run for an interval takes depends on each model's placement (its date partition,
  // or its time column in the job's zone): there every model that reads one source loads its own
  // pass, scoped to its own interval; a whole run loads a source several models read once for all.
  run.ownPass = (model) => model.sources.length === 1 && (readers.get(model.sources[0]!) === 1 || options.interval !== undefined);

  const results: ModelResult[] = [];
  const failed: { model: string; error: unknown }[] = [];
  const skipped: { model: string; because: string }[] = [];
  const dependencies = nearestSelectedUpstream(plan, selected);
  const threads = options.threads ?? ws.project.config.threads;
  const state = new Map<string, 'waiting' | 'running' | 'done' | 'failed' | 'skipped'>(selected.map((m) => [m.name, 'waiting']));
  await new Promise<void>((resolve) => {
    let running = 0;
    const pump = () => {
      for (const model of selected) {
        if (running >= threads) break;
        if (state.get(model.name) !== 'waiting') continue;
        if (options.signal?.aborted) {
          state.set(model.name, 'skipped');
          skipped.push({ model: model.name, because: `the run was stopped (${abortReason(options.signal)})` });
          continue;
        }
        const upstream = [...dependencies.get(model.name)!];
        const blocked = upstream.find((u) => state.get(u) === 'failed' || state.get(u) === 'skipped');
        if (blocked) {
          state.set(model.name, 'skipped');
          const because = state.get(blocked) === 'failed' ? `it reads '${blocked}', which failed` : `it reads '${blocked}', which was skipped`;
          skipped.push({ model: model.name, because });
          log(`⊘ ${model.name} skipped: ${because}`);
          continue;
        }
        if (upstream.some((u) => state.get(u) !== 'done')) continue;
        state.set(model.name, 'running');
        running++;
        const hooks = options.hooks;
        (hooks ? hooks.before(model.name).then(() => runModel(run, model)).then(async (result) => (await hooks.after(model.name), result)) : runModel(run, model))
          .then((result) => {
            results.push(result);
            state.set(model.name, 'done');
          })
          .catch((error: unknown) => {
            failed.push({ model: model.name, error });
            state.set(model.name, 'failed');
            log(`✘ ${model.name}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
          })
          .finally(() => {
            running--;
            // A skip may free others: go round until nothing changes.
            pump();
            if (running === 0 && [...state.values()].every((s) => s !== 'waiting' && s !== 'running')) resolve();
          });
      }
      if (running === 0 && [...state.values()].every((s) => s !== 'waiting' && s !== 'running')) resolve();
    };
    pump();
  });
  results.sort((a, b) => selected.findIndex((m) => m.name === a.model) - selected.findIndex((m) => m.name === b.model));
  const committed = results.length;
  // Sources loaded for several models come first, as they ran.
  results.unshift(...run.loaded);
  // Models are skipped without a failure only when the run was stopped.
  if (!failed.length && !skipped.length) return results;
  const stopped = options.signal?.aborted ? abortReason(options.signal) : undefined;
  const only = failed.length === 1 ? failed[0]! : undefined;
  const message = stopped
    ? `the run was stopped (${stopped})${failed.length ? `: ${failed.map((f) => f.model).join(', ')} interrupted` : ''}`
    : only
    ? only.error instanceof TributaryError
      ? only.error.message
      : errorMessage(only.error)
    : `${failed.length} models failed: ${failed.map((f) => `${f.model} (${errorMessage(f.error).split('\n')[0]})`).join('; ')}`;
  const outcome = `this run committed ${committed} of ${selected.length} model(s)${skipped.length ? `; not run because of the ${stopped ? 'stop' : 'failure'}: ${skipped.map((s) => s.model).join(', ')}` : ''}`;
  const hint = stopped
    ? `${outcome}; an interrupted model committed nothing: run again to build what was not`
    : only?.error instanceof TributaryError && only.error.hint
      ? `${only.error.hint}. ${outcome}`
      : `${outcome}; a failed model committed nothing: fix the cause and run again`;
  throw new RunFailed(message, hint, results, failed, skipped);
}

/** Each selected model's nearest selected models upstream: what must commit before it runs. */
function nearestSelectedUpstream(plan: ProjectPlan, selected: readonly ModelPlan[]): Map<string, Set<string>> {
  const chosen = new Set(selected.map((m) => m.name));
  const memo = new Map<string, Set<string>>();
  const upstream = (name: string): Set<string> => {
    let out = memo.get(name);
    if (out) return out;
    out = new Set();
    memo.set(name, out);
    for (const ref of plan.models.get(name)?.refs ?? []) {
      if (chosen.has(ref)) out.add(ref);
      else if (plan.models.has(ref)) for (const u of upstream(ref)) out.add(u);
    }
    return out;
  };
  return new Map(selected.map((m) => [m.name, upstream(m.name)]));
}

interface RunContext {
  ws: Workspace;
  plan: ProjectPlan;
  options: RunOptions & { group: string };
  log: (m: string) => void;
  /** Sources loaded for this run's models, by name: the table holding their rows. */
  loads: Map<string, Promise<string>>;
  /** What those loads read, loaded and quarantined. */
  loaded: ModelResult[];
  /** The model may load its one source in its own pass (if it keeps the rows one for one). */
  ownPass?: (model: ModelPlan) => boolean;
}

/**
 * The models of a run for an interval whose partitions are not days (and that have no time
 * column): refused together, before any of the run's models commits. A model whose type cannot be
 * known yet (a table it reads does not exist before this run) is checked when it runs.
 */
async function refuseUnplaceable(ws: Workspace, plan: ProjectPlan, selected: readonly ModelPlan[], interval: DataInterval): Promise<void> {
  const refused: string[] = [];
  const existing = await queryableTables(ws.engine);
  // A model's rows as types only: sources as empty typed relations, models not built yet inlined.
  const typed: Relations = (kind, name) => {
    if (kind === 'source') {
      const columns = ws.project.config.sources[name]?.columns;
      if (!columns) throw new Error('inferred source');
      return `(SELECT ${declaredColumns(columns).map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false)`;
    }
    const model = plan.models.get(name);
    return existing.has(name) || !model || model.materialization.reference === 'inline' ? undefined : `(${plan.sql(model, typed, interval)})`;
  };
  for (const model of selected) {
    const how = model.placement;
    if (how.kind !== 'partition') continue;
    try {
      const [p] = await ws.engine.describe(`SELECT ${model.config.partitionBy![how.key]} AS p FROM (${plan.sql(model, typed, interval)})`);
      if (p && p.type !== 'DATE') refused.push(`${model.name} (partitioned by ${Object.keys(model.config.partitionBy!).join(', ')}; its first key is ${p.type})`);
    } catch {
      // Known only when it runs.
    }
  }
  if (refused.length) {
    throw new TributaryError(`a run for ${describeInterval(interval)} cannot place the rows of ${refused.join(', ')} in a day; nothing was run`, {
      hint: 'declare timeColumn on such a model (the column that places a row in time) so a day’s run replaces that day’s rows, or run it without --date (a scheduled task: fullRefresh)',
    });
  }
}

async function runModel(outer: RunContext, model: ModelPlan, role: 'model' | 'load' = 'model'): Promise<ModelResult> {
  const { ws, log } = outer;
  const { metastore } = ws;
  const started = Date.now();
  // A model built in batches of time runs for the batches its catalog says are due, whatever the run's interval.
  const policy = model.materialization.batches;
  const batches = policy && planBatches(policy, await metastore.processedBatches(model.name), outer.options.interval, started);
  if (policy && !batches) {
    log(`✔ ${model.name} (${model.materialization.label}): no batch due (batches begin ${policy.begin})`);
    return { model: model.name, runId: '', materialize: model.materialization.label, seconds: 0, partitions: 0, skipped: 0, read: null, written: 0, quarantined: 0, holdsRows: true };
  }
  const run: RunContext = batches ? { ...outer, options: { ...outer.options, interval: batches.whole ? undefined : batches.interval } } : outer;
  if (batches) log(`  ${model.name}: ${batches.why}`);
  const { options } = run;
  // A transform shows no bar: its start says what the run is busy with (as dbt's START lines do).
  log(`… ${model.name} (${role === 'load' ? 'source' : model.materialization.label}) started`);
  const runId = metastore.newRunId();
  await metastore.startRun(runId, {
    target: model.name,
    kind: role,
    trigger: options.trigger ?? 'cli',
    group: options.group,
    attempt: options.attempt,
    params: options.interval ? { interval: options.interval } : undefined,
  });
  // Its own connection: a run works beside other models, stream commits and dashboard queries,
  // and gives way to stream micro-batches.
  const engine = await ws.engine.fork({ background: true });
  const interrupt = () => engine.interrupt();
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const scratchDir = path.join(ws.project.stateDir, 'scratch', runId);
  try {
    options.signal?.throwIfAborted();
    await refuseUnbuiltReads(run, model, engine);
    const step: ModelStep = { run, model, runId, engine, scratchDir, batches: batches || undefined };
    let outcome: LoadOutcome | undefined;
    if (run.ownPass?.(model) && model.materialization.store!.holdsRows) {
      mkdirSync(scratchDir, { recursive: true });
      outcome = await loadInOnePass(step);
      // A source's own load reads it through `SELECT *`; were that refused, the load would wait on itself.
      if (!outcome && role === 'load') throw new TributaryError(`source '${model.sources[0]}' cannot be loaded row for row: its reader's plan adds or drops rows`, { hint: 'report this with the source\'s config' });
    }
    outcome ??= { counts: await transform(step), skipped: 0 };
    const seconds = (Date.now() - started) / 1000;
    const partitions = Object.keys(model.config.partitionBy ?? {}).length ? (await metastore.partitions(model.table)).length : 0;
    const { counts, skipped } = outcome;
    const interval = options.interval ? ` for ${describeInterval(options.interval)}` : '';
    const label = role === 'load' ? 'source' : model.materialization.label;
    const wrote = role === 'load' ? 'loaded' : 'wrote';
    const holdsRows = model.materialization.store!.holdsRows;
    const what = !holdsRows
      ? 'defined'
      : `${counts.read !== null ? `read ${fmt(counts.read)}, ` : ''}${wrote} ${fmt(counts.written)}${counts.read !== null ? `, quarantined ${fmt(counts.quarantined)}` : ''}${skipped ? `, skipped ${fmt(skipped)} outside the interval` : ''}`;
    const mark = counts.read !== null && counts.written === 0 ? '!' : '✔';
    log(`${mark} ${model.name} (${label})${interval} in ${seconds.toFixed(1)}s: ${what}${mark === '!' ? ' (nothing to load)' : ''}`);
    if (counts.timing?.length) {
      // The commit, and what the run did around the load, is the rest of its time.
      const rest = seconds - counts.timing.reduce((s, p) => s + p.seconds, 0);
      log(`  time: ${[...counts.timing, { name: 'commit', seconds: rest }].map((p) => `${p.name} ${p.seconds.toFixed(1)}s`).join(' · ')}`);
    }
    return { model: model.name, runId, materialize: role === 'load' ? 'source load' : label, seconds, partitions, skipped, holdsRows, ...counts };
  } catch (caught) {
    const error = options.signal?.aborted
      ? new TributaryError(`model '${model.name}' was stopped (${abortReason(options.signal)})`, { hint: 'it committed nothing; run it again to build it', cause: caught })
      : // Any reader of any source may meet a plain file named .gz: said once, here.
        (engineGzipError(caught) ?? caught);
    await metastore.finishRun(runId, 'failed', { read: null, written: 0, quarantined: 0 }, errorMessage(error)).catch(() => undefined);
    if (error instanceof PartitionKeyError) throw error.placed({ file: ws.project.configFile, field: `models.${model.name}.partitionBy.${error.key}` });
    if (error instanceof TributaryError) throw error;
    throw new TributaryError(`model '${model.name}' failed: ${(error as Error).message}`, {
      // A model of its own SQL file (a dbt model's, always) is fixed there, not in the config.
      place: model.file ? { file: path.join(ws.project.dir, model.file) } : { file: ws.project.configFile, field: `models.${model.name}` },
      hint: isDiskFull((error as Error).message) ? diskFullHint('it committed nothing and removed what it had written') : 'it committed nothing; fix the cause and run it again',
      cause: error,
    });
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
    engine.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

/**
 * A model reading a table that does not exist yet (a model this run does not build and no run
 * built, or a stream's table before its first commit) says so and what to do, not the engine's
 * "Table … does not exist".
 */
async function refuseUnbuiltReads(run: RunContext, model: ModelPlan, engine: Engine): Promise<void> {
  const tableOf = (ref: string) => {
    const upstream = run.plan.models.get(ref);
    if (upstream) return upstream.materialization.reference === 'relation' ? upstream.table : undefined;
    return run.plan.streamTables.has(ref) ? ref : undefined;
  };
  const reads = model.refs.filter((ref) => tableOf(ref) !== undefined);
  if (!reads.length) return;
  const existing = await queryableTables(engine);
  const missing = reads.find((ref) => !existing.has(tableOf(ref)!.toLowerCase()));
  if (!missing) return;
  const place = { file: run.ws.project.configFile, field: `models.${model.name}.sql` };
  const job = run.plan.models.has(missing) ? undefined : run.plan.streamTables.get(missing);
  if (job) {
    throw new TributaryError(`model '${model.name}' reads '${missing}', which stream job '${job}' keeps and has not written yet`, {
      place,
      hint: `start the stream first (\`tributary up\`, or \`tributary drain\` to run it until its input is empty), then run '${model.name}' again`,
    });
  }
  // Built, then dropped by a hook (a dbt post-hook's adapter.drop_relation): building it again drops it again.
  const last = await run.ws.metastore.lastChange([tableOf(missing)!]);
  const drop = last === undefined ? undefined : await run.ws.metastore.snapshot(last);
  if (drop?.operation === 'drop') {
    throw new TributaryError(`model '${model.name}' reads model '${missing}', which was dropped after it was built (snapshot ${drop.snapshot_id}: ${drop.summary})`, {
      place,
      hint: `the hook that drops '${missing}' runs each time it is built: keep the table in that hook, or have '${model.name}' read something the hook leaves`,
    });
  }
  throw new TributaryError(`model '${model.name}' reads model '${missing}', which has not been built yet`, {
    place,
    hint: `build what it reads with it: \`tributary run +${model.name}\` (or run '${missing}' first)`,
  });
}

interface ModelStep {
  run: RunContext;
  model: ModelPlan;
  runId: string;
  engine: Engine;
  scratchDir: string;
  /** A microbatch model's batches: recorded as processed in the commit of their rows. */
  batches?: BatchPlan;
}

/** What a model's commit records beside its rows: its lineage, and the batches it processed. */
async function recordModel(tx: CatalogTransaction, step: ModelStep): Promise<void> {
  await tx.setLineage(step.model.table, lineageOf(step.run, step.model));
  if (step.batches) await tx.recordBatches(step.model.name, step.batches.complete, step.runId, step.batches.whole);
}

interface LoadOutcome {
  counts: RunCounts;
  skipped: number;
}

export function describeInterval(interval: DataInterval): string {
  const days = Math.round((Date.parse(interval.end) - Date.parse(interval.start)) / 86_400_000);
  return days === 1 ? interval.ds : `${interval.start.slice(0, 10)} to ${new Date(Date.parse(interval.end) - 1).toISOString().slice(0, 10)}`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function shapeOf(model: ModelPlan, columns: ColumnInfo[]): TableShape {
  return model.materialization.shape({
    name: model.table,
    columns,
    partitionBy: model.config.partitionBy,
    timeColumn: model.config.timeColumn,
    lookupKey: model.config.lookup?.key,
    keys: model.config.lookup ? [model.config.lookup.key] : undefined,
    description: model.config.description,
  });
}

/**
 * For a run over an interval: which rows of the model's output are in it (SQL over its columns),
 * and what the write replaces. Confirms a partition key is a date; refuses a model whose rows
 * cannot be placed in time.
 */
async function intervalScope(
  engine: Engine,
  model: ModelPlan,
  sql: string,
  interval: DataInterval | undefined,
): Promise<{ inside?: string; place?: string; unplaced?: { column: string; reason: string }; mode: WriteMode }> {
  const plan = model.placement;
  if (plan.kind === 'whole' || !interval) return { mode: model.materialization.writeMode(undefined) };
  if (plan.kind === 'time') {
    const column = quoteIdent(plan.column);
    const columns = await engine.describe(sql);
    if (!columns.some((c) => c.name === plan.column)) {
      throw new TributaryError(`model '${model.name}' declares timeColumn '${plan.column}', which it does not output`, {
        place: { field: `models.${model.name}.timeColumn` },
        hint: `its columns: ${columns.map((c) => c.name).join(', ')}`,
      });
    }
    return {
      place: column,
      unplaced: { column: plan.column, reason: unplacedReason(`${plan.column} (the timeColumn)`, interval) },
      inside: `(${column} >= ${sqlTimestamp(interval.start)} AND ${column} < ${sqlTimestamp(interval.end)})`,
      mode: model.materialization.writeMode({ column: plan.column, from: interval.start, to: interval.end }),
    };
  }
  // A date partition: its expression's values are days.
  const expression = model.config.partitionBy![plan.key]!;
  const type = (await engine.describe(`SELECT ${expression} AS p FROM (${sql})`))[0]!.type;
  if (type !== 'DATE') {
    throw new TributaryError(
      `model '${model.name}' is partitioned by ${Object.keys(model.config.partitionBy!).join(', ')}, which a day cannot be mapped to (its first key is ${type}, not DATE)`,
      {
        place: { field: `models.${model.name}` },
        hint: `declare timeColumn (the column that places a row in time) so a run for a day replaces that day's rows, or run '${model.name}' without --date`,
      },
    );
  }
  const days = intervalDays(interval);
  const place = `(${expression})`;
  return {
    place,
    unplaced: { column: plan.key, reason: unplacedReason(`${plan.key} (${expression})`, interval) },
    inside: `${place} IN (${days.map((d) => `DATE ${quoteLiteral(d)}`).join(', ')})`,
    mode: model.materialization.writeMode({ column: plan.key, values: days }),
  };
}

function unplacedReason(place: string, interval: DataInterval): string {
  return `${place} is NULL, so a run for ${describeInterval(interval)} cannot place the row in a day: give it a value, or load it in a run without --date`;
}

function sqlTimestamp(iso: string): string {
  return `TIMESTAMP ${quoteLiteral(iso.replace('T', ' ').replace('Z', ''))}`;
}

function lineageOf(run: RunContext, model: ModelPlan) {
  return [
    ...model.sources.map((name) => ({ name, kind: 'source' as const })),
    ...model.refs.map((name) => ({ name, kind: run.plan.streamTables.has(name) && !run.plan.models.has(name) ? ('stream' as const) : ('model' as const) })),
  ];
}

/** A ref as a relation of the engine; a source as the rows a load step loaded for this run. */
async function batchRelations(run: RunContext, model: ModelPlan): Promise<Relations> {
  const loaded = new Map<string, string>();
  for (const source of model.sources) loaded.set(source, await loadSource(run, source));
  return (kind, name) => (kind === 'source' ? loaded.get(name) : undefined);
}

/**
 * A model over tables, or over sources a load step already loaded: its rows written as its
 * materialisation says, with its run record and lineage in the same commit.
 */
async function transform(step: ModelStep): Promise<RunCounts> {
  const { run, model, runId, engine } = step;
  const query = run.plan.sql(model, await batchRelations(run, model), run.options.interval);
  const sql = model.materialization.history ? await model.materialization.history(await historyInput(run, model, query, engine)) : query;
  const scope = await intervalScope(engine, model, sql, run.options.interval);
  const relation = scope.inside ? `(SELECT * FROM (${sql}) WHERE ${scope.inside})` : `(${sql})`;
  const columns = await engine.describe(`SELECT * FROM ${relation}`);
  const store = model.materialization.store!;
  const staged = await store.stage(engine, { shape: shapeOf(model, columns), relation, mode: scope.mode, runId });
  try {
    const counts = await store.commit(engine, [staged], {
      operation: 'run',
      runId,
      run: { runId, target: model.name, read: null, written: staged.rows ?? 0, quarantined: 0 },
      inside: (tx) => recordModel(tx, step),
    });
    return { read: null, written: counts[model.table] ?? staged.rows ?? 0, quarantined: 0 };
  } catch (error) {
    await store.discard(engine, [staged]);
    throw error;
  }
}

async function historyInput(run: RunContext, model: ModelPlan, query: string, engine: Engine): Promise<HistoryInput> {
  const exists = (await queryableTables(engine)).has(model.table);
  return {
    query,
    table: exists ? `main.${quoteIdent(model.table)}` : undefined,
    now: new Date().toISOString(),
    field: `models.${model.name}`,
    describe: (sql) => engine.describe(sql),
    rows: (sql) => engine.query(sql),
  };
}

/**
 * The table holding a source's rows for this run's models, loaded once (every row written or
 * quarantined with its reason) by a load of its own, committed with its run record. The table
 * stays (a view over the source reads it) until the next run replaces it.
 */
function loadSource(run: RunContext, source: string): Promise<string> {
  let loaded = run.loads.get(source);
  if (!loaded) {
    const table = `__source_${source}`;
    const field = `sources.${source}`;
    const materialize = { kind: 'table' } as const;
    const plan: ModelPlan = {
      name: source,
      table,
      config: { sql: `SELECT * FROM {{ source('${source}') }}`, materialize, tags: [], description: `the rows of source '${source}' as the last run loaded them` },
      template: `SELECT * FROM {{ source('${source}') }}`,
      file: undefined,
      refs: [],
      sources: [source],
      materialization: materializationComponent(run.ws.project, 'table').create(materialize, materializationContext(run.ws.project, run.ws, field, () => run.ws.store({ kind: 'duckdb' }, field))),
      placement: { kind: 'whole' },
    };
    loaded = runModel({ ...run, ownPass: () => true }, plan, 'load').then((result) => {
      run.loaded.push(result);
      return quoteIdent(table);
    });
    run.loads.set(source, loaded);
  }
  return loaded;
}

/**
 * A load in one pass: the model's only source scanned once, through the model into its store,
 * each row judged on the way. Rows that fail a rule are diverted by the writer, then found again
 * (file and line) for the quarantine; rows the reader refused come from its reject log. Before
 * anything commits, the records the reader produced are checked against an independent count of
 * the input. A model whose rows are not its source's rows one for one cannot be loaded this way:
 * then it answers undefined, having written nothing, and reads the source's loaded rows instead.
 */
async function loadInOnePass(step: ModelStep): Promise<LoadOutcome | undefined> {
  const { run, model, runId, engine, scratchDir } = step;
  const clock = phaseClock();
  const { ws, options, log } = run;
  const sourceName = model.sources[0]!;
  const config: SourceConfig = ws.project.config.sources[sourceName]!;
  const checks = ruleChecks(config.rules ?? []);
  const store = model.materialization.store!;
  const placeholder = `__source_${runId.replace(/\W/g, '_')}`;
  // Each statement that binds the source does its reader's work for every file (seconds for
  // 90,000 files): those that only learn the model's shape bind this view of the few files that
  // give it; the load names every file's rows in its own statement.
  const shapeView = `${placeholder}_shape`;
  let scan: SourceScan = await openSource(ws.project.components.sources, config, {
    name: sourceName,
    engine,
    baseDir: ws.project.dir,
    scratchDir,
    runId,
    interval: options.interval,
    log,
  });
  const setAside: RejectedRow[] = [];
  try {
    const ruleProblem = await ruleTypeProblem(engine, config.rules ?? [], scan.columns, `sources.${sourceName}.rules`, ws.project.configFile);
    if (ruleProblem) throw ruleProblem;
    for (let attempt = 0; ; attempt++) {
      const judged = (relation: string) =>
        `(SELECT * ${scan.hasParseError ? `EXCLUDE (${PARSE_ERROR})` : ''}, ${verdictExpression(checks, scan.hasParseError)} AS ${VERDICT}${scan.hasParseError ? `, ${PARSE_ERROR}` : ''}
          FROM ${relation})`;
      const raw = scan.labelsFiles ? scan.rawColumn : undefined;
      const sqlOver = (view: string) => run.plan.sql(model, (kind) => (kind === 'source' ? view : undefined), options.interval);
      const modelSql = sqlOver(placeholder);
      const shapeRelation = scan.relation({ shapeOnly: true });
      await engine.run(`CREATE OR REPLACE TEMP VIEW ${shapeView} AS SELECT * FROM ${judged(shapeRelation)}`).catch(async (error: Error) => {
        // The rules are the first to name the source's columns: one naming no column fails here.
        const columns = (await engine.describe(`SELECT * FROM ${shapeRelation}`).catch(() => [])).map((c) => c.name).filter((name) => !name.startsWith('__'));
        throw (columns.length && ruleWithoutColumn(config.rules ?? [], columns, `sources.${sourceName}.rules`, ws.project.configFile)) || error;
      });
      const carriedColumns = [VERDICT, ...(scan.labelsFiles ? ['__file'] : []), ...(raw ? [raw] : [])];
      const carried = await carrySourceColumns(engine, sqlOver(shapeView), shapeView, carriedColumns, model.name);
      if (carried === undefined || !(await isRowPreserving(engine, carried))) return undefined;
      const hidden = new Set([VERDICT, PARSE_ERROR, ...LOCATION, ...(scan.rawColumn ? [scan.rawColumn] : [])]);
      const output = (await engine.describe(carried)).filter((c) => !hidden.has(c.name));
      // The load adds these beside the model's columns: one the model names itself would stand in
      // for the rules' verdict, and a row that broke a rule would be written.
      const clash = output.find((c) => c.name === ROW_VERDICT || c.name === ROW_RULE);
      if (clash) {
        throw new TributaryError(`model '${model.name}' outputs a column named ${clash.name}, a name the load gives its own bookkeeping of the rules`, {
          place: model.file ? { file: path.join(ws.project.dir, model.file) } : { file: ws.project.configFile, field: `models.${model.name}.sql` },
          hint: `give the column another name in the model (${clash.name.replace(/^_+/, '')}, say); nothing was written`,
        });
      }
      const scope = await intervalScope(engine, model, `SELECT * FROM (${carried})`, options.interval);
      const verdict = scope.inside
        ? `CASE WHEN ${scope.place} IS NULL AND ${VERDICT} = 'ok' THEN '${UNPLACED}' WHEN ${scope.place} IS NOT NULL AND NOT ${scope.inside} THEN '${OUTSIDE}' ELSE ${VERDICT} END`
        : VERDICT;
      const shape = shapeOf(model, output);
      const failing = `${ROW_RULE} NOT IN ('ok', '${OUTSIDE}', '${SKIPPED}')`;
      // A failing row is never written: where the source keeps each record's text, one of its text
      // columns carries the text's fingerprint instead, handed back by the writer, so that the read
      // that counts the files finds its line. A CASE branch runs for the rows that reach it: the few
      // that fail. The column is one no partition of the table is computed from. Other diverted
      // rows (outside the interval, blank lines), never written either, carry no note.
      const note = raw ? output.find((c) => c.type === 'VARCHAR' && !Object.values(shape.partitionBy ?? {}).some((expr) => expr.includes(c.name)))?.name : undefined;
      const outputs = output
        .map((c) =>
          c.name === note
            ? `CASE WHEN ${ROW_RULE} = 'ok' THEN ${quoteIdent(c.name)} WHEN ${failing} THEN strlen(${quoteIdent(raw!)}) || '.' || md5(${quoteIdent(raw!)}) END AS ${quoteIdent(c.name)}`
            : quoteIdent(c.name),
        )
        .join(', ');
      // A failing row's verdict names its file, so the writer's counts tell which files hold them.
      const rowVerdict = scan.labelsFiles ? `CASE WHEN ${failing} THEN ${ROW_RULE} || '${FILE_MARK}' || hash(__file)::VARCHAR ELSE ${ROW_RULE} END` : ROW_RULE;
      const relationOver = (rows: string) => `(SELECT ${outputs}, ${rowVerdict} AS ${ROW_VERDICT} FROM (SELECT *, ${verdict} AS ${ROW_RULE} FROM (${rows})))`;
      // The same rewrite of the same model over every file, whose rows are named in the statement
      // that writes them: a view of them bound the reader over every file once more (2 s over
      // 90,000 files). The rewrite reaches them by that name (`__source_….__verdict`). A source
      // with no cheaper shape (its relation the same) is read through the shape's view.
      const whole = scan.relation();
      const loaded =
        whole === shapeRelation ? carried : `WITH ${placeholder} AS NOT MATERIALIZED ${judged(whole)} ${(await carrySourceColumns(engine, modelSql, placeholder, carriedColumns, model.name))!}`;
      const relation = relationOver(loaded);
      const progress = (options.progress ?? defaultProgress(options.quiet))(`${model.name} ← ${sourceName}`, scan.bytes);
      let staged: Staged;
      clock.lap('prepare');
      try {
        staged = await withQueryProgress(store.stage(engine, { shape, relation, shapeOf: relationOver(carried), mode: scope.mode, runId, divertBy: ROW_VERDICT, noteIn: note }), () => engine.progress(), progress);
        progress.done();
      } catch (error) {
        clock.lap('read and write');
        // An interrupted statement is no input to repair.
        const stopped = options.signal?.aborted === true;
        const recovered = attempt < MAX_REPAIRS && !stopped ? await scan.recover?.(error as Error) : undefined;
        progress.done(undefined, stopped ? 'stopped' : recovered ? 'done' : 'failed');
        if (!recovered) throw error;
        await scan.close();
        scan = recovered.scan;
        setAside.push(...recovered.setAside);
        continue;
      }
      clock.lap('read and write');
      try {
        const written = staged.rows ?? 0;
        const skipped = staged.diverted.get(OUTSIDE) ?? 0;
        const blank = staged.diverted.get(SKIPPED) ?? 0;
        const failed = [...staged.diverted].filter(([v]) => v !== OUTSIDE && v !== SKIPPED).reduce((s, [, n]) => s + n, 0);
        const rejects = await scan.rejects();
        // Every record the reader produced is written, diverted, outside the interval or no row at
        // all (a blank line); the plan proved it.
        const yielded = written + skipped + blank + failed;
        // Found by their texts in the read that counts the files, before that count reconciles.
        const found = note && failed && staged.noted && scan.find ? await scan.find(await fingerprintsByFile(engine, scan.files, staged.noted)) : undefined;
        const repair = await scan.reconcile(yielded, rejects);
        clock.lap('line count');
        if (repair) {
          if (attempt >= MAX_REPAIRS) throw new TributaryError(`the input of source '${sourceName}' needed more than ${MAX_REPAIRS} repairs; nothing was committed`, { hint: 'fix the files' });
          await store.discard(engine, [staged]);
          await scan.close();
          scan = repair.scan;
          setAside.push(...repair.setAside);
          continue;
        }
        const holding = found || !scan.labelsFiles ? undefined : [...(await filesByHash(engine, scan.files, staged.diverted.keys())).keys()];
        const located = failed ? await locateFailed(run, scan, modelSql, placeholder, judged(found ?? scan.relation({ located: true, files: holding })), checks, scope, output, model, engine) : [];
        if (located.length !== failed) {
          throw new TributaryError(`the writer diverted ${failed} rows but ${located.length} were found again in the source; nothing was committed`, {
            hint: 'the source changed during the run, or the model is not deterministic; run again',
          });
        }
        const quarantine: QuarantineRow[] = [...setAside, ...rejects, ...located].map((r) => ({ file: r.file, line: r.line, record: r.record ?? null, column: r.column, reason: r.reason, raw: r.raw, rawBytes: r.rawBytes }));
        const read = yielded - blank + rejects.length + setAside.length;
        clock.lap('locate');
        const counts: RunCounts = { read, written, quarantined: quarantine.length, timing: clock.timing() };
        try {
          assertLoadAcceptable({
            model: model.name,
            source: sourceName,
            max: config.maxQuarantined,
            considered: read - skipped,
            written,
            quarantined: quarantine.length,
            reasons: quarantine.map((q) => q.reason),
            advice: seedAdvice(ws.project.dbt?.seeds.get(sourceName)),
          });
        } catch (error) {
          // Nothing of the data commits; the rows that failed are kept so they can be looked at.
          await ws.metastore.commit(engine, { operation: 'quarantine', runId }, (tx) => tx.addQuarantine(runId, model.name, sourceName, quarantine));
          const e = error as TributaryError;
          throw new TributaryError(e.message, { hint: `look at them with \`tributary quarantine --run ${runId}\`; ${e.hint}` });
        }
        await store.commit(engine, [staged], {
          operation: 'load',
          runId,
          run: { runId, target: model.name, ...counts },
          inside: async (tx: CatalogTransaction) => {
            await recordModel(tx, step);
            await tx.addQuarantine(runId, model.name, sourceName, quarantine);
          },
        });
        if (quarantine.length) {
          const sample = quarantine[0]!;
          log(`  ${fmt(quarantine.length)} row(s) quarantined, e.g. ${sample.file ?? '?'}:${sample.line ?? `record ${sample.record ?? '?'}`} ${printable(sample.reason)}`);
          log(`  → see them with \`tributary quarantine --run ${runId}\``);
        }
        return { counts, skipped };
      } catch (error) {
        await store.discard(engine, [staged as Staged]).catch(() => undefined);
        throw error;
      }
    }
  } finally {
    await engine.run(`DROP VIEW IF EXISTS ${shapeView}`).catch(() => undefined);
    await scan.close();
  }
}

/**
 * Seconds between laps, added up by phase (a load's read and write, its line count…): where a
 * run's time went, for its record. A phase met again (a load read again after a repair) adds up.
 */
function phaseClock() {
  const phases = new Map<string, number>();
  let last = performance.now();
  return {
    lap(phase: string): void {
      const now = performance.now();
      phases.set(phase, (phases.get(phase) ?? 0) + (now - last) / 1000);
      last = now;
    },
    timing: (): RunPhase[] => [...phases].map(([name, seconds]) => ({ name, seconds: Math.round(seconds * 1000) / 1000 })),
  };
}

function defaultProgress(quiet: boolean | undefined): (label: string, totalBytes?: number) => Progress {
  return (label, totalBytes) => createProgress({ label, totalBytes, quiet });
}

/**
 * Proves from the plan that the model neither drops nor adds rows (projections over scans,
 * nothing pushed into a scan, the files of several layouts put together by UNION ALL); then
 * read = written + quarantined holds by construction.
 */
async function isRowPreserving(engine: Engine, sql: string): Promise<boolean> {
  const rows = await engine.query<{ explain_value: string }>(`EXPLAIN (FORMAT json) ${sql}`);
  type PlanNode = { name: string; children: PlanNode[]; extra_info?: Record<string, unknown> };
  const preserves = (node: PlanNode | undefined): boolean => {
    if (!node) return false;
    if (node.name === 'PROJECTION' && node.children.length === 1) return preserves(node.children[0]);
    // `x IN (long list)` becomes a mark join: every row of its left side comes out once, marked.
    if (node.name === 'HASH_JOIN' && node.extra_info?.['Join Type'] === 'MARK' && node.children.length === 2) return preserves(node.children[0]);
    // UNION ALL (a UNION that removes duplicates plans as a grouping above it).
    if (node.name === 'UNION') return node.children.length > 0 && node.children.every(preserves);
    return /^(READ_CSV|READ_PARQUET|PARQUET_SCAN|READ_JSON|TABLE_SCAN)/.test(node.name) && node.children.length === 0 && !node.extra_info?.Filters;
  };
  return preserves((JSON.parse(rows[0]!.explain_value) as PlanNode[])[0]);
}

/** The hash of the file a failing row's verdict names (`r0_in_<hash>`). */
const fileHashOf = (verdict: string): string => verdict.slice(verdict.lastIndexOf(FILE_MARK) + FILE_MARK.length);

/** The files whose hashes the failing verdicts name, in the scan's order, each with its hash. */
async function filesByHash(engine: Engine, files: readonly string[], verdicts: Iterable<string>): Promise<Map<string, string>> {
  const hashes = new Set([...verdicts].filter((v) => v.includes(FILE_MARK)).map(fileHashOf));
  if (!hashes.size || !files.length) return new Map();
  // Tens of thousands of files, a few holding failures: only those come back.
  const holding = await engine.queryJson<{ file: string; hash: string }>(
    `SELECT f AS file, hash(f)::VARCHAR AS hash FROM unnest($1::JSON::VARCHAR[]) AS t(f) WHERE hash(f)::VARCHAR IN (${[...hashes].map(quoteLiteral).join(', ')})`,
    [listParameter(files)],
  );
  const byFile = new Map(holding.map((h) => [h.file, h.hash]));
  return new Map(files.filter((file) => byFile.has(file)).map((file) => [file, byFile.get(file)!]));
}

/** Per file, the fingerprints (`<bytes>.<md5>`) the writer handed back for its failing rows, counted. */
async function fingerprintsByFile(engine: Engine, files: readonly string[], noted: readonly DivertedNote[]): Promise<Map<string, LineFingerprint[]>> {
  const fileOf = new Map([...(await filesByHash(engine, files, noted.map((n) => n.verdict)))].map(([file, hash]) => [hash, file]));
  const wanted = new Map<string, Map<string, LineFingerprint>>();
  for (const { verdict, note } of noted) {
    const file = fileOf.get(fileHashOf(verdict));
    const [bytes, md5] = note.split('.');
    if (!file || !md5) continue;
    const byText = wanted.get(file) ?? new Map<string, LineFingerprint>();
    byText.set(note, { bytes: Number(bytes), md5, count: (byText.get(note)?.count ?? 0) + 1 });
    wanted.set(file, byText);
  }
  return new Map([...wanted].map(([file, byText]) => [file, [...byText.values()]]));
}

/** Finds the file and line of each row that failed a rule, by a numbered re-read of the files that hold them. */
async function locateFailed(
  run: RunContext,
  scan: SourceScan,
  modelSql: string,
  placeholder: string,
  judgedLocated: string,
  checks: ReturnType<typeof ruleChecks>,
  scope: { inside?: string; place?: string; unplaced?: { column: string; reason: string } },
  output: ColumnInfo[],
  model: ModelPlan,
  engine: Engine,
): Promise<RejectedRow[]> {
  const located = `${placeholder}_located`;
  // The reason is worded on the source's rows (a rule names a source column, which the model may
  // rename or drop), then carried through the model with the verdict and the place.
  const { reason, column } = reasonExpression(checks, scan.hasParseError);
  await engine.run(`CREATE OR REPLACE TEMP VIEW ${located} AS SELECT *, ${reason} AS __why, ${column} AS __rule_column FROM ${judgedLocated}`);
  try {
    const text = scan.rawColumn;
    const carried = await carrySourceColumns(engine, modelSql.replaceAll(placeholder, located), located, [VERDICT, '__why', '__rule_column', ...LOCATION, ...(text ? [text] : [])], model.name);
    if (carried === undefined) throw new Error(`model '${model.name}' no longer keeps its source's rows one for one`);
    // The record as it stands in its file where the source keeps its text or reads it back at its
    // line (what to fix and load again; a long one cut, with its size); otherwise the row as the
    // model saw it.
    const raw = text
      ? `left(${quoteIdent(text)}, ${RAW_KEEP_CHARS}) AS raw, strlen(${quoteIdent(text)})::DOUBLE AS raw_bytes`
      : `to_json(json_object(${output.map((c) => `${quoteLiteral(c.name)}, ${quoteIdent(c.name)}`).join(', ')}))::VARCHAR AS raw, NULL AS raw_bytes`;
    const counted = `${VERDICT} <> '${SKIPPED}'${scope.inside ? ` AND NOT (${scope.place} IS NOT NULL AND NOT ${scope.inside})` : ''}`;
    const unplaced = scope.unplaced ? `${VERDICT} = 'ok' AND ${scope.place} IS NULL` : 'false';
    const rows = await engine.queryJson<{ file: string; record: number; reason: string; column: string | null; raw: string | null; raw_bytes: number | null }>(
      `SELECT __file AS file, __record::DOUBLE AS record,
              CASE WHEN ${unplaced} THEN ${quoteLiteral(scope.unplaced?.reason ?? '')} ELSE __why END AS reason,
              CASE WHEN ${unplaced} THEN ${quoteLiteral(scope.unplaced?.column ?? '')} ELSE __rule_column END AS column, ${raw}
       FROM (${carried}) WHERE (${VERDICT} <> 'ok' OR ${unplaced}) AND ${counted} ORDER BY file, record`,
    );
    const rejects = await scan.rejects();
    const places = new Map<string, Map<number, RecordPlace>>();
    for (const [file, failing] of groupBy(rows, (r) => r.file)) places.set(file, await scan.locate(file, failing.map((r) => r.record), rejects));
    return rows.map((r) => {
      const place = places.get(r.file)?.get(r.record);
      const fields = { file: r.file, line: place?.line ?? null, record: place?.record ?? r.record, column: r.column, reason: r.reason };
      if (place?.text !== undefined) return { ...fields, raw: place.text, rawBytes: Buffer.byteLength(place.text) };
      return { ...fields, raw: r.raw, ...(r.raw_bytes === null ? {} : { rawBytes: r.raw_bytes }) };
    });
  } finally {
    await engine.run(`DROP VIEW IF EXISTS ${located}`);
  }
}

/** What to do about a dbt seed's refused rows: dbt has no quarantine limit to raise, a seed loads whole or not at all. */
function seedAdvice(seedFile: string | undefined): string | undefined {
  return seedFile && `fix those rows in ${seedFile}, or give the column the type its values have (the seed's column_types, in dbt_project.yml or its properties file): a dbt seed loads all of its rows or none`;
}
