import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect } from 'vitest';
import { EXTENSIONS_ENV } from '../../src/engine/index.js';
import { REPO, tempDir } from '../helpers.js';
import { PG_ADMIN } from './databases.js';
import { startCommand, type LiveCommand } from './live-command.js';
import { ensureBuilt } from './shipped-cli.js';

/**
 * The READMEs as a test reads them: every fenced block, every snippet a file of the repository,
 * every shell command run as a reader would run it. A README that lies fails here.
 */

/** The READMEs whose snippets and commands are checked, relative to the repository. */
export const READMES = ['README.md', ...['customer-loyalty', 'ecommerce-clickstream', 'retail-sales', 'segment-warehouse', 'sparkify'].map((e) => `examples/${e}/README.md`)];

export interface Block {
  readme: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  /** `<!-- file: PATH[#REGION] -->` on the line before the fence: the file the block shows. */
  file?: string;
}

export function blocksOf(readme: string): Block[] {
  const lines = readFileSync(path.join(REPO, readme), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l === '```');
    if (end < 0) throw new Error(`${readme}:${i + 1}: a fence that never closes`);
    const marker = /^<!-- file: (\S+) -->$/.exec(lines[i - 1] ?? '');
    blocks.push({ readme, line: i + 1, lang: open[1]!, text: lines.slice(i + 1, end).join('\n'), file: marker?.[1] });
    i = end;
  }
  return blocks;
}

/**
 * What a marker names: a whole file, or the lines between `// #region NAME` and `// #endregion
 * NAME`, without their common indentation. Paths are relative to the README's folder.
 */
export function snippetSource(readme: string, marker: string): { file: string; text: string } {
  const [relative, region] = marker.split('#') as [string, string | undefined];
  const file = path.join(REPO, path.dirname(readme), relative);
  const text = readFileSync(file, 'utf8');
  if (!region) return { file, text: text.replace(/\n$/, '') };
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${region}`);
  const end = lines.findIndex((l) => l.trim() === `// #endregion ${region}`);
  if (start < 0 || end < start) throw new Error(`${file} has no region '${region}' (// #region ${region} … // #endregion ${region})`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return { file, text: body.map((l) => l.slice(indent)).join('\n') };
}

/** A line of a shell block, without its trailing comment; empty for a comment or a blank line. */
export function commandOf(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trim();
  }
  return line.trim();
}

