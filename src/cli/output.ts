import Table from 'cli-table3';

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

/** Renders query rows (JSON-safe values) for a terminal, a CSV consumer or a JSON consumer. */
export function renderRows(records: readonly object[], format: OutputFormat, columns?: string[]): string {
  const rows = records as readonly Record<string, unknown>[];
  const names = columns ?? Object.keys(rows[0] ?? {});
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2);
    case 'csv':
      return [names.map(csvCell).join(','), ...rows.map((r) => names.map((n) => csvCell(r[n])).join(','))].join('\n');
    case 'table': {
      const colour = Boolean(process.stdout.isTTY);
      const table = new Table({
        head: names,
        style: { head: colour ? ['cyan'] : [], border: colour ? ['grey'] : [] },
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      });
      for (const row of rows) table.push(names.map((n) => cell(row[n])));
      return `${table.toString()}\n(${rows.length} row${rows.length === 1 ? '' : 's'})`;
    }
  }
}
