import { TributaryError, abortReason, errorMessage } from '../core/errors.js';
import { quoteIdent } from '../engine/sql.js';
import { compileProject, selectModels } from '../models/index.js';
import { runReadOnly } from './query.js';
import { renderRows, streamRows, type OutputFormat } from './output.js';
import { declared } from './declarations.js';
import { defineCommand, type CommandIO } from './types.js';
import { queryableTables, type Workspace } from '../state/workspace.js';
import { buildDbt, dbtWorkspace, requireDbt, type NodeResult } from './dbt-build.js';

/** The commands a dbt user reaches for, on a dbt project folder: build, seed, test, compile, show. */

/** Prints what ran and fails the command (non-zero exit) when a node errored or a test failed with severity error. */
function report(io: CommandIO, results: readonly NodeResult[], format: OutputFormat = 'table', signal?: AbortSignal): void {
  const rows = results.map((r) => ({ node: r.node, type: r.type, status: r.status, failures: r.failures ?? '', detail: r.detail, test: r.test ?? '', model: r.model ?? '', column: r.column ?? '' }));
  if (format === 'json') io.out(JSON.stringify(results));
  else if (rows.length) io.out(renderRows(rows.map(({ test: _t, model: _m, column: _c, ...rest }) => rest), format, undefined, io.tty));
  const count = (s: string) => results.filter((r) => r.status === s).length;
  io.err(`PASS=${count('success') + count('pass')} WARN=${count('warn')} ERROR=${count('error') + count('fail')} SKIP=${count('skipped')} TOTAL=${results.length}`);
  if (signal?.aborted) {
    throw new TributaryError(`stopped (${abortReason(signal)}) before every node ran`, { hint: 'what passed was committed; an interrupted node committed nothing: run the command again for the rest' });
  }
  const failed = results.filter((r) => r.status === 'error' || r.status === 'fail');
  if (failed.length) {
    // Each failed node's own advice first (a load's names the run whose rows were quarantined), one a line.
    const advice = failed.flatMap((r) => (r.hint ? [`${r.type} ${r.node}: ${r.hint}`] : []));
    throw new TributaryError(`${failed.length} node(s) failed: ${failed.map((r) => `${r.type} ${r.node} (${r.detail})`).join('; ')}`, {
      hint: [...advice, 'what passed was committed; fix the model or the data and run again (a failed test’s rows: run its SQL from `tributary compile`)'].join('\n'),
    });
  }
}

const runner = (declaration: typeof declared.build, only: 'seeds' | 'snapshots' | 'tests' | undefined) =>
  defineCommand({
    ...declaration,
    async run({ ws, io, signal }, input) {
      const results = await buildDbt(ws, { select: input.select, exclude: input.exclude, fullRefresh: input.fullRefresh, only, threads: input.threads, storeFailures: input.storeFailures, log: (m) => io.err(m), signal });
      report(io, results, input.format, signal);
    },
  });

export const buildCommand = runner(declared.build, undefined);
export const seedCommand = runner(declared.seed, 'seeds');
export const testCommand = runner(declared.test, 'tests');
export const snapshotCommand = runner(declared.snapshot, 'snapshots');

export interface FreshnessResult {
  source: string;
  table: string;
  status: 'pass' | 'warn' | 'error' | 'runtime error';
  max_loaded_at: string | null;
  snapshotted_at: string | null;
  age_seconds: number | null;
  warn_after_seconds: number | null;
  error_after_seconds: number | null;
  detail: string;
}

/**
 * `tributary source freshness` (dbt source freshness): for each source table with a freshness
 * limit and a loaded_at_field, how long ago its newest row was loaded, against the limits.
 */
