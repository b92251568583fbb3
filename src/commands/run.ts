import { TributaryError } from '../core/errors.js';
import { dayInterval, daysBetween, type DataInterval } from '../core/interval.js';
import { RunFailed, runModels, type ModelResult } from '../models/index.js';
import { runChecks } from '../quality/index.js';
import { renderRows } from './output.js';
import { dbtModelHooks, dbtWorkspace, refuseUnloadedSeeds, runOnRunHooks } from './dbt-build.js';
import { withSources } from './project.js';
import { declared } from './declarations.js';
import { defineCommand, type CommandIO } from './types.js';

/** The interval of `--date D` or `--from A --to B` (both days included). */
export function intervalOf(input: { date?: string; from?: string; to?: string }): DataInterval | undefined {
  if ((input.from && !input.to) || (!input.from && input.to)) {
    throw new TributaryError('--from and --to go together', { hint: 'give both, or use --date for one day' });
  }
  if (input.date) return dayInterval(input.date);
  if (input.from && input.to) {
    const days = daysBetween(input.from, input.to);
    return { start: dayInterval(days[0]!).start, end: dayInterval(days.at(-1)!).end, ds: days[0]! };
  }
  return undefined;
}

/** What a run committed, one row per model (and per source loaded for several models). */
function summary(io: CommandIO, results: readonly ModelResult[]): void {
  if (!results.length) return;
  io.out(
    renderRows(
      results.map((r) => ({
        model: r.model,
        materialize: r.materialize,
        read: r.read ?? '',
        written: r.holdsRows ? r.written : '',
        quarantined: r.read === null ? '' : r.quarantined,
        skipped: r.skipped || '',
        partitions: r.partitions || '',
        seconds: r.seconds.toFixed(2),
      })),
      'table',
      undefined,
      io.tty,
    ),
  );
}

export const runCommand = defineCommand({
  ...declared.run,
  async run({ ws, io, signal }, input) {
    // A dbt project's models render for what the warehouse holds now; its seeds load with `tributary seed`, as dbt's do.
    const view = await dbtWorkspace(ws.withProject(withSources(ws.project, input.sources)), input.fullRefresh);
    // Snapshots record history only when asked (`tributary snapshot` or `build`), as in dbt.
    const seeds = [...(ws.project.dbt?.surface.seeds ?? []), ...(ws.project.dbt?.surface.snapshots ?? [])];
    await refuseUnloadedSeeds(view, input);
    let results: ModelResult[];
    await runOnRunHooks(view, 'start');
    try {
      results = await runModels(view, {
        select: input.select,
        exclude: [...(input.exclude ?? []), ...seeds],
        threads: input.threads,
        interval: intervalOf(input),
        trigger: 'cli',
        signal,
        quiet: input.quiet,
        log: (m) => io.err(m),
        progress: (label, bytes) => io.progress(label, bytes),
        hooks: dbtModelHooks(view),
      });
    } catch (error) {
      // What did commit is shown before the failure is reported.
      // A failed model still ends the run with its hooks; a stopped run does not, as in dbt.
      if (error instanceof RunFailed) {
        if (!signal?.aborted) await runOnRunHooks(view, 'end');
        summary(io, error.results);
      }
      throw error;
    }
    await runOnRunHooks(view, 'end');
    const outcome = await runChecks(ws.engine, ws.project.config.checks, ws.project.components.checks, new Set(results.map((r) => r.model)));
    for (const c of outcome) io.err(`${c.passed ? '✔' : c.severity === 'error' ? '✘' : '!'} check ${c.name}: ${c.detail}`);
    summary(io, results);
    if (!results.length) io.err('nothing selected: no model matches the selection');
    const failed = outcome.filter((c) => !c.passed && c.severity === 'error');
    if (failed.length) {
      throw new TributaryError(`${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`, {
        hint: 'the tables were written; inspect them with `tributary sql` and fix the model or the data',
      });
    }
  },
});
