import { TributaryError, errorMessage } from '../core/errors.js';
import { quoteIdent, quoteLiteral } from '../engine/sql.js';
import type { Engine } from '../engine/index.js';
import { parseCsv, unitInputKey, type DbtFixtureRows, type DbtSurface, type DbtUnitTest, type RenderState } from '../dbt/index.js';
import type { NodeResult } from './dbt-build.js';

/**
 * dbt's unit tests (1.8): a model's SQL run over rows the test gives for each input, nothing read
 * from the warehouse but the inputs' column types; its output, on the columns the test expects,
 * must be the expected rows (in any order, duplicates counted).
 */

type Column = { name: string; type: string };

/** How many differing rows a failure shows. */
const SHOWN = 3;

/**
 * `render` run with the warehouse answering what a template asks (run_query, statement,
 * get_columns_in_relation), with `execute` true as in dbt's unit tests.
 */
export type WithWarehouse = (render: (state: RenderState) => string) => Promise<string>;

export async function runUnitTest(engine: Engine, surface: DbtSurface, test: DbtUnitTest, withWarehouse: WithWarehouse): Promise<NodeResult> {
  const base = { node: test.name, type: 'unit_test' as const, model: test.model };
  try {
    const given = new Map<string, string>();
    for (const { input, rows } of test.given) {
      const key = unitInputKey(input);
      if (!key) {
        throw new TributaryError(`unit test '${test.name}': input '${input}' is not ref('…'), source('…', '…') or this`, {
          place: surface.place(test.file),
          hint: "name an input as the model does: ref('stg_orders'), source('shop', 'raw_orders')",
        });
      }
      given.set(key, `(${await fixtureSql(engine, rows, await inputColumns(engine, surface, test, key, rows), `${test.name}, input ${input}`, surface.place(test.file))})`);
    }
    const sql = await withWarehouse((state) => surface.renderUnitTest(test, state, {
      given: (input) => {
        const found = given.get(input);
        if (found !== undefined) return found;
        // Without given rows for `this`, an incremental model reads its own table as it is.
        if (input === 'this') return `main.${quoteIdent(test.model)}`;
        throw new TributaryError(`unit test '${test.name}' gives no rows for ${input}, which '${test.model}' reads`, {
          place: surface.place(test.file),
          hint: `add - input: ${input} to its given (rows: [] for none)`,
        });
      },
      overrides: test.overrides,
    }));
    if (!sql) {
      throw new TributaryError(`unit test '${test.name}': '${test.model}' renders to no SQL with the test's inputs and overrides`, {
        place: surface.place(test.file),
        hint: `see what it renders with tributary compile --select ${test.model}`,
      });
    }
    const output = await engine.describe(sql);
    // `rows: []` expects no row at all, on every column the model outputs (as dbt compares it).
    const expected = await fixtureSql(engine, test.expect, output, `${test.name}, expect`, surface.place(test.file), !expectsNothing(test.expect));
    const expectedColumns = (await engine.describe(expected)).map((c) => c.name);
    const missing = expectedColumns.filter((c) => !output.some((o) => o.name === c));
    if (missing.length) {
      throw new TributaryError(`unit test '${test.name}' expects column(s) ${missing.join(', ')}, which '${test.model}' does not output`, {
        place: surface.place(test.file),
        hint: `its columns: ${output.map((c) => c.name).join(', ')}`,
      });
    }
    const picked = expectedColumns.map(quoteIdent).join(', ');
    const diff = await engine.query<Record<string, unknown>>(
      `WITH actual AS (SELECT ${picked} FROM (${sql}) AS model), expected AS (SELECT ${picked} FROM (${expected}) AS rows)
       (SELECT 'expected, not output' AS dbt_diff, * FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual))
       UNION ALL (SELECT 'output, not expected', * FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected))`,
    );
    if (!diff.length) return { ...base, status: 'pass', detail: 'ok' };
    const shown = diff.slice(0, SHOWN).map(({ dbt_diff, ...row }) => `${String(dbt_diff)}: ${JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
    return { ...base, status: 'fail', failures: diff.length, detail: `${diff.length} row(s) differ; ${shown.join('; ')}${diff.length > SHOWN ? '; …' : ''}` };
  } catch (error) {
    return { ...base, status: 'error', detail: `${test.file}: ${errorMessage(error).split('\n')[0]}` };
  }
}

/** The columns an input's given rows take: the warehouse relation's (as dbt types fixtures); a query's own for `format: sql`. */
async function inputColumns(engine: Engine, surface: DbtSurface, test: DbtUnitTest, input: string, rows: DbtFixtureRows): Promise<Column[] | undefined> {
  if (rows.format === 'sql') return undefined;
  const relation = surface.inputRelation(input, test.model);
  try {
    return await engine.describe(`SELECT * FROM ${relation}`);
  } catch {
    // An incremental model's own table before its first build: the given rows keep their literals' types.
    if (input === 'this') return undefined;
    throw new TributaryError(`unit test '${test.name}' types the rows of ${input} by ${relation}, which the warehouse does not have`, {
      place: surface.place(test.file),
      hint: `build what the model reads first (tributary build --select +${test.model} runs its unit tests after its parents), or give the rows with format: sql`,
    });
  }
}

/**
 * Fixture rows as a query: every column of the relation (those a row leaves out are NULL, as dbt
 * fills them), each value cast to its column's type. `onlyNamed`: just the columns the rows name
 * (an expectation checks those only).
 */
async function fixtureSql(engine: Engine, rows: DbtFixtureRows, columns: Column[] | undefined, what: string, place: { file: string }, onlyNamed = false): Promise<string> {
  if (rows.format === 'sql') return rows.text.trim().replace(/;\s*$/, '');
  const records = rows.format === 'dict' ? rows.rows : csvRecords(rows.text);
  const named = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const typeOf = new Map((columns ?? []).map((c) => [c.name.toLowerCase(), c]));
  if (columns) {
    const unknown = named.filter((n) => !typeOf.has(n.toLowerCase()));
    if (unknown.length) {
      throw new TributaryError(`unit test ${what}: ${unknown.join(', ')} is no column here`, { place, hint: `the columns: ${columns.map((c) => c.name).join(', ')}` });
    }
  }
  const out: Column[] = onlyNamed || !columns ? named.map((n) => ({ name: typeOf.get(n.toLowerCase())?.name ?? n, type: typeOf.get(n.toLowerCase())?.type ?? '' })) : columns;
  if (!out.length) throw new TributaryError(`unit test ${what} names no column`, { place, hint: 'give at least one row with the columns it checks' });
  const value = (record: Record<string, unknown>, column: Column) => {
    const key = Object.keys(record).find((k) => k.toLowerCase() === column.name.toLowerCase());
    const literal = sqlLiteral(key === undefined ? null : record[key]);
    return column.type ? `CAST(${literal} AS ${column.type})` : literal;
  };
  const select = (record: Record<string, unknown>) => `SELECT ${out.map((c) => `${value(record, c)} AS ${quoteIdent(c.name)}`).join(', ')}`;
  const sql = records.length ? records.map(select).join(' UNION ALL ') : `${select({})} WHERE false`;
  // Said here, with the test's name, rather than as the engine's error inside the model's query.
  await engine.describe(sql).catch((error: unknown) => {
    throw new TributaryError(`unit test ${what}: a value does not fit its column: ${errorMessage(error).split('\n')[0]}`, { place, hint: 'write each value as its column’s type reads it (dates as 2024-01-31)' });
  });
  return sql;
}

function expectsNothing(rows: DbtFixtureRows): boolean {
  return rows.format === 'dict' ? rows.rows.length === 0 : rows.format === 'csv' && !rows.text.trim();
}

/** CSV fixture rows: the header names the columns; an empty field is NULL. */
function csvRecords(text: string): Record<string, unknown>[] {
  const [header = [], ...lines] = parseCsv(text.trim());
  return lines.map((fields) => Object.fromEntries(header.map((name, i) => [name.trim(), fields[i] === undefined || fields[i] === '' ? null : fields[i]])));
}

function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return quoteLiteral(value.toISOString());
  return quoteLiteral(typeof value === 'object' ? JSON.stringify(value) : String(value));
}
