import path from 'node:path';
import { Environment } from '@huggingface/jinja';
import { TributaryError } from '../core/errors.js';
import { compileTemplate, DbtInterpreter, FunctionValue, MacroReturn, NotCallable, ObjectValue, ORIGIN, pyStr, pythonGlobals, toRuntime, type MacroOrigin, type Value } from './jinja-python.js';
import { QueryFailed, Unanswered } from './introspect.js';
import type { DbtMacroFile } from './project.js';

/**
 * dbt's Jinja, rendered by @huggingface/jinja (a Jinja2 interpreter: whitespace control, `loop`,
 * filters, macros with keyword arguments, *args/**kwargs, slicing, namespace, break/continue)
 * with the Python semantics dbt's templates rely on added in ./jinja-python.ts. It was chosen
 * over nunjucks by measurement (README, Coming from dbt): it parses every file of the dbt
 * packages measured, nunjucks three in four.
 *
 * The engine keeps no positions, so where an error is found here: a syntax error's line is the
 * first prefix of the file that fails with the same error; an error while rendering is placed at
 * the call that raised it (the first call of that name, with that first argument, in the file
 * being rendered or in the file of the macro that was running). Anything the engine cannot
 * render is Tributary's error naming the file and line: nothing half-rendered reaches DuckDB.
 */

/** What a template may call: dbt's context for one node (ref, source, config, var, this…), and macros. */
export type JinjaContext = Record<string, unknown>;

/** A macro as the environment holds it: call it from a template, or hand it back through dbt's context. */
export type JinjaMacro = Value;

/** Keyword arguments as a context function receives them: a last object marked `__keywords`. */
export function splitArgs(args: unknown[]): { positional: unknown[]; keywords: Record<string, unknown> } {
  const last = args.at(-1);
  if (last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _, ...keywords } = last as Record<string, unknown>;
    return { positional: args.slice(0, -1), keywords };
  }
  return { positional: args, keywords: {} };
}

type Compiled = { program: unknown } | { error: Error; line: number | undefined };
/** Parsed programs by text: each render of a project builds a new environment over the same files. */
const compiled = new Map<string, Compiled>();

/** The first line at which a prefix of the text fails to parse with the same message as the whole. */
function syntaxLine(text: string, message: string): number | undefined {
  const lines = text.split('\n');
  for (let k = 1; k <= lines.length; k++) {
    try {
      compileTemplate(lines.slice(0, k).join('\n'));
    } catch (error) {
      if ((error as Error).message === message) return k;
    }
  }
  return undefined;
}

