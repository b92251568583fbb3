import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { RunCounts } from '../catalog/index.js';
import { sourceConnectors, type RejectedRow, type SourceScan } from '../connectors/index.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import { createProgress, withQueryProgress } from '../core/progress.js';
import type { Engine, Transaction } from '../engine/index.js';
import { quoteIdent, quoteLiteral } from '../engine/index.js';
import { PARSE_ERROR, VERDICT, reasonExpression, ruleChecks, verdictExpression } from '../quality/rules.js';
import { compileModel, planModels, renderModel, type CompiledModel } from './compile.js';
import type { Workspace } from './workspace.js';

export interface RunOptions {
  models?: string[];
  /** Partition dates to (re)build; empty means the whole table. */
  dates?: string[];
  log?: (message: string) => void;
  quiet?: boolean;
}

export interface ModelResult extends RunCounts {
  model: string;
  runId: string;
  materialize: string;
  seconds: number;
  partitions: number;
}

/** Internal columns a located scan adds; never part of a table. */
const LOCATION_COLUMNS = ['__file', '__record'];

/**
 * Runs models in dependency order. A model that reads a source is a load: every source row ends
 * up written or quarantined with its reason, and the run fails unless the counts reconcile.
 */
export async function runModels(ws: Workspace, options: RunOptions = {}): Promise<ModelResult[]> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const plan = planModels(ws.project, options.models);
  await ws.lake.vacuum();
  const results: ModelResult[] = [];
  for (const model of plan) {
    if (model.config.materialize === 'ephemeral') continue;
    results.push(await runModel(ws, model, options, log));
  }
  return results;
}