/** Commands a test does not run, each with where it is run instead or why it cannot be. */
const NOT_RUN: { pattern: RegExp; why: string }[] = [
  {
    pattern: /^npm (install|ci|test)\b/,
    why: 'installing and testing the repository: clone.test.ts runs `npm ci` and each example’s demo in a clean clone, release.test.ts installs the packed tarball, `npm test` is this suite',
  },
  { pattern: /^npx vitest\b/, why: 'an example’s tests: part of this suite' },
  { pattern: /(^|[\s='])\/data\/|--rows 67501979\b|--preset benchmark\b|\b2019-Nov\.csv\b/, why: 'the full-size data: minutes and gigabytes; `npm run bench` runs it' },
];

export function notRun(command: string): string | undefined {
  return NOT_RUN.find((n) => n.pattern.test(command))?.why;
}

/** The one command of each example in the README's table: clone.test.ts runs them in a clean clone. */
function tableDemoCommands(): Set<string> {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  return new Set([...readme.matchAll(/^\| \[`[a-z-]+`\]\(examples\/[a-z-]+\) \| `([^`]+)`/gm)].map((m) => m[1]!.replace(/^[A-Z_]+=\S+ /, '')));
}

export interface Session {
  /** Runs a README's shell blocks in order; resolves with what ran and what did not. */
  run(readme: string): Promise<{ ran: string[]; skipped: string[] }>;
  close(): Promise<void>;
}

/**
 * A copy of the repository as a clone has it (tracked files, their times kept, with this
 * repository's node_modules and build), in which each block of a README runs from the copy's root,
 * line by line, through bash:
 * - `npx tributary …` and `tributary …` are the copy's CLI (bin/tributary.js);
 * - `tributary up` and `demo` run until the block ends (Ctrl+C), on a free port that replaces
 *   127.0.0.1:7070 in the block's later lines; while one runs, a command that fails is tried again
 *   until it succeeds (the server's work is asynchronous), within the poll deadline;
 * - `curl` fails on an HTTP error status (--fail-with-body);
 * - `createdb NAME` makes a database of a name of its own, used wherever the README writes NAME
 *   after it (PostgreSQL on 127.0.0.1), dropped at the end;
 * - paths under /tmp/ are under the test's own temporary folder; a value the README leaves to the
 *   reader (`...` or `…`) is filled with a real local one (a webhook receiver);
 * - `export` lasts for the rest of the README, as in a terminal.
 */
export async function readmeSession(): Promise<Session> {
  ensureBuilt();
  const parent = tempDir('tributary-readme-');
  const copy = path.join(parent, 'tributary');
  mkdirSync(copy);
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of tracked) {
    if (!statSync(path.join(REPO, file), { throwIfNoEntry: false })) continue;
    mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    // The files' times as a clone of old commits would have them: a sensor sees them settled.
    cpSync(path.join(REPO, file), path.join(copy, file), { preserveTimestamps: true });
  }
  symlinkSync(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'));
  // A copy of the build, not a link: the CLI finds its examples and templates beside its dist/.
  cpSync(path.join(REPO, 'dist'), path.join(copy, 'dist'), { recursive: true });
  const scratch = path.join(parent, 'tmp');
  mkdirSync(scratch);
  const webhooks: string[] = [];
  const receiver = http.createServer((request, response) => {
    let body = '';
    request.on('data', (c: Buffer) => (body += c.toString()));
    request.on('end', () => {
      webhooks.push(body);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const databases: string[] = [];
  const cli = path.join(copy, 'bin', 'tributary.js');
  const prelude = [
    `tributary() { node ${JSON.stringify(cli)} "$@"; }`,
    `npx() { if [ "$1" = tributary ]; then shift; tributary "$@"; else command npx "$@"; fi; }`,
    `curl() { command curl --fail-with-body -sS "$@"; }`,
  ].join('\n');
  const pgUrl = new URL(PG_ADMIN);
  const demos = tableDemoCommands();

  async function run(readme: string): Promise<{ ran: string[]; skipped: string[] }> {
    const env: Record<string, string> = {
      FORCE_COLOR: '0',
      TRIBUTARY_TOKEN: '',
      TRIBUTARY_HOME: path.join(scratch, 'home'),
      PGHOST: pgUrl.hostname,
      PGPORT: pgUrl.port || '5432',
      PGUSER: decodeURIComponent(pgUrl.username),
      // DuckDB's extensions as .ci/run installed them from PyPI: the machine has no route to DuckDB's repository.
      [EXTENSIONS_ENV]: process.env[EXTENSIONS_ENV] ?? path.join(REPO, '.duckdb-extensions'),
    };
    const renames = new Map<string, string>();
    const ran: string[] = [];
    const skipped: string[] = [];
    for (const block of blocksOf(readme).filter((b) => b.lang === 'sh')) {
      let cwd = copy;
      let live: LiveCommand | undefined;
      let serverUrl: string | undefined;
      try {
        for (const raw of block.text.split('\n')) {
          let command = commandOf(raw);
          if (!command) continue;
          const where = `${readme}:${block.line} \`${command}\``;
          const why = notRun(command) ?? (demos.has(command) ? 'the README’s one command of an example: clone.test.ts runs it in a clean clone' : undefined);
          if (why) {
            skipped.push(`${command}  (${why})`);
            continue;
          }
          for (const [from, to] of renames) command = command.replace(new RegExp(`\\b${from}\\b`, 'g'), to);
          command = command.replaceAll('/tmp/', `${scratch}/`).replace(/=(\S*(\.\.\.|…)\S*)/g, `=${webhook}`);
          if (serverUrl) command = command.replaceAll('http://127.0.0.1:7070', serverUrl);
          const database = /^createdb (\w+)/.exec(command)?.[1];
          if (database) {
            const own = `${database}_${randomBytes(4).toString('hex')}`;
            renames.set(database, own);
            databases.push(own);
            command = command.replace(database, own);
          }
          const cd = /^cd (\S+)$/.exec(command);
          if (cd) {
            cwd = path.resolve(cwd, cd[1]!);
            expect(statSync(cwd, { throwIfNoEntry: false })?.isDirectory(), `${where}: no such folder`).toBe(true);
            ran.push(command);
            continue;
          }
          const exported = /^export (\w+)=(.*)$/.exec(command);
          if (exported) {
            env[exported[1]!] = exported[2]!.replace(/^'(.*)'$/, '$1');
            ran.push(command);
            continue;
          }
          if (/^(npx )?tributary (up|demo)\b/.test(command.replace(/^(\w+=\S+ )+/, ''))) {
            expect(live, `${where}: one server at a time in a block`).toBeUndefined();
            const port = /--port\b/.test(command) ? '' : ' --port 0';
            live = startCommand('bash', ['-c', `${prelude}\n${command}${port}`], { cwd, env });
            const [, url] = await within(live.waitFor(/(?:is up at |demo is live: )(http:\/\/\S+)/), 180_000, `${where} did not say where it serves`);
            serverUrl = url!.replace(/\/$/, '');
            ran.push(command);
            continue;
          }
          const once = () => runLine(`${prelude}\n${command}`, cwd, env);
          if (live) await expect.poll(async () => (await once()).code, { timeout: 60_000, interval: 1000, message: where }).toBe(0);
          else {
            const result = await once();
            expect(result.code, `${where} exited ${result.code}:\n${result.output}`).toBe(0);
          }
          ran.push(command);
        }
      } finally {
        const code = await live?.stop();
        if (live) expect(code, `${readme}:${block.line}: the server exited ${code} on Ctrl+C:\n${live.output().slice(-2000)}`).toBe(0);
      }
    }
    return { ran, skipped };
  }

  return {
    run,
    async close() {
      receiver.close();
      if (!databases.length) return;
      const admin = new pg.Client({ connectionString: PG_ADMIN });
      await admin.connect();
      for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A promise, or a failure naming what did not happen when it takes longer than `ms` (a deadline against hangs). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A line run to its end by bash, with its output (stdout and stderr together) for the message. */
function runLine(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