function compile(text: string): Compiled {
  let found = compiled.get(text);
  if (!found) {
    try {
      found = { program: compileTemplate(text) };
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      found = { error: e, line: syntaxLine(text, e.message) };
    }
    if (compiled.size > 5000) compiled.clear();
    compiled.set(text, found);
  }
  return found;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The line of the first call `name(` in the text, preferring one whose first argument is `first`. */
export function callLine(text: string, name: string, first?: string): number | undefined {
  const patterns = [
    ...(first !== undefined ? [new RegExp(`(?<![\\w.])${escapeRe(name)}\\s*\\(\\s*['"]${escapeRe(first)}['"]`)] : []),
    new RegExp(`(?<![\\w.])${escapeRe(name)}\\s*\\(`),
    new RegExp(`(?<![\\w.])${escapeRe(name.split('.').at(-1)!)}\\s*\\(`),
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(text);
    if (match) return text.slice(0, match.index).split('\n').length;
  }
  return undefined;
}

const clean = (message: string) => message.replace(/\s+/g, ' ').trim();

/**
 * Jinja left in rendered SQL (a tag printed as text, an expression in a string) is refused with
 * its line, rather than sent to the engine.
 */
export function refuseLeftovers(rendered: string, file: string, dir: string): void {
  const match = /\{\{|\{%|\{#|%\}|#\}/.exec(rendered);
  if (!match) return;
  const line = rendered.slice(0, match.index).split('\n').length;
  const excerpt = rendered.split('\n')[line - 1]!.trim().slice(0, 80);
  throw new TributaryError(`${file} still holds Jinja after rendering, at line ${line} of the rendered SQL: ${excerpt}`, {
    place: { file: path.join(dir, file) },
    hint: 'a tag or expression was printed as text instead of being rendered; see `tributary compile` for the rendered SQL',
  });
}

/** A template environment holding the project's macros, with dbt's context as globals. */
export class JinjaEnvironment {
  readonly macroNames: string[] = [];
  private readonly globals = new Environment();
  private readonly interpreter: DbtInterpreter;
  /** Each package's macros (`dbt_utils.star`), by package. */
  private readonly namespaces = new Map<string, Map<string, Value>>();
  /** Macro files' text, to place an error raised inside one of their macros. */
  private readonly texts = new Map<string, string>();
  private get calls() {
    return this.interpreter.calls;
  }

  constructor(
    private readonly dir: string,
    globals: JinjaContext,
  ) {
    pythonGlobals(this.globals);
    for (const [name, value] of Object.entries(globals)) this.globals.setVariable(name, toRuntime(value) as never);
    this.interpreter = new DbtInterpreter(this.globals);
  }

  /**
   * Loads macro files: the root project's macros and generic tests become globals; each package's
   * are reachable as `package.macro` and, when no root macro has the name, as `macro`. A file that
   * does not parse fails only when one of its macros is called, naming the file and line.
   */
  loadMacros(files: readonly DbtMacroFile[], rootPackage: string): void {
    const root: [string, Value][] = [];
    const others: [string, Value][] = [];
    for (const file of files) {
      this.texts.set(file.file, file.text);
      const namespace = this.namespaces.get(file.package) ?? new Map<string, Value>();
      this.namespaces.set(file.package, namespace);
      for (const [name, macro] of this.macrosOf(file)) {
        namespace.set(name, macro);
        (file.package === rootPackage ? root : others).push([name, macro]);
        this.macroNames.push(file.package === rootPackage ? name : `${file.package}.${name}`);
      }
    }
    const rootNames = new Set(root.map(([n]) => n));
    for (const [name, macro] of others) if (!rootNames.has(name)) this.globals.setVariable(name, macro as never);
    for (const [name, macro] of root) this.globals.setVariable(name, macro as never);
    for (const [pkg, namespace] of this.namespaces) if (!rootNames.has(pkg)) this.globals.setVariable(pkg, new ObjectValue(namespace) as never);
  }

  /** One file's macros, defined by running its top level; stand-ins that raise its error when it cannot be. */
  private macrosOf(file: DbtMacroFile): [string, Value][] {
    const result = compile(file.text);
    let failure: TributaryError | undefined;
    if ('program' in result) {
      const scope = new Environment(this.globals);
      this.interpreter.definingFile = file.file;
      const depth = this.calls.length;
      try {
        this.interpreter.evaluate(result.program as never, scope);
        return [...scope.variables].filter(([, v]) => v instanceof FunctionValue && (v as { [ORIGIN]?: MacroOrigin })[ORIGIN]) as [string, Value][];
      } catch (error) {
        failure = this.renderError(error, file.text, file.file, depth);
      } finally {
        this.interpreter.definingFile = undefined;
        this.calls.length = depth;
      }
    } else {
      failure = this.syntaxError(result, file.file);
    }
    const names = [...file.text.matchAll(/\{%-?\s*(macro|test)\s+([A-Za-z_]\w*)/g)].map((m) => (m[1] === 'test' ? `test_${m[2]}` : m[2]!));
    return names.map((name) => [
      name,
      new FunctionValue(() => {
        throw new TributaryError(`the macro '${name}' cannot be called: ${failure!.message}`, { place: failure!.place, hint: failure!.hint });
      }),
    ]);
  }

  private syntaxError(result: { error: Error; line: number | undefined }, file: string): TributaryError {
    return new TributaryError(`the Jinja of ${file} does not parse: ${clean(result.error.message)}`, {
      place: { file: path.join(this.dir, file), line: result.line },
      hint: 'fix the template; Tributary renders Jinja with @huggingface/jinja and dbt’s Python methods (see README, Coming from dbt)',
    });
  }

  /** Renders one file's text with extra context; errors name the file and line. */
  render(text: string, file: string, context: JinjaContext = {}): string {
    const result = compile(text);
    if (!('program' in result)) throw this.syntaxError(result, file);
    const scope = new Environment(this.globals);
    for (const [name, value] of Object.entries(context)) scope.setVariable(name, toRuntime(value) as never);
    const depth = this.calls.length;
    const stackDepth = this.interpreter.stack.length;
    try {
      return pyStr(this.interpreter.evaluate(result.program as never, scope));
    } catch (error) {
      // A question for the warehouse is not the template's error: the caller answers it and renders again.
      if (error instanceof Unanswered || error instanceof QueryFailed) throw error;
      throw this.renderError(error, text, file, depth);
    } finally {
      this.calls.length = depth;
      this.interpreter.stack.length = stackDepth;
    }
  }

  /** An error thrown while rendering `file`, placed at the call that raised it. */
  private renderError(error: unknown, text: string, file: string, depth: number): TributaryError {
    const call = this.calls.slice(depth).at(-1);
    const where = (name: string | undefined, first?: string, inFile?: string) => {
      const source = inFile !== undefined ? this.texts.get(inFile) : text;
      const line = name && source !== undefined ? callLine(source, name, first) : undefined;
      return { file: path.join(this.dir, inFile ?? file), line };
    };
    const macro = this.interpreter.stack.at(-1);
    const within = macro && macro.file !== file ? ` (in the macro '${macro.name}' of ${macro.file}, rendering ${file})` : '';
    if (error instanceof TributaryError) {
      // dbt's context (ref, var, source…) raises Tributary's own errors, placed at the file only.
      if (error.place.line !== undefined) return error;
      return new TributaryError(error.message, { place: { ...error.place, ...where(call?.name, call?.first, call?.file) }, hint: error.hint });
    }
    if (error instanceof NotCallable && error.method) {
      return new TributaryError(`the value called in ${file} has no method '${error.method}'${within}`, {
        place: where(undefined, undefined, macro?.file),
        hint: "templates offer Python's methods on text, lists, dicts and dates, and dbt's context (README, Coming from dbt): call one of those, or compute it in SQL",
      });
    }
    if (error instanceof NotCallable) {
      const name = error.callee;
      return new TributaryError(`the macro '${name}' does not exist${within}`, {
        place: where(name, undefined, macro?.file),
        hint: `define it in macros/ (or ship the package that has it under dbt_packages/), or correct the name; macros found: ${this.listedMacros()}`,
      });
    }
    if (error instanceof MacroReturn) return new TributaryError(`return() was called outside a macro in ${file}`, { place: where('return'), hint: 'call return() inside a {% macro %}' });
    const message = clean(error instanceof Error ? error.message : String(error));
    return new TributaryError(`the Jinja of ${file} could not be rendered: ${message}${within}`, {
      place: where(call?.name, call?.first, call?.file),
      hint: 'fix the template; Tributary renders Jinja with @huggingface/jinja and dbt’s Python methods (see README, Coming from dbt)',
    });
  }

  /** The macros a missing one might have meant: the project's own first, then its packages', then dbt's. */
  private listedMacros(): string {
    const rank = (name: string) => (!name.includes('.') ? 0 : name.startsWith('dbt.') ? 2 : 1);
    const ordered = [...this.macroNames].sort((a, b) => rank(a) - rank(b));
    return `${ordered.slice(0, 20).join(', ') || '(none)'}${ordered.length > 20 ? ', …' : ''}`;
  }

  /**
   * A unit test's override: the macro (`name`, or `package.name`) answers `value` whatever it is
   * called with. As dbt's: a name no macro or context function has is ignored (so is any part of
   * a name past `package.name`'s two but the last), and an override of one of dbt's own macros
   * holds for `dbt.name` and `name` alike.
   */
  overrideMacro(qualified: string, value: unknown): void {
    const parts = qualified.split('.');
    const name = parts[parts.length - 1]!;
    const standIn = toRuntime(() => value);
    if (parts.length === 2) {
      const namespace = this.namespaces.get(parts[0]!);
      if (!namespace?.has(name)) return;
      namespace.set(name, standIn);
      if (parts[0] === 'dbt') this.globals.variables.set(name, standIn);
      return;
    }
    if (!this.globals.variables.has(name)) return;
    this.globals.variables.set(name, standIn);
    const dbtOwn = this.namespaces.get('dbt');
    if (dbtOwn?.has(name)) dbtOwn.set(name, standIn);
  }

  /** A macro by name: the root project's (or a package's, when the root has none), or `namespace`'s. */
  macro(name: string, namespace?: string): JinjaMacro | undefined {
    const found = namespace ? this.namespaces.get(namespace)?.get(name) : this.globals.variables.get(name);
    return found instanceof FunctionValue ? (found as Value) : undefined;
  }

  /** Whether a package (or the root project) of that name has macros here. */
  hasNamespace(name: string): boolean {
    return this.namespaces.has(name);
  }
}
