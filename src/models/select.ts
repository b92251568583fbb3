import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import type { ModelPlan, ProjectPlan } from './plan.js';

/**
 * dbt's node selection, over a project's models and sources. An argument is a union of
 * space-separated selectors; a selector is an intersection of comma-separated atoms; an atom is
 *
 *   name        a model (globs: stg_*)              tag:daily     models with the tag
 *   path:dir    models whose SQL file is under dir   source:x      the source x (with + its readers)
 *   x+  x+2     and what reads it (to a depth)       +x  2+x       and what it reads (to a depth)
 *   @x          x, what reads it, and everything those read
 *   *           every model
 *
 * `exclude` removes what its selectors pick. The answer is models, in dependency order.
 */
export function selectModels(plan: ProjectPlan, select: readonly string[] | undefined, exclude: readonly string[] = []): ModelPlan[] {
  const chosen = select?.length ? union(plan, select) : new Set(plan.order.map((m) => m.name));
  for (const name of union(plan, exclude)) chosen.delete(name);
  return plan.order.filter((m) => chosen.has(m.name));
}

function union(plan: ProjectPlan, args: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const selector of args.flatMap((a) => a.split(/\s+/)).filter(Boolean)) {
    const parts = selector.split(',').map((atom) => pick(plan, atom, selector));
    for (const name of parts.reduce((a, b) => new Set([...a].filter((n) => b.has(n))))) out.add(name);
  }
  return out;
}

const ATOM = /^(@)?(?:(\d*)\+)?([^+@]+?)(?:\+(\d*))?$/;

/** The nodes (model names, `source:<name>`) one atom picks; only models are kept by the caller. */
function pick(plan: ProjectPlan, atom: string, selector: string): Set<string> {
  const match = ATOM.exec(atom);
  if (!match) throw selectorError(atom, selector, 'it is not of the form [@][N+]method:value[+N]');
  const [, at, upDepth, body, downDepth] = match;
  const seeds = seedsOf(plan, body!, atom, selector);
  const out = new Set(seeds);
  if (at) {
    const down = descendants(plan, seeds, Infinity);
    for (const n of down) out.add(n);
    for (const n of ancestors(plan, down, Infinity)) out.add(n);
  }
  if (upDepth !== undefined) for (const n of ancestors(plan, seeds, upDepth ? Number(upDepth) : Infinity)) out.add(n);
  if (downDepth !== undefined) for (const n of descendants(plan, seeds, downDepth ? Number(downDepth) : Infinity)) out.add(n);
  return new Set([...out].filter((n) => plan.models.has(n)));
}

function seedsOf(plan: ProjectPlan, body: string, atom: string, selector: string): string[] {
  const colon = body.indexOf(':');
  const method = colon > 0 ? body.slice(0, colon) : undefined;
  const value = colon > 0 ? body.slice(colon + 1) : body;
  const matches = glob(value);
  const models = plan.order;
  switch (method) {
    case undefined:
    case 'fqn': {
      const found = models.filter((m) => matches(m.name)).map((m) => m.name);
      if (!found.length && !/[*?[]/.test(value)) {
        throw new TributaryError(`no model named '${value}'`, {
          hint: `models in this project: ${models.map((m) => m.name).join(', ') || '(none)'}; selectors: name, name+, +name, @name, tag:x, path:dir, source:x, globs (see \`tributary ls --select\`)`,
        });
      }
      return found;
    }
    case 'tag':
      return models.filter((m) => m.config.tags.some(matches)).map((m) => m.name);
    case 'path': {
      const wanted = path.normalize(value).replace(/\/$/, '');
      return models.filter((m) => m.file && (matches(m.file) || m.file === wanted || m.file.startsWith(`${wanted}${path.sep}`))).map((m) => m.name);
    }
    case 'source': {
      const sources = new Set(models.flatMap((m) => m.sources));
      const found = [...sources].filter(matches);
      if (!found.length && !/[*?[]/.test(value)) {
        throw selectorError(atom, selector, `no model reads a source named '${value}' (sources read: ${[...sources].join(', ') || 'none'})`);
      }
      return found.map((s) => `source:${s}`);
    }
    default:
      throw selectorError(atom, selector, `'${method}:' is not a selector method (methods: tag:, path:, source:, or a model name)`);
  }
}

function descendants(plan: ProjectPlan, seeds: Iterable<string>, depth: number): Set<string> {
  const out = new Set<string>();
  let frontier = [...seeds];
  for (let d = 0; d < depth && frontier.length; d++) {
    frontier = frontier.flatMap((n) => plan.children(n).map((c) => c.name)).filter((n) => !out.has(n));
    frontier.forEach((n) => out.add(n));
  }
  return out;
}

function ancestors(plan: ProjectPlan, seeds: Iterable<string>, depth: number): Set<string> {
  const out = new Set<string>();
  let frontier = [...seeds];
  for (let d = 0; d < depth && frontier.length; d++) {
    frontier = frontier.flatMap((n) => {
      const model = plan.models.get(n);
      return model ? plan.parents(model) : [];
    });
    frontier = frontier.filter((n) => !out.has(n));
    frontier.forEach((n) => out.add(n));
  }
  return out;
}

/** A glob of `*`, `?` and `[…]` as a test. */
function glob(pattern: string): (value: string) => boolean {
  if (!/[*?[]/.test(pattern)) return (value) => value === pattern;
  const source = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const regex = new RegExp(`^${source}$`);
  return (value) => regex.test(value);
}

function selectorError(atom: string, selector: string, why: string): TributaryError {
  return new TributaryError(`selector '${selector}': ${atom === selector ? '' : `'${atom}': `}${why}`, {
    hint: 'selectors: name, name+, +name, 2+name, name+1, @name, tag:x, path:models/dir, source:x, globs, unions (space) and intersections (comma)',
  });
}
