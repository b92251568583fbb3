import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers.js';
import { dashboardTiles, startCommand } from './support/live-command.js';
import { run } from './support/shipped-cli.js';
import { databaseUp, freshDatabase, type Database } from './support/databases.js';

/**
 * A stranger's clone: the repository's files (what git tracks, and nothing else) in a folder with
 * nothing beside it, `npm ci` there, then each example's one command exactly as the README's
 * table of examples writes it. Nothing may reach outside the clone.
 */

interface ExampleCommand {
  example: string;
  env: Record<string, string>;
  args: string[];
}

/** The README's table of examples: each row's one command, split into environment and arguments. */
function readmeCommands(): ExampleCommand[] {
  const rows = readFileSync(path.join(REPO, 'README.md'), 'utf8').matchAll(/^\| \[`([a-z-]+)`\]\(examples\/[a-z-]+\) \| `([^`]+)`/gm);
  return [...rows].map(([, example, command]) => {
    const words = command!.split(/\s+/);
    const env: Record<string, string> = {};
    while (/^[A-Z_]+=/.test(words[0]!)) {
      const [name, ...value] = words.shift()!.split('=');
      env[name!] = value.join('=');
    }
    return { example: example!, env, args: words };
  });
}

const commands = readmeCommands();
let clone: string;

beforeAll(() => {
  const parent = tempDir('tributary-clone-');
  expect(path.relative(REPO, parent).startsWith('..')).toBe(true);
  clone = path.join(parent, 'tributary');
  mkdirSync(clone);
  // Tracked files, plus new ones not yet committed (so the test checks the change under test); never ignored ones.
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of tracked) {
    mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    cpSync(path.join(REPO, file), path.join(clone, file), { dereference: false });
  }
  const install = run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], clone);
  expect(install.code, install.stderr).toBe(0);
}, 900_000);

describe('a clone with nothing beside it', () => {
  it('lists every example in the README with its one command', () => {
    expect(commands.map((c) => c.example).sort()).toEqual(['customer-loyalty', 'ecommerce-clickstream', 'retail-sales', 'segment-warehouse', 'sparkify']);
    // Nothing beside the clone: its folder's parent holds the clone alone, wherever the repository sits.
    expect(readdirSync(path.dirname(clone))).toEqual(['tributary']);
  });

  it.each(commands)('$example: the README’s one command serves its dashboards with data, reading nothing outside the clone', async ({ example, env, args }) => {
    const environment: Record<string, string> = { TRIBUTARY_TOKEN: '' };
    const databases: Database[] = [];
    for (const [name, value] of Object.entries(env)) {
      // A placeholder the README leaves to the reader (a database URL) is filled with a real, fresh one.
      if (value.includes('…')) {
        if (!(await databaseUp('postgres'))) return;
        databases.push(await freshDatabase('postgres', 'clone'));
        environment[name] = databases.at(-1)!.url;
      } else environment[name] = value;
    }
    expect(args.slice(0, 2)).toEqual(['npx', 'tributary']);
    const demo = startCommand('npx', ['--no-install', ...args.slice(1), '--port', '0'], { cwd: clone, env: environment });
    try {
      await demo.waitFor(/Ctrl\+C stops everything/);
      const url = /demo is live: (http:\/\/\S+)/.exec(demo.output())![1]!;
      const token = /TRIBUTARY_TOKEN=(\S+)/.exec(demo.output())?.[1];
      // Live tiles fill once the demo's live data has been committed (the first events or files come at once).
      const problems = async () => {
        const dashboards = await dashboardTiles(url, token);
        if (!dashboards.size) return ['no dashboards'];
        return [...dashboards].flatMap(([name, tiles]) => [
          ...tiles.filter((t) => t.error).map((t) => `${name}.${t.id}: ${t.error}`),
          ...(tiles.some((t) => t.rows.length > 0) ? [] : [`${name} shows no data`]),
        ]);
      };
      await expect.poll(problems, { timeout: 90_000, interval: 1000 }).toEqual([]);
      expect(demo.output()).not.toMatch(/shared\/data|no files? match/i);
    } finally {
      await demo.stop();
      for (const database of databases) await database.drop();
    }
  });
});
