import { createHash } from 'node:crypto';
import { TributaryError } from '../core/errors.js';
import type { DbtSurface, RenderState } from './compile.js';
import { Relation } from './compile.js';
import { refuseLeftovers } from './jinja.js';
import { storeFailuresOf } from './project.js';

/**
 * A dbt project's tests as SQL returning the failing rows: the four generic tests dbt ships
 * (not_null, unique, accepted_values, relationships) written here with dbt's semantics, custom
 * generic tests (`{% test %}` blocks) and singular tests (`tests/*.sql`) rendered from the
 * project's own files. `where` narrows the tested model; severity, warn_if and error_if say what
 * a count of failing rows means.
 */

export interface CompiledTest {
  /** As dbt names it: not_null_orders_order_id; a singular test by its file. */
  name: string;
  /** not_null, unique, accepted_values, relationships, a custom generic test's name, or `singular`. */
  kind: string;
  model: string | undefined;
  column: string | undefined;
  severity: 'error' | 'warn';
  warnIf: string;
  errorIf: string;
  /** The rows that fail the test. */
  sql: string;
  /** What counts them (dbt's fail_calc; dbt_utils.equality sets its own), compared by warn_if and error_if. */
  failCalc: string;
  /** Its failing rows are kept in a table (store_failures), replaced by each run. */
  storeFailures: boolean;
  /** Nodes (models, seeds) it reads: it runs once they are built. */
  depends: string[];
  file: string;
}

/**
 * A generic test's name as dbt gives it (in its output, and as its store_failures table): the
 * test, the model and the arguments' values in the order of their names; past 63 characters, the
 * first 30 of test and model and an MD5 of the whole.
 */
export function testName(test: string, model: string, args: Record<string, unknown>): string {
  // str() of an argument's part as Python prints it: a nested list or mapping as its repr ([0, 1], {'a': 'b'}).
  const repr = (value: unknown): string =>
    typeof value === 'string'
      ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
      : Array.isArray(value)
        ? `[${value.map(repr).join(', ')}]`
        : value && typeof value === 'object'
          ? `{${Object.entries(value).map(([k, v]) => `${repr(k)}: ${repr(v)}`).join(', ')}}`
          : python(value);
  const python = (value: unknown): string =>
    value === true ? 'True' : value === false ? 'False' : value === null || value === undefined ? 'None' : typeof value === 'object' ? repr(value) : String(value);
  const flat = Object.keys(args)
    .sort()
    .flatMap((key) => {
      const value = args[key];
      return Array.isArray(value) ? value : value && typeof value === 'object' ? Object.values(value) : [value];
    })
    .map((part) => python(part).replace(/[^0-9a-zA-Z_]+/g, '_'));
  const identifier = `${test}_${model}`;
  const full = `${identifier}_${flat.join('__')}`;
  return full.length >= 64 ? `${identifier.slice(0, 30)}_${createHash('md5').update(full).digest('hex')}` : full;
}

/** dbt's fail_calc from a test's config: `count(*)` unless the test sets its own. */
function failCalcOf(config: Record<string, unknown>): string {
  return typeof config.fail_calc === 'string' && config.fail_calc.trim() ? config.fail_calc.trim() : 'count(*)';
}

export interface TestRendering {
  /** The warehouse as the test runs: its templates' queries answered (`execute` true), as dbt renders a test when its turn comes. */
  state?: RenderState;
  /** Only the test of this name is rendered (the others are named, not rendered). */
  only?: string;
}

/**
 * Every test of the project as SQL returning its failing rows, with the nodes it reads. Without a
 * state, as dbt's parse renders them (`execute` false): enough for what each reads and its name.
 */
