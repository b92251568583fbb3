import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../src/core/errors.js';
import { JinjaEnvironment } from '../src/dbt/jinja.js';
import { DBT_MODULES } from '../src/dbt/modules.js';

/**
 * dbt's Jinja as Tributary renders it, against Jinja2's own output: each case of
 * test/fixtures/jinja/cases.test is a template and what Jinja2 3.1 renders from it.
 */

const fixture = path.join(import.meta.dirname, 'fixtures', 'jinja', 'cases.test');

function readCases(file = fixture): { name: string; template: string; expected: string }[] {
  const text = readFileSync(file, 'utf8');
  const cases: { name: string; template: string; expected: string }[] = [];
  for (const block of text.split(/^====$/m)) {
    const match = /^template (.+)\n([\s\S]*?)\n----\n([\s\S]*?)\n?$/.exec(block.replace(/^(#.*\n|\s*\n)*/, ''));
    if (match) cases.push({ name: match[1]!, template: match[2]!, expected: match[3]! });
  }
  return cases;
}

const environment = (globals: Record<string, unknown> = {}) => new JinjaEnvironment('/project', { cols: ['a', 'b'], d: { k: 1 }, ...globals });

describe('Jinja renders as Jinja2 does', () => {
  const cases = readCases();
  it('reads every case of the fixture', () => expect(cases.length).toBeGreaterThanOrEqual(20));
  for (const c of cases) {
    it(c.name, () => {
      expect(environment().render(c.template, 'case.sql')).toBe(c.expected);
    });
  }
});

const thrown = (fn: () => unknown): TributaryError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TributaryError);
    return error as TributaryError;
  }
  throw new Error('no error was thrown');
};

describe('dbt’s own Jinja', () => {
  it('return() makes a macro yield the value itself, a list or a dict', () => {
    const env = environment();
    env.loadMacros([{ package: 'shop', file: 'macros/cols.sql', text: "{% macro cols() %}{{ return(['a', 'b']) }}{% endmacro %}\n{% macro conf() %}{% do return({'k': 2}) %}{% endmacro %}" }], 'shop');
    expect(env.render('{% for c in cols() %}{{ c }}{% endfor %} {{ cols() | length }} {{ conf().k }}', 'm.sql')).toBe('ab 2 2');
  });

  it('adapter.dispatch returns a macro that is then called, duckdb__ before default__', () => {
    let env!: JinjaEnvironment;
    const adapter = {
      dispatch: (name: string, namespace?: string) => env.macro(`duckdb__${name}`, namespace) ?? env.macro(`default__${name}`, namespace),
    };
    env = new JinjaEnvironment('/project', { adapter });
    env.loadMacros(
      [
        {
          package: 'utils',
          file: 'macros/x.sql',
          text: "{% macro x(a) %}{{ return(adapter.dispatch('x', 'utils')(a)) }}{% endmacro %}{% macro default__x(a) %}default {{ a }}{% endmacro %}{% macro duckdb__x(a) %}duckdb {{ a }}{% endmacro %}",
        },
      ],
      'shop',
    );
    expect(env.render("{{ utils.x(1) }} {{ x(a=2) }}", 'm.sql')).toBe('duckdb 1 duckdb 2');
  });

  it('context functions take keyword arguments, and objects keep their attributes and text', () => {
    const seen: unknown[] = [];
    const config = (...args: unknown[]) => (seen.push(args), '');
    Object.assign(config, { get: (key: string, fallback?: unknown) => (key === 'materialized' ? 'table' : (fallback ?? null)) });
    class Relation {
      constructor(readonly identifier: string) {}
      toString() {
        return `main."${this.identifier}"`;
      }
    }
    const env = environment({ config, ref: (name: string) => new Relation(name) });
    expect(env.render("{{ config(materialized='table', tags=['a']) }}{{ config.get('materialized') }} {{ config.get('x', 'y') }} {{ ref('o') }} {{ ref('o').identifier }}", 'm.sql')).toBe('table y main."o" o');
    expect(seen).toEqual([[{ materialized: 'table', tags: ['a'], __keywords: true }]]);
  });
});

