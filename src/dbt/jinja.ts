import path from 'node:path';
import nunjucks from 'nunjucks';
import { TributaryError } from '../core/errors.js';
import type { DbtMacroFile } from './project.js';

/**
 * dbt's Jinja, rendered by nunjucks (a real template engine: whitespace control, `loop`, filters,
 * macros, keyword arguments). dbt spells a few things nunjucks does not know; they are rewritten
 * to nunjucks' spelling before compiling, and nothing else is touched:
 *
 *   {% test name(model, column_name) %} … {% endtest %}   →  a macro named test_name
 *
 * Anything the engine cannot render is Tributary's error naming the file and line: nothing
 * half-rendered ever reaches DuckDB.
 */

/** What a template may call: dbt's context for one node (ref, source, config, var, this…), and macros. */
export type JinjaContext = Record<string, unknown>;

function dbtToNunjucks(text: string): string {
  return text
    .replace(/\{%(-?)\s*test\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/g, '{%$1 macro test_$2(')
    .replace(/\{%(-?)\s*endtest\s*(-?)%\}/g, '{%$1 endmacro $2%}')
    .replace(/\{%(-?)\s*endmaterialization\s*(-?)%\}/g, '{%$1 endmacro $2%}');
}

/** Keyword arguments as nunjucks passes them to a JavaScript function: a last object marked `__keywords`. */
export function splitArgs(args: unknown[]): { positional: unknown[]; keywords: Record<string, unknown> } {
  const last = args.at(-1);
  if (last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _, ...keywords } = last as Record<string, unknown>;
    return { positional: args.slice(0, -1), keywords };
  }
  return { positional: args, keywords: {} };
}

interface NunjucksError extends Error {
  lineno?: number;
  colno?: number;
}

/**
 * The line a nunjucks error points at, from its fields or its message ("[Line 3, Column 5]").
 * nunjucks counts lines from 1 in syntax errors and from 0 in errors raised while rendering.
 */
function lineOf(error: NunjucksError, phase: 'compile' | 'render'): number | undefined {
  const match = /\[Line (\d+), Column (\d+)\]/.exec(error.message);
  const line = error.lineno ?? (match ? Number(match[1]) : undefined);
  return line === undefined ? undefined : phase === 'render' ? line + 1 : line;
}

/** nunjucks' message without its own file/line preamble, which the error's place already says. */
function cleanMessage(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^\(.*\)( \[Line \d+, Column \d+\])?$/.test(l) && !/^\[Line \d+, Column \d+\]$/.test(l) && !/^Template render error/.test(l))
    .join(' ')
    .replace(/^\(.*?\)\s*(\[Line \d+, Column \d+\])?\s*/, '');
}

