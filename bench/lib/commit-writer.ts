/**
 * One writer process of the `scale` suite's commit-rate probe (bench/suites/scale.ts): it opens the
 * project on its shared catalog (TRIBUTARY_CATALOG, TRIBUTARY_LAKE from the environment), says
 * `ready`, waits for `go` on stdin, then makes back-to-back the smallest commit a stream sink
 * makes: a snapshot and one partition's offset moved compare-and-set, under the catalog's lock, no
 * rows. It prints one JSON line (`CommitReport`) as soon as its commits are done, before closing:
 * the suite reads that line and does not depend on the process exiting by itself.
 *
 *   node --import tsx bench/lib/commit-writer.ts '<json CommitSpec>'
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';

export interface CommitSpec {
  writer: number;
  commits: number;
  project: string;
  dataDir: string;
}

export interface CommitReport {
  writer: number;
  /** Milliseconds of each commit that committed. */
  ms: number[];
  /** The errors of those that did not, on one line each. */
  errors: string[];
  /** performance.timeOrigin + now at the first commit's start and the last one's end (ms since the epoch). */
  startedAt: number;
  endedAt: number;
}

async function main(spec: CommitSpec): Promise<void> {
  const ws = await openWorkspace(await loadProject(spec.project, { dataDir: spec.dataDir }));
  console.log('ready');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'go') break;
  lines.close();
  const report: CommitReport = { writer: spec.writer, ms: [], errors: [], startedAt: performance.timeOrigin + performance.now(), endedAt: 0 };
  for (let k = 0; k < spec.commits; k++) {
    const started = performance.now();
    try {
      await ws.metastore.commit(ws.engine, { operation: 'bench offsets' }, (tx) =>
        tx.writeOffsets('bench', `offsets#${spec.writer}`, { from: k ? new Map([[0, k]]) : new Map(), to: new Map([[0, k + 1]]) }),
      );
      report.ms.push(performance.now() - started);
    } catch (error) {
      report.errors.push(String((error as Error).message ?? error).split('\n')[0]!.slice(0, 300));
    }
  }
  report.endedAt = performance.timeOrigin + performance.now();
  console.log(JSON.stringify(report));
  await ws.close();
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(JSON.parse(process.argv[2]!) as CommitSpec);
