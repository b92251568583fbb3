import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { CatalogTransaction, ColumnInfo, QuarantineRow, RunCounts, RunTrigger } from '../catalog/index.js';
import { openSource, type RejectedRow, type SourceScan, type Staged, type Store, type TableShape, type WriteMode } from '../connectors/index.js';
import type { ModelConfig, SourceConfig } from '../core/config.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import { fillSql, intervalDays, type DataInterval } from '../core/interval.js';
import { declaredColumns } from '../core/schemas.js';
import { createProgress, withQueryProgress, type Progress } from '../core/progress.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent, quoteLiteral } from '../engine/index.js';
import { PARSE_ERROR, VERDICT, reasonExpression, ruleChecks, verdictExpression } from '../quality/rules.js';
import { assertLoadAcceptable } from '../quality/threshold.js';
import { carrySourceColumns, compileModel, planModels, refRelation, renderModel, type CompiledModel } from './compile.js';
import { queryableTables, type Workspace } from './workspace.js';

export interface RunOptions {
  models?: string[];
  /** The data interval to (re)build; none rebuilds everything. */
  interval?: DataInterval;
  trigger?: RunTrigger;
  /** Runs started together share a group (a scheduled job run, one `tributary run`). */
  group?: string;
  attempt?: number;
  log?: (message: string) => void;
  /** Makes a progress reporter (rows, MB/s, ETA) for a long step. */
  progress?: (label: string, totalBytes?: number) => Progress;
  quiet?: boolean;
  /** Stops the run (a scheduled task's timeout): the statement running is interrupted, nothing commits. */
  signal?: AbortSignal;
}

export interface ModelResult extends RunCounts {
  model: string;
  runId: string;
  materialize: string;
  seconds: number;
  partitions: number;
  /** Rows of the source outside the run's interval: another run's business. */
  skipped: number;
}

/** Columns a load carries through its model for bookkeeping; never part of a table. */
const LOCATION = ['__file', '__record'];
/** Each row's verdict once the interval has had its say: 'ok', a rule's key, 'parse', 'outside' or 'unplaced'. */
const ROW_VERDICT = '__verdict';
const OUTSIDE = 'outside';
/**
 * A row whose place in time is NULL belongs to no day: a run for an interval quarantines it (had it
 * been written, every day's run would write it again, and no day's run would replace it).
 */
const UNPLACED = 'unplaced';
/** A run may repair its input this many times (a runaway quote per file, say) before it gives up. */
const MAX_REPAIRS = 20;

/**
 * Runs models in dependency order. A model that reads a source is a load: every source row ends
 * up written, quarantined with its reason, or (in a run for a data interval) skipped as outside
 * it, and the run fails unless the counts reconcile with an independent count of the input.
 */
export async function runModels(ws: Workspace, options: RunOptions = {}): Promise<ModelResult[]> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const plan = planModels(ws.project, options.models, await queryableTables(ws.engine)).filter((m) => m.config.materialize !== 'ephemeral');
  // A run for an interval refuses before anything runs when a model's rows cannot be placed in time.
  if (options.interval) await refuseUnplaceable(ws, plan, options.interval);
  // Every model's store opens first: a missing database URL or an unreachable database stops
  // the run before any model commits.
  for (const model of plan) if (model.config.materialize !== 'view') storeOf(ws, model);
  const group = options.group ?? ws.metastore.newRunId();
  const results: ModelResult[] = [];
  for (const model of plan) results.push(await runModel(ws, model, { ...options, group }, log));
  return results;
}

/** How a model takes part in a run for an interval: by its date partition, its time column, or whole. */
type IntervalPlan = { kind: 'whole' } | { kind: 'partition'; key: string } | { kind: 'time'; column: string };

/**
 * The models of a run for an interval whose partitions are not days (and that have no time
 * column): refused together, before any of the run's models commits. A model whose type cannot be
 * known yet (a table it reads does not exist before this run) is checked when it runs.
 */
