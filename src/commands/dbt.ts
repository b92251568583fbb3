import { TributaryError } from '../core/errors.js';
import { quoteIdent } from '../engine/sql.js';
import { compileProject, selectModels } from '../models/index.js';
import { runReadOnly } from './query.js';
import { renderRows, streamRows, type OutputFormat } from './output.js';
import { defineCommand, type CommandIO } from './types.js';
import { queryableTables } from '../state/workspace.js';
import { buildDbt, dbtWorkspace, requireDbt, type NodeResult } from './dbt-build.js';

/** The commands a dbt user reaches for, on a dbt project folder: build, seed, test, compile, show. */

export interface DbtInput {
  select?: string[];
  exclude?: string[];
  fullRefresh?: boolean;
  format?: OutputFormat;
  /** Nodes built at the same time (build, seed): the profile target's threads by default. */
  threads?: number;
  /** build, test: every test keeps its failing rows in the audit schema. */
  storeFailures?: boolean;
}

/** Prints what ran and fails the command (non-zero exit) when a node errored or a test failed with severity error. */
function report(io: CommandIO, results: readonly NodeResult[], format: OutputFormat = 'table'): void {
  const rows = results.map((r) => ({ node: r.node, type: r.type, status: r.status, failures: r.failures ?? '', detail: r.detail, test: r.test ?? '', model: r.model ?? '', column: r.column ?? '' }));
  if (format === 'json') io.out(JSON.stringify(results));
  else if (rows.length) io.out(renderRows(rows.map(({ test: _t, model: _m, column: _c, ...rest }) => rest), format, undefined, io.tty));
  const count = (s: string) => results.filter((r) => r.status === s).length;
  io.err(`PASS=${count('success') + count('pass')} WARN=${count('warn')} ERROR=${count('error') + count('fail')} SKIP=${count('skipped')} TOTAL=${results.length}`);
  const failed = results.filter((r) => r.status === 'error' || r.status === 'fail');
  if (failed.length) {
    throw new TributaryError(`${failed.length} node(s) failed: ${failed.map((r) => `${r.type} ${r.node} (${r.detail})`).join('; ')}`, {
      hint: 'what passed was committed; fix the model or the data and run again (a failed test’s rows: run its SQL from `tributary compile`)',
    });
  }
}

const runner = (name: string, only: 'seeds' | 'snapshots' | 'tests' | undefined) =>
  defineCommand<DbtInput>({
    name,
    async run({ ws, io }, input) {
      const results = await buildDbt(ws, { select: input.select, exclude: input.exclude, fullRefresh: input.fullRefresh, only, threads: input.threads, storeFailures: input.storeFailures, log: (m) => io.err(m) });
      report(io, results, input.format);
    },
  });

export const buildCommand = runner('build', undefined);
export const seedCommand = runner('seed', 'seeds');
export const testCommand = runner('test', 'tests');
export const snapshotCommand = runner('snapshot', 'snapshots');

/** `tributary compile`: each selected model's SQL as the engine receives it, Jinja rendered and refs resolved. */
export const compileCommand = defineCommand<DbtInput>({
  name: 'compile',
  async run({ ws, io }, input) {
    const dbt = requireDbt(ws, 'compile');
    const view = await dbtWorkspace(ws, input.fullRefresh);
    const plan = compileProject(view.project, view, await queryableTables(ws.engine));
    const models = selectModels(plan, input.select, input.exclude).filter((m) => !dbt.surface.seeds.has(m.name));
    const compiled = models.map((m) => ({ model: m.name, file: m.file ?? '', sql: plan.sql(m, (kind, name) => (kind === 'source' ? quoteIdent(name) : undefined), undefined) }));
    if (input.format === 'json') io.out(JSON.stringify(compiled));
    else io.out(compiled.map((c) => `-- ${c.file} (${c.model})\n${c.sql}\n`).join('\n'));
  },
});

/**
 * `tributary show`: a model's rows as its SQL computes them now (dbt show), the first `limit`,
 * without writing anything: what a change to the model would give before it is built.
 */
export const showCommand = defineCommand<DbtInput & { limit: number }>({
  name: 'show',
  async run({ ws, io, signal }, input) {
    const dbt = requireDbt(ws, 'show');
    const view = await dbtWorkspace(ws, false);
    const plan = compileProject(view.project, view, await queryableTables(ws.engine));
    const models = selectModels(plan, input.select, input.exclude).filter((m) => !dbt.surface.seeds.has(m.name));
    if (models.length !== 1) {
      throw new TributaryError(`show previews one model; the selection picks ${models.length ? models.map((m) => m.name).join(', ') : 'none'}`, {
        hint: 'name one model: tributary show orders (or --select orders)',
      });
    }
    const sql = plan.sql(models[0]!, (kind, name) => (kind === 'source' ? quoteIdent(name) : undefined), undefined);
    const writer = streamRows(input.format ?? 'table', (text) => io.out(text), io.tty);
    await runReadOnly(ws, `SELECT * FROM (${sql}) LIMIT ${input.limit}`, (columns) => writer.columns(columns.map((c) => c.name)), (rows) => writer.rows(rows), { signal });
    writer.end();
  },
});

