import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { INIT_TEMPLATE, scaffoldProject } from '../src/cli/init.js';
import { loadProject } from '../src/config/project.js';
import { loadDashboards } from '../src/server/dashboards.js';
import { REPO, tempDir } from './helpers.js';
import { databaseUp } from './support/databases.js';
import { READMES, blocksOf, commandOf, readmeSession, snippetSource, type Session } from './support/readme.js';

/**
 * Issue 18: every snippet and every command of the README and the examples' READMEs is checked.
 * A snippet is a file of the repository (or a region of one) that the README shows verbatim, and
 * that file is loaded here or by the example's tests; a command runs, as written, in a copy of the
 * repository (test/support/readme.ts says how, and which few commands run elsewhere and why).
 */

const blocks = READMES.flatMap(blocksOf);
const CODE = new Set(['ts', 'typescript', 'js', 'javascript', 'json']);
/** A line a reader would type: it belongs in a shell block, where it is run. */
const COMMAND_LINE = /^\s*((\w+=\S+ )*(npx|tributary|curl|npm|createdb|psql|export|cd) )/m;

describe('the READMEs’ snippets are files of the repository', () => {
  it.each(blocks.filter((b) => CODE.has(b.lang)).map((b) => ({ ...b, name: `${b.readme}:${b.line}` })))('$name shows its file verbatim', (block) => {
    expect(block.file, `${block.readme}:${block.line}: a code block needs <!-- file: PATH[#REGION] --> on the line before it, naming the file it shows`).toBeDefined();
    const source = snippetSource(block.readme, block.file!);
    expect(block.text, `${block.readme}:${block.line} differs from ${path.relative(REPO, source.file)}${block.file!.includes('#') ? ` (${block.file})` : ''}`).toBe(source.text);
  });

  it('commands are only in shell blocks (`sh`), where they are run', () => {
    const hidden = blocks.filter((b) => b.lang !== 'sh' && !CODE.has(b.lang) && COMMAND_LINE.test(b.text)).map((b) => `${b.readme}:${b.line}`);
    expect(hidden).toEqual([]);
  });

  it('the files the READMEs show load: the project `tributary init` writes (its config and dashboard) and the examples’ configs', async () => {
    const shown = new Set(blocks.filter((b) => b.file).map((b) => path.relative(REPO, snippetSource(b.readme, b.file!).file)));
    expect([...shown].filter((f) => f.startsWith('templates/init/')).sort()).toEqual(['templates/init/dashboards/sales.ts', 'templates/init/tributary.config.ts']);
    const dir = tempDir('tributary-init-');
    scaffoldProject(dir);
    const project = await loadProject(dir);
    expect(readFileSync(project.configFile, 'utf8')).toBe(readFileSync(path.join(INIT_TEMPLATE, 'tributary.config.ts'), 'utf8'));
    expect([...(await loadDashboards(project)).keys()]).toEqual(['sales']);
    for (const config of [...shown].filter((f) => f.startsWith('examples/') && f.endsWith('tributary.config.ts'))) {
      await expect(loadProject(path.join(REPO, path.dirname(config))), config).resolves.toBeDefined();
    }
  });

  it('every command of `tributary --help` is in the README', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const commands = buildProgram()
      .commands.map((c) => c.name())
      .filter((name) => name !== 'help');
    expect(commands.filter((name) => !new RegExp(`tributary ${name}\\b`).test(readme))).toEqual([]);
  });
});

describe('the READMEs’ commands run as written', () => {
  let session: Session;
  beforeAll(async () => {
    session = await readmeSession();
  }, 900_000);
  afterAll(() => session?.close());

  it.each(READMES)(
    '%s',
    async (readme) => {
      // A README that needs PostgreSQL runs where PostgreSQL is (and fails under CI without it).
      if (/createdb|postgres:\/\//.test(blocksOf(readme).filter((b) => b.lang === 'sh').map((b) => b.text).join('\n')) && !(await databaseUp('postgres'))) return;
      const { ran, skipped } = await session.run(readme);
      const lines = blocksOf(readme)
        .filter((b) => b.lang === 'sh')
        .flatMap((b) => b.text.split('\n').map(commandOf))
        .filter(Boolean);
      expect(ran.length + skipped.length).toBe(lines.length);
      expect(ran.length, `${readme} has no command that runs`).toBeGreaterThan(0);
    },
    1_800_000,
  );
});
