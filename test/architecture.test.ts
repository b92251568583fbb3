import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers.js';

/** The layering docs/architecture.md states, checked on the source itself. */
const SRC = path.join(REPO, 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
}

/** The layers a file imports (folders of src/ its relative imports land in). */
function importedLayers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const layers = new Set<string>();
  for (const match of text.matchAll(/from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
    const target = path.resolve(path.dirname(file), match[1] ?? match[2]!);
    const relative = path.relative(SRC, target);
    if (!relative.startsWith('..')) layers.add(relative.split(path.sep)[0]!.replace(/\.js$/, ''));
  }
  return [...layers];
}

function layerOf(file: string): string {
  const first = path.relative(SRC, file).split(path.sep)[0]!;
  // Files at the top of src/ (index.ts, testing.ts) are the package's public surface.
  return first.endsWith('.ts') ? 'index.ts' : first;
}

/**
 * The layers and what each may import, read from docs/architecture.md's table: rows
 * | `name/` | job | `a`, `b` | (or "nothing", or "any layer"). The docs are the rules.
 */
function documentedRules(): Map<string, string[] | 'any'> {
  const doc = readFileSync(path.join(REPO, 'docs', 'architecture.md'), 'utf8');
  const rules = new Map<string, string[] | 'any'>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.startsWith('`')) continue;
    const may = cells[3]!;
    const allowed = may === 'any layer' ? 'any' : [...may.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, ''));
    for (const name of [...cells[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, ''))) rules.set(name, allowed);
  }
  return rules;
}

const RULES = documentedRules();

describe('architecture', () => {
  it('no file outside src/catalog/ runs SQL against tributary.* (the metastore is the one surface)', () => {
    const statement = /\b(FROM|INTO|UPDATE|JOIN|TABLE|DELETE\s+FROM)\s+tributary\.[a-z_]+/i;
    const offenders = files(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'catalog') + path.sep))
      .filter((f) => statement.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(REPO, f));
    expect(offenders).toEqual([]);
  });

  it('docs/architecture.md states a rule for every folder of src/, and its rules have no cycle', () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(folders.filter((f) => !RULES.has(f))).toEqual([]);
    expect([...RULES.keys()].filter((r) => r !== 'index.ts' && r !== 'testing.ts' && !folders.includes(r))).toEqual([]);
    // Depth-first over "may import": a layer met again on its own path is a cycle.
    const cycles: string[] = [];
    const visit = (layer: string, trail: string[]) => {
      if (trail.includes(layer)) return void cycles.push([...trail, layer].join(' → '));
      const allowed = RULES.get(layer);
      if (allowed === 'any' || !allowed) return;
      for (const next of allowed) visit(next, [...trail, layer]);
    };
    for (const layer of RULES.keys()) visit(layer, []);
    expect(cycles).toEqual([]);
  });

  it('each file of src/ imports only the layers docs/architecture.md lets its layer import', () => {
    const breaches: string[] = [];
    for (const file of files(SRC)) {
      const layer = layerOf(file);
      const allowed = RULES.get(layer) ?? RULES.get(path.basename(file));
      if (allowed === 'any') continue;
      for (const imported of importedLayers(file)) {
        if (imported !== layer && !allowed?.includes(imported)) breaches.push(`${path.relative(REPO, file)} imports ${imported}`);
      }
    }
    expect(breaches).toEqual([]);
  });

  it('no code outside a materialisation’s own file branches on a materialisation kind, and a model’s SQL is rendered in one place', () => {
    const branches = /\bmateriali[sz]\w*\??\.kind\s*[!=]==|\bmaterialize\s*[!=]==|switch\s*\([\w.?]*materiali[sz]/;
    const offenders = files(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'materializations') + path.sep))
      .filter((f) => branches.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(REPO, f));
    expect(offenders).toEqual([]);
    const renders = files(SRC).filter((f) => /\.template\.replace\(/.test(readFileSync(f, 'utf8'))).map((f) => path.relative(REPO, f));
    expect(renders).toEqual(['src/models/plan.ts']);
  });

  it('nothing under src/ names an example dataset (examples own their data)', () => {
    const named = files(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'web') + path.sep))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, where: `${path.relative(REPO, f)}:${i + 1}` }))
          .filter(({ line }) => /clickstream|sparkify|segment_events|loyalty|retail/i.test(line) && !/^\s*(\/\/|\*|\/\*)/.test(line))
          .map(({ where }) => where),
      );
    expect(named).toEqual([]);
  });

  it("examples import Tributary as a project that installed it does: 'tributary', 'tributary/testing', never src/ or test/", () => {
    /**
     * The one file of the repository an example may import: the CLI as it ships (bin/, running
     * dist/), rebuilt when the sources are newer, for the retail example's test of the shipped CLI.
     * It is this repository's concern; an installed package is built, and its runCli runs it.
     */
    const allowed = new Set(['test/support/shipped-cli.ts']);
    const examples = path.join(REPO, 'examples');
    const code = readdirSync(examples, { recursive: true })
      .map(String)
      .filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f) && !/(^|[/\\])(node_modules|lake|\.tributary|data)([/\\]|$)/.test(f))
      .map((f) => path.join(examples, f));
    expect(code.length).toBeGreaterThan(20);
    const specifier = /(?:from\s+|import\s*\(\s*|import\s+|require\s*\(\s*)['"]([^'"]+)['"]/g;
    const offences: string[] = [];
    for (const file of code) {
      for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
        const target = match[1]!;
        const where = `${path.relative(REPO, file)} imports '${target}'`;
        if (target === 'tributary' || target === 'tributary/testing') continue;
        if (target.startsWith('tributary/')) offences.push(where);
        if (!target.startsWith('.')) continue;
        const inRepo = path.relative(REPO, path.resolve(path.dirname(file), target)).split(path.sep).join('/').replace(/\.js$/, '.ts');
        if (/^(src|test)\//.test(inRepo) && !allowed.has(inRepo)) offences.push(where);
      }
    }
    expect(offences).toEqual([]);
  });
});
