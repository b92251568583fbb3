import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject, type LoadOptions } from '../src/config/project.js';
import { withSources } from '../src/commands/project.js';
import { dayInterval } from '../src/core/interval.js';
import { runModels } from '../src/models/index.js';
import { openWorkspace, type Workspace } from '../src/state/workspace.js';

export const REPO = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
/** What users run: `bin/tributary.js` over the build in dist/ (test/global-setup.ts builds it when the sources are newer). */
export const CLI = path.join(REPO, 'bin', 'tributary.js');
export const CLICKSTREAM = path.join(REPO, 'examples', 'ecommerce-clickstream');
/** The examples' real data, as the repository ships it. */
export const ECOMMERCE_SAMPLE = path.join(CLICKSTREAM, 'data', '2019-Nov-sample.csv');
export const LOYALTY_CUSTOMERS = path.join(REPO, 'examples', 'customer-loyalty', 'data', 'customer.csv');
export const SPARKIFY_DATA = path.join(REPO, 'examples', 'sparkify', 'data');

export function tempDir(prefix = 'tributary-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Writes files (path → text or bytes) under a fresh folder and returns it. */
export function writeTree(files: Record<string, string | Buffer>): string {
  const dir = tempDir();
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  return dir;
}

export async function openProject(dir: string, options: LoadOptions = {}): Promise<Workspace> {
  return openWorkspace(await loadProject(dir, options));
}

/** Opens, runs all models quietly (for a day, with sources elsewhere, when asked), and leaves the workspace open for assertions. */
export async function runProject(dir: string, options: LoadOptions & { date?: string; sources?: Record<string, string>; log?: (m: string) => void } = {}) {
  const ws = await openProject(dir, options);
  const view = ws.withProject(withSources(ws.project, options.sources));
  const results = await runModels(view, { interval: options.date ? dayInterval(options.date) : undefined, quiet: true, log: options.log ?? (() => undefined) });
  return { ws, results };
}

/** Runs the shipped CLI in a child process, the way a user's shell would. */
export function cli(args: string[], cwd = REPO, env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', ...env },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI without blocking this process: for talking to a server that runs inside the test. */
export function cliAsync(args: string[], cwd = REPO): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A minimal CSV splitter for the sample (quoted fields hold no commas or newlines there). */
export function readSampleRows(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trim().split('\n');
  const names = header!.split(',');
  return lines.map((line) => {
    const values = line.split(',').map((v) => v.replace(/^"(.*)"$/, '$1'));
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
  });
}

/**
 * When a stream job of `dataDir` last staged a batch: the newest change of its scratch files (one
 * per running job, `batch-<host>-<pid>-<id>.txt`), 0 before the first.
 */
export function lastStaged(dataDir: string, job: string): number {
  const dir = path.join(dataDir, 'state', 'stream', job);
  if (!existsSync(dir)) return 0;
  const stamps = readdirSync(dir)
    .filter((f) => /^batch-.*\.txt$/.test(f))
    .map((f) => {
      try {
        return statSync(path.join(dir, f)).mtimeMs;
      } catch {
        return 0; // removed by a job that stopped meanwhile
      }
    });
  return Math.max(0, ...stamps);
}
