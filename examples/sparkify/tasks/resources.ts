/**
 * The daily job's set-up and tear-down, as the original Airflow DAG created a cluster before the
 * job and terminated it after, whatever happened. Here the resource is a scratch area for the
 * run: a folder that holds the run's working files, starting with a manifest of what the run is
 * about. The tear-down runs with trigger rule 'all_done', so a failed run leaves nothing behind.
 */
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TaskContext } from 'tributary';

export interface ScratchManifest {
  job: string;
  runId: string;
  ds: string;
  intervalStart: string;
  intervalEnd: string;
  createdAt: string;
}

/** Where scratch areas live; SPARKIFY_SCRATCH_DIR moves them (a bigger disk, or a test's folder). */
function scratchRoot(): string {
  return process.env.SPARKIFY_SCRATCH_DIR ?? path.join(tmpdir(), 'tributary-sparkify');
}

/** One folder per run: a retry of the same run finds the same folder. */
export function scratchDirOf(context: Pick<TaskContext, 'job' | 'runId'>): string {
  return path.join(scratchRoot(), `${context.job}-${context.runId}`.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

/** Creates the run's scratch area and writes its manifest; the result names the folder. */
export function prepareScratch(context: TaskContext): { scratchDir: string; ds: string } {
  const scratchDir = scratchDirOf(context);
  mkdirSync(scratchDir, { recursive: true });
  const manifest: ScratchManifest = {
    job: context.job,
    runId: context.runId,
    ds: context.interval.ds,
    intervalStart: context.interval.start.toISOString(),
    intervalEnd: context.interval.end.toISOString(),
    createdAt: new Date().toISOString(),
  };
  writeFileSync(path.join(scratchDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  context.log(`scratch area for ${context.interval.ds}: ${scratchDir}`);
  return { scratchDir, ds: context.interval.ds };
}

/** Removes the run's scratch area; a set-up that never ran leaves nothing to remove, which is fine. */
export function removeScratch(context: TaskContext): { scratchDir: string; removed: boolean } {
  const scratchDir = scratchDirOf(context);
  const removed = existsSync(scratchDir);
  rmSync(scratchDir, { recursive: true, force: true });
  context.log(removed ? `removed the scratch area ${scratchDir}` : `no scratch area to remove at ${scratchDir}`);
  return { scratchDir, removed };
}
