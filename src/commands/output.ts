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

function table(names: string[], rows: readonly Record<string, unknown>[], colour: boolean): string {
  const t = new Table({
    head: names,
    style: { head: colour ? ['cyan'] : [], border: colour ? ['grey'] : [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  // Cells hold data: a control character in one would act on the terminal instead of showing.
  for (const row of rows) t.push(names.map((n) => printable(cell(row[n]))));
  return `${t.toString()}\n(${rows.length.toLocaleString('en-US')} row${rows.length === 1 ? '' : 's'})`;
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

/**
 * Rows as they arrive, for answers of any size: CSV and JSON are written chunk by chunk; a table
 * (for people) is drawn at the end.
 */
export function streamRows(format: OutputFormat, write: (text: string) => void, colour: boolean) {
  let names: string[] = [];
  let first = true;
  const buffered: Record<string, unknown>[] = [];
  return {
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
    end() {
      if (format === 'json') write(']');
      if (format === 'table') write(table(names, buffered, colour));
    },
  };
}
