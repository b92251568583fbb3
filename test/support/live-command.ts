import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A long-running command (a demo, `tributary up`) as a user starts it: its output collected,
 * waited on for what it prints, then stopped with Ctrl+C as a user would.
 */
export interface LiveCommand {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects when the command exits first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

export function startCommand(command: string, args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): LiveCommand {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, FORCE_COLOR: '0', ...options.env }, detached: true });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
    for (const check of waiters) check();
  });
  return {
    child,
    output: () => output,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            waiters.delete(check);
            resolve(match);
          } else if (exited !== undefined) {
            waiters.delete(check);
            reject(new Error(`\`${command} ${args.join(' ')}\` exited (${exited}) before printing ${pattern}:\n${output}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (exited !== undefined) return exited;
      const done = once(child, 'exit');
      // The whole process group: npx runs the CLI as a child of its own.
      process.kill(-child.pid!, 'SIGINT');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 20_000);
      await done;
      clearTimeout(timer);
      return exited ?? null;
    },
  };
}

/** A JSON answer of a running server, with the admin token when one is set. */
export async function getJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export interface TileAnswer {
  id: string;
  rows: unknown[];
  error?: string;
}

/** Every dashboard of a running project computed once: each tile's rows, or its error. */
export async function dashboardTiles(url: string, token?: string): Promise<Map<string, TileAnswer[]>> {
  const project = await getJson<{ dashboards: { name: string }[] }>(`${url}/api/project`, token);
  const out = new Map<string, TileAnswer[]>();
  for (const { name } of project.dashboards) {
    out.set(name, (await getJson<{ tiles: TileAnswer[] }>(`${url}/api/dashboards/${encodeURIComponent(name)}/tiles`, token)).tiles);
  }
  return out;
}