async function refuseUnplaceable(ws: Workspace, plan: readonly CompiledModel[], interval: DataInterval): Promise<void> {
  const refused: string[] = [];
  const existing = await queryableTables(ws.engine);
  // A model's rows as types only: sources as empty typed relations, models not built yet inlined.
  const typed = (name: string, kind: 'ref' | 'source'): string => {
    if (kind === 'source') {
      const columns = ws.project.config.sources[name]?.columns;
      if (!columns) throw new Error('inferred source');
      return `(SELECT ${declaredColumns(columns).map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false)`;
    }
    if (existing.has(name) || !ws.project.config.models[name]) return quoteIdent(name);
    return `(${fillSql(renderModel(compileModel(ws.project, name), (k, n) => typed(n, k)), interval, `model '${name}'`)})`;
  };
  for (const model of plan) {
    const how = intervalPlan(model, interval);
    if (how.kind !== 'partition') continue;
    try {
      const sql = fillSql(renderModel(model, (kind, name) => typed(name, kind)), interval, `model '${model.name}'`);
      const [p] = await ws.engine.describe(`SELECT ${model.config.partitionBy![how.key]} AS p FROM (${sql})`);
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

function intervalPlan(model: CompiledModel, interval: DataInterval | undefined): IntervalPlan {
  const { config } = model;
  if (!interval || config.materialize === 'view') return { kind: 'whole' };
  if (config.timeColumn) return { kind: 'time', column: config.timeColumn };
  const keys = Object.keys(config.partitionBy ?? {});
  if (!keys.length) return { kind: 'whole' };
  // The date key is confirmed against the model's types when it runs.
  return { kind: 'partition', key: keys[0]! };
}

async function runModel(ws: Workspace, model: CompiledModel, options: RunOptions & { group: string }, log: (m: string) => void): Promise<ModelResult> {
  const { metastore } = ws;
  const runId = metastore.newRunId();
  const started = Date.now();
  await metastore.startRun(runId, {
    target: model.name,
    kind: 'model',
    trigger: options.trigger ?? 'cli',
    group: options.group,
    attempt: options.attempt,
    params: options.interval ? { interval: options.interval } : undefined,
  });
  // Its own connection: a run works beside stream commits and dashboard queries.
  const engine = await ws.engine.fork();
  const interrupt = () => engine.interrupt();
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const scratchDir = path.join(ws.project.stateDir, 'scratch', runId);
  try {
    if (options.signal?.aborted) throw new TributaryError(`model '${model.name}' was stopped before it started`, { hint: 'nothing was committed' });
    if (model.config.partitionBy && model.config.materialize !== 'lake') {
      throw new TributaryError(`model '${model.name}' has partitionBy, which only lake tables have`, {
        place: { file: ws.project.configFile, field: `models.${model.name}.partitionBy` },
        hint: 'materialize it as a lake table, or declare timeColumn for runs by data interval',
      });
    }
    let outcome: { counts: RunCounts; skipped: number };
    if (model.config.materialize === 'view') {
      outcome = { counts: await defineView(ws, engine, model, runId, options.interval), skipped: 0 };
    } else if (model.sources.length) {
      if (model.sources.length > 1) {
        throw new TributaryError(`model '${model.name}' reads ${model.sources.length} sources; a load reads one`, {
          place: { file: ws.project.configFile, field: `models.${model.name}.sql` },
          hint: 'load each source in its own model, then join the loaded tables in a downstream model',
        });
      }
      mkdirSync(scratchDir, { recursive: true });
      outcome = await runLoad(ws, engine, model, runId, scratchDir, options, log);
    } else {
      outcome = { counts: await runTransform(ws, engine, model, runId, options.interval), skipped: 0 };
    }
    const seconds = (Date.now() - started) / 1000;
    const partitions = model.config.materialize === 'lake' ? (await metastore.partitions(model.name)).length : 0;
    const { counts, skipped } = outcome;
    const interval = options.interval ? ` for ${describeInterval(options.interval)}` : '';
    const what =
      model.config.materialize === 'view'
        ? 'defined'
        : `${counts.read !== null ? `read ${fmt(counts.read)}, ` : ''}wrote ${fmt(counts.written)}${counts.read !== null ? `, quarantined ${fmt(counts.quarantined)}` : ''}${skipped ? `, skipped ${fmt(skipped)} outside the interval` : ''}`;
    const mark = counts.read !== null && counts.written === 0 ? '!' : '✔';
    log(`${mark} ${model.name} (${materializeName(model.config)})${interval} in ${seconds.toFixed(1)}s: ${what}${mark === '!' ? ' (nothing to load)' : ''}`);
    return { model: model.name, runId, materialize: materializeName(model.config), seconds, partitions, skipped, ...counts };
  } catch (error) {
    await metastore.finishRun(runId, 'failed', { read: null, written: 0, quarantined: 0 }, errorMessage(error)).catch(() => undefined);
    if (error instanceof TributaryError) throw error;
    throw new TributaryError(`model '${model.name}' failed: ${(error as Error).message}`, {
      place: { file: ws.project.configFile, field: `models.${model.name}` },
      hint: 'nothing was committed; fix the cause and run again',
      cause: error,
    });
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
    engine.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

export function materializeName(config: ModelConfig): string {
  return typeof config.materialize === 'string' ? config.materialize : config.materialize.kind;
}

function describeInterval(interval: DataInterval): string {
  const days = Math.round((Date.parse(interval.end) - Date.parse(interval.start)) / 86_400_000);
  return days === 1 ? interval.ds : `${interval.start.slice(0, 10)} to ${new Date(Date.parse(interval.end) - 1).toISOString().slice(0, 10)}`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** The store a model's rows go to. */
function storeOf(ws: Workspace, model: CompiledModel): Store {
  const m = model.config.materialize;
  const config = m === 'lake' ? { kind: 'lake' as const } : m === 'table' ? { kind: 'duckdb' as const } : m;
  if (typeof config === 'string') throw new Error(`model '${model.name}' (${config}) has no store`);
  return ws.store(config, `models.${model.name}.materialize`);
}

function shapeOf(model: CompiledModel, columns: ColumnInfo[]): TableShape {
  return {
    name: model.name,
    columns,
    partitionBy: model.config.partitionBy,
    timeColumn: model.config.timeColumn,
    lookupKey: model.config.lookup?.key,
    keys: model.config.lookup ? [model.config.lookup.key] : undefined,
    description: model.config.description,
  };
}

/**
 * For a run over an interval: which rows of the model's output are in it (SQL over its columns),
 * and what the write replaces. Confirms a partition key is a date; refuses a model whose rows
 * cannot be placed in time.
 */
async function intervalScope(
  engine: Engine,
  model: CompiledModel,
  sql: string,
  interval: DataInterval | undefined,
): Promise<{ inside?: string; place?: string; unplaced?: { column: string; reason: string }; mode: WriteMode }> {
  const plan = intervalPlan(model, interval);
  if (plan.kind === 'whole' || !interval) return { mode: { kind: 'replace' } };
  if (plan.kind === 'time') {
    const column = quoteIdent(plan.column);
    const columns = await engine.describe(sql);
    if (!columns.some((c) => c.name === plan.column)) {
      throw new TributaryError(`model '${model.name}' declares timeColumn '${plan.column}', which it does not output`, {
        place: { field: `models.${model.name}.timeColumn` },
        hint: `its columns: ${columns.map((c) => c.name).join(', ')}`,
      });
    }
    const scope = { column: plan.column, from: interval.start, to: interval.end };
    return {
      place: column,
      unplaced: { column: plan.column, reason: unplacedReason(`${plan.column} (the timeColumn)`, interval) },
      inside: `(${column} >= ${sqlTimestamp(interval.start)} AND ${column} < ${sqlTimestamp(interval.end)})`,
      mode: { kind: 'replace', scope },
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
    mode: { kind: 'replace', scope: { column: plan.key, values: days } },
  };
}

function unplacedReason(place: string, interval: DataInterval): string {
  return `${place} is NULL, so a run for ${describeInterval(interval)} cannot place the row in a day: give it a value, or load it in a run without --date`;
}

function sqlTimestamp(iso: string): string {
  return `TIMESTAMP ${quoteLiteral(iso.replace('T', ' ').replace('Z', ''))}`;
}

function lineageOf(model: CompiledModel, streamed: ReadonlySet<string>) {
  return [
    ...model.sources.map((name) => ({ name, kind: 'source' as const })),
    ...model.refs.map((name) => ({ name, kind: streamed.has(name) ? ('stream' as const) : ('model' as const) })),
  ];
}

async function defineView(ws: Workspace, engine: Engine, model: CompiledModel, runId: string, interval: DataInterval | undefined): Promise<RunCounts> {
  const sql = fillSql(renderModel(model, (kind, name) => (kind === 'ref' ? refRelation(ws.project, name) : quoteIdent(name))), interval, `model '${model.name}'`);
  await ws.metastore.commit(engine, { operation: 'view', runId }, async (tx) => {
    await tx.run(`CREATE OR REPLACE VIEW main.${quoteIdent(model.name)} AS ${sql}`);
    const columns = (await tx.query<{ column_name: string; column_type: string }>(`DESCRIBE main.${quoteIdent(model.name)}`)).map((c) => ({ name: c.column_name, type: c.column_type }));
    await tx.registerTable({ name: model.name, kind: 'view', columns, description: model.config.description });
    await tx.setLineage(model.name, lineageOf(model, new Set()));
    await tx.finishRun(runId, 'success', { read: null, written: 0, quarantined: 0 });
  });
  return { read: null, written: 0, quarantined: 0 };
}

/** A model over other tables: no rows to account for beyond what it writes. */
async function runTransform(ws: Workspace, engine: Engine, model: CompiledModel, runId: string, interval: DataInterval | undefined): Promise<RunCounts> {
  const sql = fillSql(renderModel(model, (kind, name) => (kind === 'ref' ? refRelation(ws.project, name) : quoteIdent(name))), interval, `model '${model.name}'`);
  const scope = await intervalScope(engine, model, sql, interval);
  const relation = scope.inside ? `(SELECT * FROM (${sql}) WHERE ${scope.inside})` : `(${sql})`;
  const columns = await engine.describe(`SELECT * FROM ${relation}`);
  const store = storeOf(ws, model);
  const shape = shapeOf(model, columns);
  const staged = await store.stage(engine, { shape, relation, mode: scope.mode, runId });
  try {
    const counts = await store.commit(engine, [staged], {
      operation: 'run',
      runId,
      run: { runId, target: model.name, read: null, written: staged.rows ?? 0, quarantined: 0 },
      inside: (tx) => tx.setLineage(model.name, lineageOf(model, new Set())),
    });
    return { read: null, written: counts[model.name] ?? staged.rows ?? 0, quarantined: 0 };
  } catch (error) {
    await store.discard(engine, [staged]);
    throw error;
  }
}

/**
 * A load: one scan of the source through the model into its store, each row judged on the way.
 * Rows that fail a rule are diverted by the writer, then found again (file and line) for the
 * quarantine; rows the reader refused come from its reject log. Before anything commits, the
 * records the reader produced are checked against an independent count of the input.
 */
async function runLoad(
  ws: Workspace,
  engine: Engine,
  model: CompiledModel,
  runId: string,
  scratchDir: string,
  options: RunOptions,
  log: (m: string) => void,
): Promise<{ counts: RunCounts; skipped: number }> {
  const sourceName = model.sources[0]!;
  const config: SourceConfig = ws.project.config.sources[sourceName]!;
  const checks = ruleChecks(config.rules ?? []);
  const store = storeOf(ws, model);
  const placeholder = `__source_${runId.replace(/\W/g, '_')}`;
  let scan: SourceScan = await openSource(config, {
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
    for (let attempt = 0; ; attempt++) {
      const judged = (located: boolean) =>
        `(SELECT * ${scan.hasParseError ? `EXCLUDE (${PARSE_ERROR})` : ''}, ${verdictExpression(checks, scan.hasParseError)} AS ${VERDICT}${scan.hasParseError ? `, ${PARSE_ERROR}` : ''}
          FROM ${scan.relation({ located })})`;
      const modelSql = fillSql(
        renderModel(model, (kind, name) => (kind === 'source' ? placeholder : refRelation(ws.project, name))),
        options.interval,
        `model '${model.name}'`,
      );
      await engine.run(`CREATE OR REPLACE TEMP VIEW ${placeholder} AS SELECT * FROM ${judged(false)}`);
      const carried = await carrySourceColumns(engine, modelSql, placeholder, [VERDICT], model.name);
      const hidden = new Set([VERDICT, PARSE_ERROR, ...LOCATION]);
      const output = (await engine.describe(carried)).filter((c) => !hidden.has(c.name));
      const scope = await intervalScope(engine, model, `SELECT * FROM (${carried})`, options.interval);
      const verdict = scope.inside
        ? `CASE WHEN ${scope.place} IS NULL AND ${VERDICT} = 'ok' THEN '${UNPLACED}' WHEN ${scope.place} IS NOT NULL AND NOT ${scope.inside} THEN '${OUTSIDE}' ELSE ${VERDICT} END`
        : VERDICT;
      const relation = `(SELECT ${output.map((c) => quoteIdent(c.name)).join(', ')}, ${verdict} AS ${ROW_VERDICT} FROM (${carried}))`;
      const preserving = await isRowPreserving(engine, carried);
      const progress = (options.progress ?? defaultProgress(options.quiet))(`${model.name} ← ${sourceName}`, scan.bytes);
      const shape = shapeOf(model, output);
      let staged: Staged;
      try {
        staged = await withQueryProgress(store.stage(engine, { shape, relation, mode: scope.mode, runId, divertBy: ROW_VERDICT }), () => engine.progress(), progress);
      } catch (error) {
        const recovered = attempt < MAX_REPAIRS ? await scan.recover?.(error as Error) : undefined;
        if (!recovered) throw error;
        await scan.close();
        scan = recovered.scan;
        setAside.push(...recovered.setAside);
        continue;
      } finally {
        progress.done();
      }
      try {
        const written = staged.rows ?? 0;
        const skipped = staged.diverted.get(OUTSIDE) ?? 0;
        const failed = [...staged.diverted].filter(([v]) => v !== OUTSIDE).reduce((s, [, n]) => s + n, 0);
        const rejects = await scan.rejects();
        const yielded = preserving ? written + skipped + failed : Number(await engine.scalar<bigint>(`SELECT count(*) FROM ${placeholder}`));
        if (!preserving && yielded !== written + skipped + failed) {
          throw new TributaryError(
            `counts do not reconcile: read ${fmt(yielded)}, wrote ${fmt(written)}, quarantined ${fmt(failed)}${skipped ? `, skipped ${fmt(skipped)}` : ''}; nothing was committed`,
            {
              place: { file: ws.project.configFile, field: `models.${model.name}.sql` },
              hint: `a model that reads a source must keep every row; filter, join or aggregate in a downstream model (see models.${model.name})`,
            },
          );
        }
        const repair = await scan.reconcile(yielded, rejects);
        if (repair) {
          if (attempt >= MAX_REPAIRS) throw new TributaryError(`the input of source '${sourceName}' needed more than ${MAX_REPAIRS} repairs; nothing was committed`, { hint: 'fix the files' });
          await store.discard(engine, [staged]);
          await scan.close();
          scan = repair.scan;
          setAside.push(...repair.setAside);
          continue;
        }
        const located = failed ? await locateFailed(engine, scan, modelSql, placeholder, judged(true), checks, scope, output, model.name) : [];
        if (located.length !== failed) {
          throw new TributaryError(`the writer diverted ${failed} rows but ${located.length} were found again in the source; nothing was committed`, {
            hint: 'the source changed during the run, or the model is not deterministic; run again',
          });
        }
        const quarantine: QuarantineRow[] = [...setAside, ...rejects, ...located].map((r) => ({ file: r.file, line: r.line, record: r.record ?? null, column: r.column, reason: r.reason, raw: r.raw, rawBytes: r.rawBytes }));
        const read = yielded + rejects.length + setAside.length;
        const counts: RunCounts = { read, written, quarantined: quarantine.length };
        try {
          assertLoadAcceptable({
            model: model.name,
            source: sourceName,
            max: config.maxQuarantined,
            considered: read - skipped,
            written,
            quarantined: quarantine.length,
            reasons: quarantine.map((q) => q.reason),
          });
        } catch (error) {
          // Nothing of the data commits; the rows that failed are kept so they can be looked at.
          await ws.metastore.commit(engine, { operation: 'quarantine', runId }, (tx) => tx.addQuarantine(runId, model.name, sourceName, quarantine));
          const e = error as TributaryError;
          throw new TributaryError(e.message, { hint: `look at them with \`tributary quarantine --run ${runId}\`; ${e.hint}` });
        }
        const streamed = new Set<string>();
        await store.commit(engine, [staged], {
          operation: 'load',
          runId,
          run: { runId, target: model.name, read, written, quarantined: quarantine.length },
          inside: async (tx: CatalogTransaction) => {
            await tx.setLineage(model.name, lineageOf(model, streamed));
            await tx.addQuarantine(runId, model.name, sourceName, quarantine);
          },
        });
        if (quarantine.length) {
          const sample = quarantine[0]!;
          log(`  ${fmt(quarantine.length)} row(s) quarantined, e.g. ${sample.file ?? '?'}:${sample.line ?? `record ${sample.record ?? '?'}`} ${sample.reason}`);
          log(`  → see them with \`tributary quarantine --run ${runId}\``);
        }
        return { counts, skipped };
      } catch (error) {
        await store.discard(engine, [staged as Staged]).catch(() => undefined);
        throw error;
      }
    }
  } finally {
    await engine.run(`DROP VIEW IF EXISTS ${placeholder}`).catch(() => undefined);
    await scan.close();
  }
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

/** Finds the file and line of each row that failed a rule, by a numbered re-read of the source. */
async function locateFailed(
  engine: Engine,
  scan: SourceScan,
  modelSql: string,
  placeholder: string,
  judgedLocated: string,
  checks: ReturnType<typeof ruleChecks>,
  scope: { inside?: string; place?: string; unplaced?: { column: string; reason: string } },
  output: ColumnInfo[],
  model: string,
): Promise<RejectedRow[]> {
  const located = `${placeholder}_located`;
  // The reason is worded on the source's rows (a rule names a source column, which the model may
  // rename or drop), then carried through the model with the verdict and the place.
  const { reason, column } = reasonExpression(checks, scan.hasParseError);
  await engine.run(`CREATE OR REPLACE TEMP VIEW ${located} AS SELECT *, ${reason} AS __why, ${column} AS __rule_column FROM ${judgedLocated}`);
  try {
    const carried = await carrySourceColumns(engine, modelSql.replaceAll(placeholder, located), located, [VERDICT, '__why', '__rule_column', ...LOCATION], model);
    const raw = `to_json(json_object(${output.map((c) => `${quoteLiteral(c.name)}, ${quoteIdent(c.name)}`).join(', ')}))::VARCHAR`;
    const outside = scope.inside ? ` AND NOT (${scope.place} IS NOT NULL AND NOT ${scope.inside})` : '';
    const unplaced = scope.unplaced ? `${VERDICT} = 'ok' AND ${scope.place} IS NULL` : 'false';
    const rows = await engine.queryJson<{ file: string; record: number; reason: string; column: string | null; raw: string }>(
      `SELECT __file AS file, __record::DOUBLE AS record,
              CASE WHEN ${unplaced} THEN ${quoteLiteral(scope.unplaced?.reason ?? '')} ELSE __why END AS reason,
              CASE WHEN ${unplaced} THEN ${quoteLiteral(scope.unplaced?.column ?? '')} ELSE __rule_column END AS column, ${raw} AS raw
       FROM (${carried}) WHERE (${VERDICT} <> 'ok' OR ${unplaced})${outside} ORDER BY file, record`,
    );
    const rejects = await scan.rejects();
    const byFile = new Map<string, number[]>();
    for (const r of rows) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r.record]);
    const places = new Map<string, Map<number, { line: number | null; record: number | null }>>();
    for (const [file, records] of byFile) places.set(file, await scan.locate(file, records, rejects));
    return rows.map((r) => {
      const place = places.get(r.file)?.get(r.record);
      return { file: r.file, line: place?.line ?? null, record: place?.record ?? r.record, column: r.column, reason: r.reason, raw: r.raw };
    });
  } finally {
    await engine.run(`DROP VIEW IF EXISTS ${located}`);
  }
}