async function runModel(ws: Workspace, model: CompiledModel, options: RunOptions, log: (m: string) => void): Promise<ModelResult> {
  const { catalog } = ws;
  const runId = catalog.newRunId();
  const started = Date.now();
  const dates = options.dates?.length ? options.dates : undefined;
  await catalog.startRun(runId, model.name, { dates });
  const scratchDir = path.join(ws.project.stateDir, 'scratch', runId);
  let scan: SourceScan | undefined;
  try {
    if (model.sources.length > 1) {
      throw new TributaryError(`model '${model.name}' reads ${model.sources.length} sources; a load reads one`, {
        place: { file: ws.project.configFile, field: `models.${model.name}.sql` },
        hint: 'load each source in its own model, then join the loaded tables in a downstream model',
      });
    }
    const sourceName = model.sources[0];
    if (sourceName) {
      const config = ws.project.config.sources[sourceName]!;
      mkdirSync(scratchDir, { recursive: true });
      scan = await sourceConnectors[config.format].open(sourceName, config, {
        engine: ws.engine,
        baseDir: ws.project.dir,
        scratchDir,
        runId,
        date: dates?.length === 1 ? dates[0] : undefined,
        log,
      });
    }
    const counts = scan
      ? await runLoad(ws, model, sourceName!, scan, runId, dates, options.quiet ?? false, log)
      : await runTransform(ws, model, runId, dates);
    await catalog.finishRun(runId, 'success', counts);
    const seconds = (Date.now() - started) / 1000;
    const partitions = model.config.materialize === 'lake' ? (await catalog.partitions(model.name)).length : 0;
    const outcome =
      model.config.materialize === 'view'
        ? 'defined'
        : `${counts.read !== null ? `read ${fmt(counts.read)}, ` : ''}wrote ${fmt(counts.written)}${counts.read !== null ? `, quarantined ${fmt(counts.quarantined)}` : ''}`;
    log(`✔ ${model.name} (${model.config.materialize}) in ${seconds.toFixed(1)}s: ${outcome}`);
    return { model: model.name, runId, materialize: model.config.materialize, seconds, partitions, ...counts };
  } catch (error) {
    await catalog.finishRun(runId, 'failed', { read: null, written: 0, quarantined: 0 }, errorMessage(error)).catch(() => undefined);
    if (error instanceof TributaryError) throw error;
    throw new TributaryError(`model '${model.name}' failed: ${(error as Error).message}`, {
      place: { file: ws.project.configFile, field: `models.${model.name}` },
      hint: 'nothing was committed; fix the cause and run again',
      cause: error,
    });
  } finally {
    await scan?.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Keeps only the requested partitions, by the model's first partition expression. */
function datesFilter(model: CompiledModel, dates: string[] | undefined): string {
  if (!dates) return '';
  const partition = Object.values(model.config.partitionBy ?? {})[0];
  if (!partition) {
    throw new TributaryError(`--date needs a partitioned model, and '${model.name}' has no partitionBy`, {
      hint: 'run it without --date, or declare partitionBy for it',
    });
  }
  return ` WHERE CAST(${partition} AS VARCHAR) IN (${dates.map(quoteLiteral).join(', ')})`;
}

async function lineage(tx: Transaction, ws: Workspace, model: CompiledModel): Promise<void> {
  await ws.catalog.setLineage(tx, model.name, [
    ...model.sources.map((name) => ({ name, kind: 'source' as const })),
    ...model.refs.map((name) => ({ name, kind: 'model' as const })),
  ]);
}

/** A model over other tables: no rows to account for beyond what it writes. */
/** A ref names a built table, or inlines an ephemeral model's SQL. */
function refTo(ws: Workspace, name: string): string {
  const target = ws.project.config.models[name];
  if (target?.materialize !== 'ephemeral') return quoteIdent(name);
  return `(${renderModel(compileModel(ws.project, name), (kind, ref) => (kind === 'ref' ? refTo(ws, ref) : quoteIdent(ref)))})`;
}

async function runTransform(ws: Workspace, model: CompiledModel, runId: string, dates: string[] | undefined): Promise<RunCounts> {
  const sql = renderModel(model, (kind, name) => (kind === 'ref' ? refTo(ws, name) : quoteIdent(name)));
  const { engine, catalog, lake } = ws;
  const description = model.config.description;
  switch (model.config.materialize) {
    case 'lake': {
      const staged = await lake.stage(model.name, `SELECT * FROM (${sql})${datesFilter(model, dates)}`, {
        runId,
        partitionBy: model.config.partitionBy,
      });
      await lake.commit(staged, dates ? 'partitions' : 'all', description, (tx) => lineage(tx, ws, model));
      return { read: null, written: staged.files.reduce((s, f) => s + f.rows, 0), quarantined: 0 };
    }
    case 'table': {
      const written = await engine.transaction(async (tx) => {
        await tx.run(`CREATE OR REPLACE TABLE main.${quoteIdent(model.name)} AS ${sql}`);
        const columns = await tx.query<{ name: string; type: string }>(
          `SELECT column_name AS name, data_type AS type FROM information_schema.columns
           WHERE table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
          [model.name],
        );
        await catalog.registerTable(tx, { name: model.name, kind: 'table', description, columns });
        await lineage(tx, ws, model);
        const rows = await tx.query<{ n: bigint }>(`SELECT count(*) AS n FROM main.${quoteIdent(model.name)}`);
        return Number(rows[0]!.n);
      });
      return { read: null, written, quarantined: 0 };
    }
    case 'ephemeral':
      return { read: null, written: 0, quarantined: 0 };
    case 'view': {
      await engine.transaction(async (tx) => {
        await tx.run(`CREATE OR REPLACE VIEW main.${quoteIdent(model.name)} AS ${sql}`);
        const columns = (await tx.query<{ column_name: string; column_type: string }>(`DESCRIBE main.${quoteIdent(model.name)}`)).map((c) => ({
          name: c.column_name,
          type: c.column_type,
        }));
        await catalog.registerTable(tx, { name: model.name, kind: 'view', description, columns });
        await lineage(tx, ws, model);
      });
      return { read: null, written: 0, quarantined: 0 };
    }
  }
}

/**
 * A load: one scan of the source through the model into the lake (or a serving table), with each
 * row's rule verdict computed on the way. Rows that fail a rule are diverted by the writer and then
 * located (file and line) for the quarantine; rows the reader refused come from its reject log.
 */
async function runLoad(
  ws: Workspace,
  model: CompiledModel,
  sourceName: string,
  scan: SourceScan,
  runId: string,
  dates: string[] | undefined,
  quiet: boolean,
  log: (m: string) => void,
): Promise<RunCounts> {
  const { engine, lake, catalog } = ws;
  const config = ws.project.config.sources[sourceName]!;
  const checks = ruleChecks(config.rules ?? []);
  const verdict = verdictExpression(checks, scan.hasParseError);
  const judged = (relation: string) =>
    `(SELECT * ${scan.hasParseError ? `EXCLUDE (${PARSE_ERROR})` : ''}, ${verdict} AS ${VERDICT}${scan.hasParseError ? `, ${PARSE_ERROR}` : ''} FROM ${relation})`;
  const modelSql = (relation: string) => renderModel(model, (kind, name) => (kind === 'source' ? judged(relation) : refTo(ws, name)));
  const sql = modelSql(scan.relation());
  const output = await engine.describe(sql);
  if (!output.some((c) => c.name === VERDICT)) {
    throw new TributaryError(`model '${model.name}' reads source '${sourceName}' but its result drops the ${VERDICT} column`, {
      place: { file: ws.project.configFile, field: `models.${model.name}.sql` },
      hint: `select * from the source (adding columns is fine) so rejected rows can reach the quarantine`,
    });
  }
  const hidden = new Set([VERDICT, PARSE_ERROR, ...LOCATION_COLUMNS]);
  const keep = output.filter((c) => !hidden.has(c.name)).map((c) => quoteIdent(c.name));
  const filtered = `SELECT ${[...keep, VERDICT].join(', ')} FROM (${sql})${datesFilter(model, dates)}`;
  const preserving = await isRowPreserving(engine, sql);
  const progress = createProgress({ label: `${model.name} ← ${sourceName}`, totalBytes: scan.bytes, quiet });

  let written: number;
  let diverted: number;
  let commit: (inside: (tx: Transaction) => Promise<void>) => Promise<void>;
  let discard: () => Promise<void>;
  if (model.config.materialize === 'lake') {
    const staged = await withQueryProgress(
      lake.stage(model.name, filtered, { runId, partitionBy: model.config.partitionBy, divertBy: VERDICT }),
      () => engine.progress(),
      progress,
    );
    written = staged.files.reduce((s, f) => s + f.rows, 0);
    diverted = [...staged.diverted.values()].reduce((s, n) => s + n, 0);
    commit = (inside) => lake.commit(staged, dates ? 'partitions' : 'all', model.config.description, inside);
    discard = async () => lake.discard(staged);
  } else if (model.config.materialize === 'table') {
    const temp = `__load_${runId.replace(/\W/g, '_')}`;
    await withQueryProgress(engine.run(`CREATE OR REPLACE TEMP TABLE ${temp} AS ${filtered}`), () => engine.progress(), progress);
    const counts = await engine.query<{ v: string; n: bigint }>(`SELECT ${VERDICT} AS v, count(*) AS n FROM ${temp} GROUP BY 1`);
    written = Number(counts.find((c) => c.v === 'ok')?.n ?? 0n);
    diverted = counts.filter((c) => c.v !== 'ok').reduce((s, c) => s + Number(c.n), 0);
    commit = (inside) =>
      engine.transaction(async (tx) => {
        await tx.run(`CREATE OR REPLACE TABLE main.${quoteIdent(model.name)} AS SELECT * EXCLUDE (${VERDICT}) FROM ${temp} WHERE ${VERDICT} = 'ok'`);
        await tx.run(`DROP TABLE ${temp}`);
        const columns = output.filter((c) => !hidden.has(c.name));
        await catalog.registerTable(tx, { name: model.name, kind: 'table', description: model.config.description, columns });
        await inside(tx);
      });
    discard = async () => {
      await engine.run(`DROP TABLE IF EXISTS ${temp}`);
    };
  } else {
    throw new TributaryError(`model '${model.name}' reads a source, so it cannot be a view`, {
      place: { file: ws.project.configFile, field: `models.${model.name}.materialize` },
      hint: "materialize it as 'lake' or 'table': a load must record what it quarantined",
    });
  }
  progress.done();

  let rejects: RejectedRow[];
  let located: RejectedRow[];
  let read: number;
  const quarantined = () => rejects.length + diverted;
  try {
    await scan.verified();
    rejects = await scan.rejects();
    located = diverted > 0 ? await locateDiverted(ws, model, scan, modelSql, checks, dates, rejects) : [];
    if (located.length !== diverted) {
      throw new TributaryError(`the writer diverted ${diverted} rows but ${located.length} were found again in the source`, {
        hint: 'the source changed during the run, or the model is not deterministic; run again',
      });
    }
    read = preserving ? written + quarantined() : await countSource(engine, judged(scan.relation()), model, dates, rejects.length);
    if (read !== written + quarantined()) {
      throw new TributaryError(`counts do not reconcile: read ${read}, wrote ${written}, quarantined ${quarantined()}; nothing was committed`, {
        hint: `a model that reads a source must keep every row; filter or aggregate in a downstream model (see models.${model.name})`,
      });
    }
  } catch (error) {
    await discard();
    throw error;
  }

  await commit(async (tx) => {
    await lineage(tx, ws, model);
    for (const row of [...rejects, ...located]) {
      await tx.run(
        `INSERT INTO tributary.quarantine (run_id, model, source, file, line, column_name, reason, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [runId, model.name, sourceName, row.file, row.line, row.column, row.reason, row.raw],
      );
    }
  });
  if (quarantined() > 0) {
    const sample = [...rejects, ...located][0]!;
    log(`  ${fmt(quarantined())} row(s) quarantined, e.g. ${sample.file}:${sample.line ?? '?'} ${sample.reason}`);
    log(`  → see them with \`tributary quarantine --model ${model.name}\``);
  }
  return { read, written, quarantined: quarantined() };
}

/**
 * Proves from the plan that the model neither drops nor adds rows (projections over one scan,
 * nothing pushed into the scan); then read = written + quarantined holds by construction.
 */
async function isRowPreserving(engine: Engine, sql: string): Promise<boolean> {
  const rows = await engine.query<{ explain_value: string }>(`EXPLAIN (FORMAT json) ${sql}`);
  type PlanNode = { name: string; children: PlanNode[]; extra_info?: Record<string, unknown> };
  const plan = JSON.parse(rows[0]!.explain_value) as PlanNode[];
  let node: PlanNode | undefined = plan[0];
  while (node) {
    if (node.name === 'PROJECTION' && node.children.length === 1) {
      node = node.children[0];
      continue;
    }
    // `x IN (long list)` becomes a mark join: every row of its left side comes out once, marked.
    if (node.name === 'HASH_JOIN' && node.extra_info?.['Join Type'] === 'MARK' && node.children.length === 2) {
      node = node.children[0];
      continue;
    }
    return /^(READ_CSV|READ_PARQUET|PARQUET_SCAN|READ_JSON|TABLE_SCAN)/.test(node.name) && node.children.length === 0 && !node.extra_info?.Filters;
  }
  return false;
}

/** The independent count, for models whose plan does not prove they keep every row. */
async function countSource(engine: Engine, judged: string, model: CompiledModel, dates: string[] | undefined, rejected: number): Promise<number> {
  const partition = Object.values(model.config.partitionBy ?? {})[0];
  const where = dates && partition ? ` WHERE CAST(${partition} AS VARCHAR) IN (${dates.map(quoteLiteral).join(', ')})` : '';
  const n = await engine.scalar<bigint>(`SELECT count(*) FROM ${judged}${where}`);
  return Number(n) + rejected;
}

/** Finds the file and line of each row that failed a rule, by a numbered re-read of the source. */
async function locateDiverted(
  ws: Workspace,
  model: CompiledModel,
  scan: SourceScan,
  modelSql: (relation: string) => string,
  checks: ReturnType<typeof ruleChecks>,
  dates: string[] | undefined,
  rejects: readonly RejectedRow[],
): Promise<RejectedRow[]> {
  const sql = modelSql(scan.relation({ located: true }));
  const columns = (await ws.engine.describe(sql)).filter((c) => ![VERDICT, PARSE_ERROR, ...LOCATION_COLUMNS].includes(c.name));
  const { reason, column } = reasonExpression(checks, scan.hasParseError);
  const raw = `to_json(json_object(${columns.map((c) => `${quoteLiteral(c.name)}, ${quoteIdent(c.name)}`).join(', ')}))::VARCHAR`;
  const rows = await ws.engine.queryJson<{ file: string; record: number; reason: string; column: string | null; raw: string }>(
    `SELECT __file AS file, __record::DOUBLE AS record, ${reason} AS reason, ${column} AS column, ${raw} AS raw
     FROM (${sql}) ${datesFilter(model, dates) ? `${datesFilter(model, dates)} AND` : 'WHERE'} ${VERDICT} <> 'ok' ORDER BY file, record`,
  );
  return rows.map((r) => ({ file: r.file, line: scan.lineOf(r.file, r.record, rejects), column: r.column, reason: r.reason, raw: r.raw }));
}