export const sourceFreshnessCommand = defineCommand({
  ...declared.sourceFreshness,
  async run({ ws, io }, input) {
    const dbt = requireDbt(ws, 'source freshness');
    const wanted = (input.select ?? []).map((s) => s.replace(/^source:/, ''));
    const tables = dbt.surface.files.sources.filter((t) => t.freshness && (!wanted.length || wanted.some((w) => w === t.source || w === `${t.source}.${t.table}`)));
    const results: FreshnessResult[] = [];
    for (const t of tables) {
      const base = { source: t.source, table: t.table, warn_after_seconds: t.freshness!.warnAfter ?? null, error_after_seconds: t.freshness!.errorAfter ?? null };
      if (!t.loadedAtField) {
        results.push({ ...base, status: 'runtime error', max_loaded_at: null, snapshotted_at: null, age_seconds: null, detail: `no loaded_at_field: add it to the source or the table in ${t.file}` });
        continue;
      }
      try {
        const relation = dbt.surface.sourceRelation(t.source, t.table);
        const [row] = await ws.engine.query<{ max_loaded_at: string | null; snapshotted_at: string; age: number | null }>(
          `SELECT CAST(max_loaded_at AS VARCHAR) AS max_loaded_at, CAST(snapshotted_at AS VARCHAR) AS snapshotted_at, epoch(snapshotted_at) - epoch(max_loaded_at) AS age
           FROM (SELECT CAST(max(${t.loadedAtField}) AS TIMESTAMP) AS max_loaded_at, now()::TIMESTAMP AS snapshotted_at FROM ${relation}${t.freshnessFilter ? ` WHERE ${t.freshnessFilter}` : ''})`,
        );
        const age = row!.age === null ? null : Number(row!.age);
        // No row at all is as stale as a source can be.
        const over = (limit: number | undefined) => limit !== undefined && (age === null || age > limit);
        const status = over(t.freshness!.errorAfter) ? 'error' : over(t.freshness!.warnAfter) ? 'warn' : 'pass';
        const said = age === null ? 'no rows' : age < 0 ? `newest row stamped ${formatAge(-age)} in the future` : `newest row loaded ${formatAge(age)} ago`;
        results.push({ ...base, status, max_loaded_at: row!.max_loaded_at, snapshotted_at: row!.snapshotted_at, age_seconds: age, detail: said });
      } catch (error) {
        results.push({ ...base, status: 'runtime error', max_loaded_at: null, snapshotted_at: null, age_seconds: null, detail: `${t.file}: ${errorMessage(error).split('\n')[0]}` });
      }
    }
    if (input.format === 'json') io.out(JSON.stringify(results));
    else if (results.length) io.out(renderRows(results.map((r) => ({ source: `${r.source}.${r.table}`, status: r.status, max_loaded_at: r.max_loaded_at ?? '', detail: r.detail })), input.format, undefined, io.tty));
    const count = (s: string) => results.filter((r) => r.status === s).length;
    io.err(`PASS=${count('pass')} WARN=${count('warn')} ERROR=${count('error') + count('runtime error')} TOTAL=${results.length}`);
    if (!tables.length && wanted.length) {
      const known = dbt.surface.files.sources.filter((t) => t.freshness).map((t) => `source:${t.source}.${t.table}`);
      io.err(`nothing selected: no source table with a freshness limit matches ${(input.select ?? []).join(' ')}${known.length ? ` (those with one: ${known.join(', ')})` : ''}`);
    } else if (!tables.length) io.err('no source table declares a freshness limit (freshness: {warn_after: {count: 12, period: hour}} with a loaded_at_field in sources.yml)');
    const failed = results.filter((r) => r.status === 'error' || r.status === 'runtime error');
    if (failed.length) {
      throw new TributaryError(`${failed.length} source table(s) are stale or could not be checked: ${failed.map((r) => `${r.source}.${r.table} (${r.detail})`).join('; ')}`, {
        hint: 'load fresh data into them, or widen error_after in sources.yml if the limit is wrong',
      });
    }
  },
});

function formatAge(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  return days ? `${days} d ${hours} h` : hours ? `${hours} h ${minutes} min` : `${minutes} min ${Math.floor(seconds % 60)} s`;
}

/** A selected node whose template's query failed has no SQL to print or preview: its failure is the answer. */
function refuseUnrendered(view: Workspace, models: readonly { name: string }[]): void {
  const failed = models.map((m) => view.project.dbt?.failed.get(m.name)).find((f) => f !== undefined);
  if (failed) throw failed;
}

/** `tributary compile`: each selected model's SQL as the engine receives it, Jinja rendered and refs resolved. */
export const compileCommand = defineCommand({
  ...declared.compile,
  async run({ ws, io }, input) {
    const dbt = requireDbt(ws, 'compile');
    const view = await dbtWorkspace(ws, input.fullRefresh);
    const plan = compileProject(view.project, view, await queryableTables(ws.engine));
    const models = selectModels(plan, input.select, input.exclude).filter((m) => !dbt.surface.seeds.has(m.name));
    refuseUnrendered(view, models);
    const compiled = models.map((m) => ({ model: m.name, file: m.file ?? '', sql: plan.sql(m, (kind, name) => (kind === 'source' ? quoteIdent(name) : undefined), undefined) }));
    if (!compiled.length) io.err('nothing selected: no model matches the selection');
    if (input.format === 'json') io.out(JSON.stringify(compiled));
    else io.out(compiled.map((c) => `-- ${c.file} (${c.model})\n${c.sql}\n`).join('\n'));
  },
});

/**
 * `tributary show`: a model's rows as its SQL computes them now (dbt show), the first `limit`,
 * without writing anything: what a change to the model would give before it is built.
 */
export const showCommand = defineCommand({
  ...declared.show,
  async run({ ws, io, signal }, input) {
    const dbt = requireDbt(ws, 'show');
    const view = await dbtWorkspace(ws, false);
    const plan = compileProject(view.project, view, await queryableTables(ws.engine));
    const models = input.inline === undefined ? selectModels(plan, input.select, input.exclude).filter((m) => !dbt.surface.seeds.has(m.name)) : [];
    if (input.inline !== undefined && input.select?.length) {
      throw new TributaryError('show previews a model or an --inline query, not both', { hint: 'drop the model name, or --inline' });
    }
    if (input.inline === undefined && models.length !== 1) {
      throw new TributaryError(`show previews one model; the selection picks ${models.length ? models.map((m) => m.name).join(', ') : 'none'}`, {
        hint: 'name one model: tributary show orders (or --select orders), or give a query: --inline "select …"',
      });
    }
    // An inline query is read as a model of its own that nothing builds: its refs resolve as any model's.
    const anyModel = [...plan.models.values()][0];
    if (input.inline !== undefined && !anyModel) throw new TributaryError('the project has no model or seed for an --inline query to read', { hint: 'add a model or a seed' });
    refuseUnrendered(view, models);
    const previewed = input.inline === undefined ? models[0]! : { ...anyModel!, name: '--inline', file: undefined, refs: [], sources: [], template: dbt.surface.renderInline(input.inline) };
    const sql = plan.sql(previewed, (kind, name) => (kind === 'source' ? quoteIdent(name) : undefined), undefined);
    const writer = streamRows(input.format, (text) => io.out(text), io.tty);
    await runReadOnly(ws, `SELECT * FROM (${sql}) LIMIT ${input.limit}`, (columns) => writer.columns(columns.map((c) => c.name)), (rows) => writer.rows(rows), { signal });
    writer.end();
  },
});

