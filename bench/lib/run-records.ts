import type { RunPhase } from '../../src/catalog/index.js';
import { runCapture } from './measure.js';
import type { SuiteContext } from './suite.js';

/** What a model's run record of the last `tributary run` says: its seconds, rows written and (a load's) phases. */
export interface ModelTiming {
  seconds: number;
  written: number;
  timing: RunPhase[] | null;
}

/** Per model of the last `tributary run` in `dataDir`, from its run records (`tributary runs --format json`). */
export async function modelTimings(context: SuiteContext, cli: string[], project: string, dataDir: string): Promise<Map<string, ModelTiming>> {
  const text = await runCapture(process.execPath, [...cli, 'runs', '--project', project, '--data-dir', dataDir, '--limit', '200', '--format', 'json'], { cwd: context.root });
  const runs = JSON.parse(text) as { run_group: string; target: string; status: string; started_at: string; finished_at: string; written: number; timing: RunPhase[] | null }[];
  const group = runs[0]?.run_group;
  const seconds = (at: string) => Date.parse(at.replace(' ', 'T').replace(/\+00$/, 'Z'));
  return new Map(
    runs
      .filter((r) => r.run_group === group && r.status === 'success')
      .map((r) => [r.target, { seconds: (seconds(r.finished_at) - seconds(r.started_at)) / 1000, written: Number(r.written), timing: r.timing ?? null }]),
  );
}

/** A load's phases as a sentence: each with its seconds, and the commit as what the run's span holds beyond them. */
export function phasesSentence(phases: readonly RunPhase[], seconds: number): string {
  const rest = seconds - phases.reduce((sum, p) => sum + p.seconds, 0);
  return [...phases, { name: 'commit', seconds: rest }].map((p) => `${p.name} ${p.seconds.toFixed(1)} s`).join(', ');
}
