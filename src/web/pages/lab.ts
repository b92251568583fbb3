/**
 * Stable hooks for tests:
 * - `#lab-examples` the project's examples: `button[data-example="<index>"]` (text = the example's title, tooltip = its SQL;
 *   click loads its SQL into the editor, `.active` marks the one loaded)
 * - `.cm-content` the editor; `#run`, `#cancel`, `#limit` (100/1000/10000), `#chart`, `#csv`
 * - `#lab-message`: `.message.info` (row count and time) or `#lab-error` (message, hint, `data-status`: 400, 429…)
 * - `#results` the result table; `#lab-chart` the chart; `#lab-history` `li` past queries (click loads one)
 */
import { sql, StandardSQL } from '@codemirror/lang-sql';
import { keymap } from '@codemirror/view';
import { EditorView, basicSetup } from 'codemirror';
import { dataTable, el, errorMessage, getJson, postJson } from '../api.js';
import { renderChart } from '../charts.js';

interface LabResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  ms: number;
}

const HISTORY = 'tributary.lab.history';

/**
 * The SQL lab: the project's example queries, completion from the catalog, run and cancel, a result
 * grid, a chart, history and CSV. It names no table itself: what to try comes from the project.
 */
export async function labPage(main: HTMLElement): Promise<() => void> {
  const [catalog, project] = await Promise.all([
    getJson<{ tables: { name: string; columns: { name: string }[] }[] }>('/api/catalog'),
    getJson<{ labExamples?: { title: string; sql: string }[] }>('/api/project'),
  ]);
  const examples = project.labExamples ?? [];
  const schema = Object.fromEntries(catalog.tables.map((t) => [t.name, t.columns.map((c) => c.name)]));
  const runButton = el('button', { class: 'primary', id: 'run' }, 'Run (Ctrl+Enter)');
  const cancelButton = el('button', { id: 'cancel', disabled: '' }, 'Cancel');
  const chartButton = el('button', { id: 'chart', disabled: '' }, 'Chart');
  const csvButton = el('button', { id: 'csv', disabled: '' }, 'Download CSV');
  const limit = el('select', { id: 'limit' }, ...['100', '1000', '10000'].map((v) => el('option', { value: v, ...(v === '1000' ? { selected: '' } : {}) }, `${v} rows`)));
  const message = el('div', { id: 'lab-message' });
  const results = el('div', { class: 'scroll', id: 'results' });
  const chartBox = el('div', { id: 'lab-chart', style: 'height: 320px; display: none; background: #fff; margin-top: 10px' });
  const history = el('ul', { class: 'history', id: 'lab-history' });
  const editorHost = el('div', { class: 'editor' });
  let current: LabResult | undefined;
  let runningId: string | undefined;

  const run = async () => {
    const text = editor.state.doc.toString();
    runningId = crypto.randomUUID();
    runButton.setAttribute('disabled', '');
    cancelButton.removeAttribute('disabled');
    message.replaceChildren(el('div', { class: 'message info' }, 'running…'));
    try {
      current = await postJson<LabResult>('/api/sql', { sql: text, limit: Number(limit.value), id: runningId });
      results.replaceChildren(dataTable(current.rows, current.columns.map((c) => c.name)));
      message.replaceChildren(el('div', { class: 'message info' }, `${current.rows.length} row(s)${current.truncated ? ` (first ${limit.value} shown)` : ''} in ${current.ms} ms`));
      chartButton.removeAttribute('disabled');
      csvButton.removeAttribute('disabled');
      const saved = [text, ...(JSON.parse(localStorage.getItem(HISTORY) ?? '[]') as string[]).filter((h) => h !== text)].slice(0, 30);
      localStorage.setItem(HISTORY, JSON.stringify(saved));
      showHistory();
    } catch (error) {
      // Refusals, a busy server (429) and a bad limit (400) alike: the server's message and hint.
      message.replaceChildren(errorMessage(error, 'lab-error'));
    } finally {
      runButton.removeAttribute('disabled');
      cancelButton.setAttribute('disabled', '');
      runningId = undefined;
    }
  };
  const editor = new EditorView({
    doc: examples[0]?.sql ?? 'SELECT 1',
    extensions: [
      keymap.of([{ key: 'Mod-Enter', run: () => (void run(), true) }]),
      basicSetup,
      sql({ dialect: StandardSQL, schema, upperCaseKeywords: true }),
    ],
    parent: editorHost,
  });
  const showHistory = () =>
    history.replaceChildren(
      ...(JSON.parse(localStorage.getItem(HISTORY) ?? '[]') as string[]).map((h) => {
        const item = el('li', { title: h }, h.replace(/\s+/g, ' '));
        item.addEventListener('click', () => load(h));
        return item;
      }),
    );
  const load = (text: string) => editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
  const exampleBar = el('div', { class: 'bar examples', id: 'lab-examples' });
  examples.forEach((example, i) => {
    const button = el('button', { 'data-example': String(i), title: example.sql, class: i === 0 ? 'active' : '' }, example.title);
    button.addEventListener('click', () => {
      load(example.sql);
      exampleBar.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b === button));
      editor.focus();
    });
    exampleBar.append(button);
  });
  if (examples.length) exampleBar.prepend(el('span', { class: 'muted' }, 'Examples'));
  runButton.addEventListener('click', () => void run());
  cancelButton.addEventListener('click', () => {
    if (!runningId) return;
    postJson(`/api/sql/${runningId}/cancel`, {}).catch((error: unknown) => message.replaceChildren(errorMessage(error, 'lab-error')));
  });
  chartButton.addEventListener('click', () => {
    if (!current?.rows.length) return;
    const [label, value] = current.columns.map((c) => c.name);
    chartBox.style.display = '';
    renderChart(chartBox, {
      tooltip: {},
      grid: { left: 120, right: 20, top: 10, bottom: 30 },
      xAxis: { type: 'value' },
      yAxis: { type: 'category', inverse: true, data: current.rows.map((r) => String(r[label!])) },
      series: [{ type: 'bar', data: current.rows.map((r) => Number(r[value ?? label!])), itemStyle: { color: '#1f6feb' } }],
    });
  });
  csvButton.addEventListener('click', () => {
    if (!current) return;
    const names = current.columns.map((c) => c.name);
    const cell = (v: unknown) => {
      const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const text = [names.join(','), ...current.rows.map((r) => names.map((n) => cell(r[n])).join(','))].join('\n');
    const link = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: 'result.csv' });
    link.click();
  });
  showHistory();
  main.replaceChildren(
    el('h1', {}, 'SQL lab'),
    el('p', { class: 'muted' }, 'Read-only SQL over the lake and serving tables. Writes and file reads are refused.'),
    el('div', { class: 'split lab' }, el('div', {}, el('h2', {}, 'History'), history), el('div', {}, exampleBar, editorHost, el('div', { class: 'bar', style: 'margin-top: 8px' }, runButton, cancelButton, limit, chartButton, csvButton), message, results, chartBox)),
  );
  return () => editor.destroy();
}