export function jinjaError(error: unknown, file: string, dir: string, macroNames: readonly string[], phase: 'compile' | 'render', raised?: TributaryError): TributaryError {
  if (error instanceof TributaryError) return error;
  const e = error as NunjucksError;
  const line = lineOf(e, phase);
  // dbt's context (ref, var, source…) raises Tributary's own errors; nunjucks wraps them with the line.
  const cause = raised;
  if (cause) return new TributaryError(cause.message, { place: { ...cause.place, file: path.join(dir, file), line: line ?? cause.place.line }, hint: cause.hint });
  const message = cleanMessage(e.message ?? String(error));
  const uncalled = /Unable to call `([^`]+)`, which is undefined or falsey/.exec(message)?.[1];
  if (uncalled) {
    const name = uncalled.replace(/^the return value of \(/, '').replace(/\)$/, '');
    return new TributaryError(`the macro '${name}' does not exist`, {
      place: { file: path.join(dir, file), line },
      hint: `define it in macros/ (or ship the package that has it under dbt_packages/), or correct the name; macros found: ${macroNames.slice(0, 20).join(', ') || '(none)'}${macroNames.length > 20 ? ', …' : ''}`,
    });
  }
  return new TributaryError(`the Jinja of ${file} could not be rendered: ${message}`, {
    place: { file: path.join(dir, file), line },
    hint: 'fix the template; Tributary renders Jinja with nunjucks, which knows Jinja’s statements, filters and macros but not Python methods (see README, Coming from dbt)',
  });
}

/**
 * Jinja left in rendered SQL (a tag nunjucks did not know, an expression printed as text) is
 * refused with its line, rather than sent to the engine.
 */
export function refuseLeftovers(rendered: string, file: string, dir: string): void {
  const match = /\{\{|\{%|\{#|%\}|#\}/.exec(rendered);
  if (!match) return;
  const line = rendered.slice(0, match.index).split('\n').length;
  const excerpt = rendered.split('\n')[line - 1]!.trim().slice(0, 80);
  throw new TributaryError(`${file} still holds Jinja after rendering, at line ${line} of the rendered SQL: ${excerpt}`, {
    place: { file: path.join(dir, file) },
    hint: 'a tag or expression was printed as text instead of being rendered; see `tributary compile` for the rendered SQL, and write it as Jinja nunjucks renders',
  });
}

/** A template environment holding the project's macros, with dbt's context as globals. */
export class JinjaEnvironment {
  readonly env: nunjucks.Environment;
  readonly macroNames: string[] = [];
  /** The last error dbt's context raised, which nunjucks hands back rewrapped as text. */
  raised: TributaryError | undefined;

  constructor(
    private readonly dir: string,
    globals: JinjaContext,
  ) {
    this.env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });
    // Jinja's Python spellings of its constants, which nunjucks' lexer knows only in lower case.
    for (const [name, value] of Object.entries({ True: true, False: false, None: null, none: null })) this.env.addGlobal(name, value);
    for (const [name, value] of Object.entries(globals)) this.env.addGlobal(name, value);
  }

  /**
   * Loads macro files: the root project's macros and generic tests become globals; each package's
   * are reachable as `package.macro` and, when no root macro has the name, as `macro`.
   */
  loadMacros(files: readonly DbtMacroFile[], rootPackage: string): void {
    const namespaces = new Map<string, Record<string, unknown>>();
    const root: [string, unknown][] = [];
    const others: [string, unknown][] = [];
    for (const file of files) {
      let exported: Record<string, unknown> = {};
      // getExported runs the file's top level and hands back its macros (missing from nunjucks' types).
      const template = this.compile(file.text, file.file) as unknown as {
        getExported(context: object, frame: null, callback: (error: Error | null, result: unknown) => void): void;
      };
      try {
        template.getExported({}, null, (error: Error | null, result: unknown) => {
          if (error) throw error;
          exported = result as Record<string, unknown>;
        });
      } catch (error) {
        throw jinjaError(error, file.file, this.dir, this.macroNames, 'render');
      }
      const namespace = namespaces.get(file.package) ?? {};
      namespaces.set(file.package, namespace);
      for (const [name, macro] of Object.entries(exported)) {
        if (typeof macro !== 'function') continue;
        namespace[name] = macro;
        (file.package === rootPackage ? root : others).push([name, macro]);
        this.macroNames.push(file.package === rootPackage ? name : `${file.package}.${name}`);
      }
    }
    for (const [name, macro] of others) if (!root.some(([n]) => n === name)) this.env.addGlobal(name, macro);
    for (const [name, macro] of root) this.env.addGlobal(name, macro);
    for (const [pkg, namespace] of namespaces) this.env.addGlobal(pkg, namespace);
  }

  /** Renders one file's text with extra context; errors name the file and line. */
  render(text: string, file: string, context: JinjaContext = {}): string {
    const template = this.compile(text, file);
    this.raised = undefined;
    try {
      return template.render(context);
    } catch (error) {
      throw jinjaError(error, file, this.dir, this.macroNames, 'render', this.raised);
    }
  }

  /** Compiles a template at once (eagerly), so a syntax error is told apart from a rendering one. */
  private compile(text: string, file: string): nunjucks.Template {
    try {
      return new nunjucks.Template(dbtToNunjucks(text), this.env, file, true);
    } catch (error) {
      throw jinjaError(error, file, this.dir, this.macroNames, 'compile');
    }
  }

  /** A global by name, undefined when there is none (nunjucks' getGlobal throws). */
  global(name: string): unknown {
    return (this.env as unknown as { globals: Record<string, unknown> }).globals[name];
  }

  macro(name: string): ((...args: unknown[]) => unknown) | undefined {
    const found = this.global(name);
    return typeof found === 'function' ? (found as (...args: unknown[]) => unknown) : undefined;
  }
}
