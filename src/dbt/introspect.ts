/**
 * What a dbt template reads from the warehouse while it renders: `run_query`, `{% call statement %}`
 * with `load_result`, `adapter.get_columns_in_relation`. The template engine renders
 * synchronously and the engine answers asynchronously, so a render that asks a question it has no
 * answer for stops with `Unanswered`; the caller asks the engine, keeps the answer, and renders
 * again, until every question has its answer. A render with no answers at all is dbt's parse
 * (`execute` false): queries answer None.
 */

import { TributaryError } from '../core/errors.js';

/**
 * A query a template ran failed in the warehouse. As in dbt, where a node's queries run when its
 * turn comes, the node that asked fails and the others build; what reads it is skipped.
 */
export class QueryFailed extends TributaryError {}

/** A question a render asked: the rows of a query, or the columns of a relation. */
export type Question = { kind: 'rows'; sql: string } | { kind: 'columns'; sql: string };

export const questionKey = (q: Question) => `${q.kind}:${q.sql}`;

/** Thrown through the template engine when a render needs an answer it does not have yet. */
export class Unanswered extends Error {
  /** `file`: the template that asked, relative to the project, for a message when the query fails. */
  constructor(
    readonly question: Question,
    readonly file?: string,
  ) {
    super(`the warehouse has not answered: ${question.sql.slice(0, 80)}`);
  }
}

export interface Answer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  /** The warehouse refused the query: asking it again raises this. */
  failed?: QueryFailed;
}

/** Answers kept between renders, by question. */
export type Answers = ReadonlyMap<string, Answer>;

/** A column of a result table: `column.name`, `column.values()`. A class, so a template calls its methods rather than reading it as a dict. */
class ResultColumn {
  constructor(
    readonly name: string,
    private readonly cells: unknown[],
  ) {}
  values(): unknown[] {
    return this.cells;
  }
  values_distinct(): unknown[] {
    return [...new Set(this.cells)];
  }
}

/** agate's columns: a list, also by name (`columns.items()`, `columns.get('name')`), as dbt_utils.get_query_results_as_dict reads them. */
class ResultColumns extends Array<ResultColumn> {
  items(): [string, ResultColumn][] {
    return this.map((column) => [column.name, column]);
  }
  get(name: string): ResultColumn | null {
    return this.find((column) => column.name === name) ?? null;
  }
}

/**
 * dbt's result table (agate) as templates use it: `table.rows[0][0]`, `table.columns[0].values()`,
 * `table.column_names`, `table.column_types`.
 */
class ResultTable {
  readonly rows: unknown[][];
  readonly columns: ResultColumns;
  readonly column_names: string[];
  readonly column_types: string[];
  constructor(answer: Answer) {
    this.rows = answer.rows;
    this.columns = ResultColumns.from(answer.columns, (c, i) => new ResultColumn(c.name, answer.rows.map((r) => r[i]))) as ResultColumns;
    this.column_names = answer.columns.map((c) => c.name);
    this.column_types = answer.columns.map((c) => c.type);
  }
  print_table(): string {
    return '';
  }
}

export function resultTable(answer: Answer): object {
  return new ResultTable(answer);
}

/** A column as dbt's adapters describe one (`column.name`, `.data_type`, `.quoted`, `.is_string()`…). */
export function adapterColumn(name: string, type: string): Record<string, unknown> {
  const upper = type.toUpperCase();
  return {
    name,
    column: name,
    data_type: type,
    dtype: type,
    quoted: `"${name.replace(/"/g, '""')}"`,
    is_string: () => /^(VARCHAR|TEXT|STRING|CHAR)/.test(upper),
    is_number: () => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC)/.test(upper),
    is_numeric: () => /^(DECIMAL|NUMERIC)/.test(upper),
    is_integer: () => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)/.test(upper),
    is_float: () => /^(DOUBLE|FLOAT|REAL)/.test(upper),
  };
}