export function compileTests(surface: DbtSurface, storeAll?: boolean, rendering: TestRendering = {}): CompiledTest[] {
  const keeps = (declared: boolean | undefined) => storeAll ?? declared ?? surface.files.storeFailures;
  const { env, current } = surface.environment(rendering.state ?? { existing: new Set(), fullRefresh: false }, 'test');
  const out: CompiledTest[] = [];
  const names = new Set<string>();
  const unique = (name: string) => {
    let candidate = name;
    for (let i = 2; names.has(candidate); i++) candidate = `${name}_${i}`;
    names.add(candidate);
    return candidate;
  };
  // An argument is rendered as dbt renders it: `ref('x')` as the relation, Jinja in a string (`{{ dbt_date.yesterday() }}`), in lists and mappings too.
  const renderExpression = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (/^\s*(ref|source)\s*\(/.test(value)) return env.render(`{{ ${value} }}`, current.file);
      return /\{\{|\{%/.test(value) ? env.render(value, current.file) : value;
    }
    if (Array.isArray(value)) return value.map(renderExpression);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderExpression(v)]));
    return value;
  };
  for (const test of surface.files.tests) {
    if (test.enabledWhen !== undefined && /^\s*false\s*$/i.test(env.render(test.enabledWhen, test.file))) continue;
    // A namespaced test is named with its package first, as dbt names it (dbt_utils_equality_…).
    const name = unique(testName(test.package ? `${test.package}_${test.test}` : test.test, test.model.replace(/^source:/, 'source_').replace('.', '_'), { ...test.args, ...(test.column ? { column_name: test.column } : {}) }));
    if (rendering.only !== undefined && name !== rendering.only) continue;
    current.file = test.file;
    current.node = undefined;
    current.refs = new Set();
    // What should_store_failures() answers while the test renders.
    current.config = { tags: [], store_failures: keeps(test.storeFailures), ...(test.failCalc ? { fail_calc: test.failCalc } : {}) };
    let relation: string;
    if (test.model.startsWith('source:')) {
      const [source, table] = test.model.slice(7).split('.');
      relation = env.render(`{{ source('${source}', '${table}') }}`, test.file);
    } else {
      relation = env.render(`{{ ref('${test.model}') }}`, test.file);
    }
    const model = test.where ? `(select * from ${relation} where ${test.where}) dbt_subquery` : relation;
    const column = test.column;
    const args = Object.fromEntries(Object.entries(test.args).map(([k, v]) => [k, renderExpression(v)]));
    let sql: string;
    switch (test.package ? '' : test.test) {
      case 'not_null':
        // Kept failures hold the whole row, as dbt keeps them.
        sql = `select ${keeps(test.storeFailures) ? '*' : column} from ${model} where ${column} is null`;
        break;
      case 'unique':
        sql = `select ${column} as unique_field, count(*) as n_records from ${model} where ${column} is not null group by ${column} having count(*) > 1`;
        break;
      case 'accepted_values': {
        const values = (args.values ?? []) as unknown[];
        const quote = args.quote !== false;
        const list = values.map((v) => (quote ? `'${String(v).replace(/'/g, "''")}'` : String(v))).join(', ');
        sql = `with all_values as (select ${column} as value_field, count(*) as n_records from ${model} group by ${column}) select * from all_values where value_field not in (${list})`;
        break;
      }
      case 'relationships':
        sql = `with child as (select ${column} as from_field from ${model} where ${column} is not null), parent as (select ${String(args.field)} as to_field from ${String(args.to)}) select from_field from child left join parent on child.from_field = parent.to_field where parent.to_field is null`;
        break;
      default: {
        const macroName = `test_${test.test}`;
        const macro = env.macro(macroName, test.package || undefined);
        if (!macro) {
          throw new TributaryError(`the test '${test.package ? `${test.package}.` : ''}${test.test}' on ${test.model}${column ? `.${column}` : ''} is no generic test of this project`, {
            place: surface.place(test.file),
            hint: `define it with {% test ${test.test}(model, column_name) %} in tests/generic/, or ship the package that has it under dbt_packages/`,
          });
        }
        const keywords: Record<string, unknown> = { ...args, model: new Relation(test.model, model, surface.database) };
        if (column) keywords.column_name = column;
        // Rendered through a template, so its errors and leftovers are the template's. Subscripted,
        // so an argument named as a dict method (dbt_utils' `values`) is the argument.
        sql = env.render(`{{ __test(${Object.keys(keywords).map((k) => `${k}=__args[${JSON.stringify(k)}]`).join(', ')}) }}`, test.file, { __test: macro, __args: keywords });
      }
    }
    refuseLeftovers(sql, test.file, surface.files.dir);
    out.push({
      name,
      kind: test.test,
      model: test.model,
      column,
      severity: test.severity,
      warnIf: test.warnIf,
      errorIf: test.errorIf,
      failCalc: failCalcOf(current.config),
      storeFailures: keeps(test.storeFailures),
      sql: sql.trim(),
      depends: [...current.refs],
      file: test.file,
    });
  }
  for (const singular of surface.files.singularTests) {
    const name = unique(singular.name);
    if (rendering.only !== undefined && name !== rendering.only) continue;
    current.file = singular.file;
    current.node = undefined;
    current.refs = new Set();
    // A singular test may set its own severity, warn_if and error_if with {{ config(...) }}.
    current.config = { tags: [] };
    const sql = env.render(singular.text, singular.file).trim().replace(/;\s*$/, '');
    refuseLeftovers(sql, singular.file, surface.files.dir);
    const severity = String(current.config.severity ?? 'error').toLowerCase() === 'warn' ? 'warn' : 'error';
    const warnIf = String(current.config.warn_if ?? '!= 0');
    const errorIf = String(current.config.error_if ?? '!= 0');
    const storeFailures = keeps(storeFailuresOf(current.config));
    out.push({ name, kind: 'singular', model: undefined, column: undefined, severity, warnIf, errorIf, failCalc: failCalcOf(current.config), storeFailures, sql, depends: [...current.refs], file: singular.file });
  }
  return out;
}