describe('errors name the file and line', () => {
  it('a syntax error: the line of the statement that does not parse', () => {
    const error = thrown(() => environment().render('select 1\n{% if x %}\n  a\n{% endfor %}\n', 'models/m.sql'));
    expect(error.place).toEqual({ file: '/project/models/m.sql', line: 4 });
    expect(error.message).toContain('does not parse');
  });

  it('a macro that does not exist: the line of its first call', () => {
    const error = thrown(() => environment().render("select\n  {{ missing_macro('a') }},\n  2", 'models/m.sql'));
    expect(error.message).toBe("the macro 'missing_macro' does not exist");
    expect(error.place).toEqual({ file: '/project/models/m.sql', line: 2 });
  });

  it('an error raised by dbt’s context: the line of the call with that argument', () => {
    const env = environment({
      var: (name: string) => {
        if (name === 'nope') throw new TributaryError(`var('${name}') has no value`, { place: { file: '/project/models/m.sql' } });
        return 1;
      },
    });
    const error = thrown(() => env.render("{{ var('ok') }}\n{{ var('ok') }}\n{{ var('nope') }}", 'models/m.sql'));
    expect(error.place).toEqual({ file: '/project/models/m.sql', line: 3 });
  });

  it('a macro file that does not parse fails only when one of its macros is called, naming that file and line', () => {
    const env = environment();
    env.loadMacros(
      [
        { package: 'pkg', file: 'dbt_packages/pkg/macros/bad.sql', text: '{% macro good_name() %}\nok\n{% endmacro %}\n{% macro broken() %}\n{{ 1 + }}\n{% endmacro %}' },
        { package: 'pkg', file: 'dbt_packages/pkg/macros/fine.sql', text: '{% macro fine() %}fine{% endmacro %}' },
      ],
      'shop',
    );
    expect(env.render('{{ fine() }}', 'models/m.sql')).toBe('fine');
    const error = thrown(() => env.render('{{ pkg.broken() }}', 'models/m.sql'));
    expect(error.message).toContain("the macro 'broken' cannot be called");
    expect(error.place).toEqual({ file: '/project/dbt_packages/pkg/macros/bad.sql', line: 5 });
  });

  it('a macro that calls itself without end: said so, at its file; a deep recursion dbt renders (100 levels) renders', () => {
    const env = environment();
    env.loadMacros(
      [
        { package: 'shop', file: 'macros/loop.sql', text: '{% macro forever(n) %}{{ forever(n + 1) }}{% endmacro %}' },
        { package: 'shop', file: 'macros/down.sql', text: '{% macro down(n) %}{% if n <= 0 %}0{% else %}{{ down(n - 1) }}{% endif %}{% endmacro %}' },
      ],
      'shop',
    );
    const error = thrown(() => env.render('select {{ forever(1) }}', 'models/m.sql'));
    expect(error.message).toMatch(/macros nested more than 200 deep: 'forever' calls itself, or macros call each other, without end\?/);
    expect(error.message).not.toMatch(/does not exist/);
    expect(error.place.file).toBe('/project/macros/loop.sql');
    expect(env.render('select {{ down(100) }}', 'models/m.sql')).toBe('select 0');
  });

  it('a repetition past 10,000,000 items or characters is refused, not made (a list of 10⁹ took the process down)', () => {
    const env = environment();
    expect(thrown(() => env.render("select {{ [1, 2] * 10**9 }}", 'models/m.sql')).message).toMatch(/a list of 2 × 1000000000 items is more than a template may make \(10,000,000\)/);
    expect(thrown(() => env.render("select {{ 'x' * 10**10 }}", 'models/m.sql')).message).toMatch(/a text of 1 × 10000000000 characters is more than a template may make/);
    expect(env.render("{{ ('-' * 3) ~ ([0] * 2) | length ~ ('x' * -1) }}", 'models/m.sql')).toBe('---2');
    // Nothing repeated is nothing, at any count (it made 10⁹ empty lists first).
    expect(env.render("{{ ([] * 10**9) | length }}{{ '' * 10**10 }}", 'models/m.sql')).toBe('0');
  });

  it('a method a value does not have, and a date past year 9999, are said as such', () => {
    const env = environment({ modules: DBT_MODULES });
    expect(thrown(() => env.render('{{ modules.datetime.date(2024, 1, 1).nosuch() }}', 'models/m.sql')).message).toBe("the value called in models/m.sql has no method 'nosuch'");
    expect(thrown(() => env.render('{{ modules.datetime.date(9999, 12, 31) + modules.datetime.timedelta(days=1) }}', 'models/m.sql')).message).toMatch(/date value out of range \(Python keeps dates from year 1 to 9999\)/);
    expect(thrown(() => env.render('{{ modules.datetime.timedelta(days=10**12) }}', 'models/m.sql')).message).toMatch(/timedelta of more than 999999999 days/);
  });

  it('an error inside a macro of another file: that file and line', () => {
    const env = environment();
    env.loadMacros([{ package: 'shop', file: 'macros/m.sql', text: '{% macro outer() %}\n  {{ inner_missing() }}\n{% endmacro %}' }], 'shop');
    const error = thrown(() => env.render('select\n{{ outer() }}', 'models/m.sql'));
    expect(error.message).toContain("the macro 'inner_missing' does not exist");
    expect(error.place).toEqual({ file: '/project/macros/m.sql', line: 2 });
  });
});

describe("dbt's modules (datetime, pytz, re) render as Python's do", () => {
  const file = path.join(import.meta.dirname, 'fixtures', 'jinja', 'modules.test');
  const cases = readCases(file);
  it('reads every case of the fixture', () => expect(cases.length).toBeGreaterThanOrEqual(6));
  for (const c of cases) it(c.name, () => expect(environment({ modules: DBT_MODULES }).render(c.template, 'case.sql')).toBe(c.expected));
});
