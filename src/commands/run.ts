import { TributaryError } from '../core/errors.js';
import { dayInterval, daysBetween, type DataInterval } from '../core/interval.js';
import { runModels } from '../models/index.js';
import { runChecks } from '../quality/index.js';
import { renderRows } from './output.js';
import { withSources } from './project.js';
import { defineCommand } from './types.js';

export interface RunInput {
  models?: string[];
  date?: string;
  from?: string;
  to?: string;
  quiet?: boolean;
  sources?: Record<string, string>;
}

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

export const runCommand = defineCommand<RunInput>({
  name: 'run',
  async run({ ws, io }, input) {
    const view = ws.withProject(withSources(ws.project, input.sources));
    const results = await runModels(view, {
      models: input.models,
      interval: intervalOf(input),
      trigger: 'cli',
      quiet: input.quiet,
      log: (m) => io.err(m),
      progress: (label, bytes) => io.progress(label, bytes),
    });
    const checks = await runChecks(ws.engine, ws.project.config.checks, new Set(results.map((r) => r.model)));
    for (const c of checks) io.err(`${c.passed ? '✔' : c.severity === 'error' ? '✘' : '!'} check ${c.name}: ${c.detail}`);
    io.out(
      renderRows(
        results.map((r) => ({
          model: r.model,
          materialize: r.materialize,
          read: r.read ?? '',
          written: r.written,
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
    const failed = checks.filter((c) => !c.passed && c.severity === 'error');
    if (failed.length) {
      throw new TributaryError(`${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`, {
        hint: 'the tables were written; inspect them with `tributary sql` and fix the model or the data',
      });
    }
  },
});
