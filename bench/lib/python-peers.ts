import { join } from 'node:path';
import { runCapture } from './measure.js';

/** The Python peers' interpreters, in the venvs .ci/bench-tools.sh makes (pinned from PyPI). */
export const BENCH_PYTHON = '.tools/bench-venv/bin/python';
export const AIRFLOW_PYTHON = '.tools/airflow-venv/bin/python';

/** Untimed: installs the pinned Python peers once; the script does nothing when they are in place. */
export async function installPythonPeers(context: { root: string }): Promise<void> {
  await runCapture('bash', [join('.ci', 'bench-tools.sh')], { cwd: context.root });
}
