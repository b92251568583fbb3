import Table from 'cli-table3';
import { printable } from '../core/printable.js';

export type OutputFormat = 'table' | 'csv' | 'json';

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function csvCell(value: unknown): string {
  const text = cell(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A value's characters a table shows: it is for people reading a screen; CSV and JSON give every value whole. */
const TABLE_CELL_CHARS = 300;

function table(names: string[], rows: readonly Record<string, unknown>[], colour: boolean, more = false): string {
  const t = new Table({
    head: names,
    style: { head: colour ? ['cyan'] : [], border: colour ? ['grey'] : [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  let cut = false;
  const shown = (value: unknown) => {
    const text = cell(value);
    if (text.length <= TABLE_CELL_CHARS) return text;
    cut = true;
    // Not between the two halves of a character outside the BMP.
    const end = /[\uD800-\uDBFF]/.test(text[TABLE_CELL_CHARS - 1]!) ? TABLE_CELL_CHARS - 1 : TABLE_CELL_CHARS;
    return `${text.slice(0, end)}…`;
  };
  // Cells hold data: a control character in one would act on the terminal instead of showing.
  for (const row of rows) t.push(names.map((n) => printable(shown(row[n]))));
  const count = more
    ? `(the first ${rows.length.toLocaleString('en-US')} rows of more: add a LIMIT, or ask for every row with --format csv or --format json)`
    : `(${rows.length.toLocaleString('en-US')} row${rows.length === 1 ? '' : 's'})`;
  const note = cut ? `\n(values longer than ${TABLE_CELL_CHARS} characters end in …; --format csv or --format json gives them whole)` : '';
  return `${t.toString()}\n${count}${note}`;
}

/** Renders rows (JSON-safe values) for a terminal, a CSV consumer or a JSON consumer. */
export function renderRows(records: readonly object[], format: OutputFormat, columns?: string[], colour = Boolean(process.stdout.isTTY)): string {
  const rows = records as readonly Record<string, unknown>[];
  const names = columns ?? Object.keys(rows[0] ?? {});
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2);
    case 'csv':
      return [names.map(csvCell).join(','), ...rows.map((r) => names.map((n) => csvCell(r[n])).join(','))].join('\n');
    case 'table':
      return table(names, rows, colour);
  }
}

/** Most rows a table (for people) holds: it is drawn once they are all in, so an answer of millions would fill the memory first. */
export const TABLE_MAX_ROWS = 1000;

/**
 * Rows as they arrive, for answers of any size: CSV and JSON are written chunk by chunk; a table
 * (for people, at most TABLE_MAX_ROWS rows) is drawn at the end, saying whether there were more.
 */
export function streamRows(format: OutputFormat, write: (text: string) => void, colour: boolean) {
  let names: string[] = [];
  let first = true;
  const buffered: Record<string, unknown>[] = [];
  return {
    /** Rows the writer takes: the caller stops the answer there, and says so at the end. */
    maxRows: format === 'table' ? TABLE_MAX_ROWS : undefined,
    columns(columns: string[]) {
      names = columns;
      if (format === 'csv') write(names.map(csvCell).join(','));
      if (format === 'json') write('[');
    },
    rows(rows: readonly Record<string, unknown>[]) {
      if (!rows.length) return;
      if (format === 'table') buffered.push(...rows);
      else if (format === 'csv') write(rows.map((r) => names.map((n) => csvCell(r[n])).join(',')).join('\n'));
      else {
        write(rows.map((r, i) => `${first && i === 0 ? '' : ','}${JSON.stringify(r)}`).join('\n'));
        first = false;
      }
    },
    /** `more`: the answer had rows past `maxRows`. */
    end(more = false) {
      if (format === 'json') write(']');
      if (format === 'table') write(table(names, buffered, colour, more));
    },
  };
}
