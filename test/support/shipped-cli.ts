import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CLI, REPO } from '../helpers.js';
import { startCommand } from './live-command.js';

const BUILT_ENTRY = path.join(REPO, 'dist', 'cli', 'main.js');

/** The newest modification time of any file under a folder. */
function newest(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? newest(full) : statSync(full).mtimeMs;
    }),
  );
}

/** A command run to its end, without colour and without the caller's server token. */
export function run(command: string, args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', TRIBUTARY_TOKEN: '' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The shipped CLI run in `cwd`. */
export const shipped = (args: string[], cwd: string) => run(process.execPath, [CLI, ...args], cwd);

/**
 * Builds dist/ when the sources are newer than it, as `npm install` would have; throws with the
 * build's output when it fails.
 */
export function ensureBuilt(): void {
  const built = statSync(BUILT_ENTRY, { throwIfNoEntry: false });
  if (built && built.mtimeMs >= newest(path.join(REPO, 'src'))) return;
  const build = run('npm', ['run', 'build'], REPO);
  if (build.code !== 0) throw new Error(`npm run build failed:\n${build.stderr}${build.stdout}`);
}

/** The shipped CLI as a long-running command (a demo, `up`) in `cwd`: waited on for what it prints, stopped with Ctrl+C. */
export const startShipped = (args: string[], cwd: string, env?: Record<string, string | undefined>) => startCommand(process.execPath, [CLI, ...args], { cwd, env });
