/**
 * Stable hooks for tests:
 * - `.list a` one link per table; `#lineage` the lineage graph
 * - `#columns` the selected table's columns: `tr[data-column="<name>"]` with cells name, type, description,
 *   derived from (`a[data-upstream="<table>.<column>"]` per upstream column), how (copy, transform, unknown)
 * - `#quarantine` quarantined rows (columns model, source, file, line, record, column, reason, raw: `line`
 *   for inputs with lines, `record` for JSON documents and Parquet)
 * - `#dead-letter-origins` `button[data-origin="<origin>"][data-count]` dead letters per origin (click: show only those)
 * - `#dead-letters` dead letters (columns origin, partition, offset, reason, raw, received)
 */
import { dataTable, el, getJson } from '../api.js';
import { renderChart } from '../charts.js';

interface CatalogTable {
  name: string;
  kind: string;
  rows: number | null;
  files: number;
  partition_by: string[];
  /** `description`, `derived_from` and `how` are a model's (see tributary ls --columns). */
  columns: { name: string; type: string; description?: string | null; derived_from?: string[]; how?: string | null }[];
}

interface QuarantineRow {
  model: string;
  source: string;
  file: string | null;
  line: number | null;
  record: number | null;
  column_name: string | null;
  reason: string;
  raw: string | null;
}

interface DeadLetter {
  origin: string;
  partition: number | null;
  offset: number | null;
  reason: string;
  raw: string | null;
  received_at: string;
}

interface Quality {
  quarantine: QuarantineRow[];
  deadLetters: DeadLetter[];
  counts: { quarantined: number | string; dead_letters: number | string; byOrigin?: Record<string, number> };
}

/** A table's columns; for a model's, where each comes from, each upstream column a link to its table. */
function columnsTable(columns: CatalogTable['columns']): HTMLTableElement {
  const names = ['name', 'type', 'description', 'derived from', 'how'];
  const upstream = (from: string) => {
    const table = from.slice(0, from.lastIndexOf('.'));
    // A source is no table of the catalog: it has no page to link to.
    return table.startsWith('source:') ? el('span', { 'data-upstream': from }, from) : el('a', { href: `/catalog/${table}`, 'data-upstream': from }, from);
  };
  const rows = columns.map((c) => {
    const from = el('td', {});
    (c.derived_from ?? []).forEach((f, i) => from.append(...(i ? [', '] : []), upstream(f)));
    return el('tr', { 'data-column': c.name }, el('td', {}, c.name), el('td', {}, c.type), el('td', {}, c.description ?? ''), from, el('td', {}, c.how ?? ''));
  });
  return el('table', { class: 'data' }, el('thead', {}, el('tr', {}, ...names.map((n) => el('th', {}, n)))), el('tbody', {}, ...rows));
}

/** Dead letters per origin ('job:…', 'collector:…'), as buttons that filter the list below them. */
function deadLetterSection(quality: Quality): HTMLElement[] {
  const table = el('div', { class: 'scroll', id: 'dead-letters' });
  const origins = el('div', { class: 'bar', id: 'dead-letter-origins' });
  let only: string | undefined;
  const show = () =>
    table.replaceChildren(
      dataTable(
        quality.deadLetters
          .filter((d) => only === undefined || d.origin === only)
          .map((d) => ({ origin: d.origin, partition: d.partition, offset: d.offset, reason: d.reason, raw: d.raw, received: d.received_at.slice(0, 19) })),
        ['origin', 'partition', 'offset', 'reason', 'raw', 'received'],
      ),
    );
  for (const [origin, count] of Object.entries(quality.counts.byOrigin ?? {})) {
    const button = el('button', { 'data-origin': origin, 'data-count': String(count) }, `${origin} · ${count.toLocaleString('en-US')}`);
    button.addEventListener('click', () => {
      only = only === origin ? undefined : origin;
      origins.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b.dataset.origin === only));
      show();
    });
    origins.append(button);
  }
  show();
  return [el('h2', {}, `Dead letters (${quality.counts.dead_letters})`), ...(origins.childElementCount ? [origins] : []), table];
}

/** Tables, columns, partitions, the lineage graph, and rows that were not loaded, with reasons. */
export async function catalogPage(main: HTMLElement, selected?: string): Promise<() => void> {
  const { tables, lineage } = await getJson<{ tables: CatalogTable[]; lineage: { model: string; upstream: string; upstream_kind: string }[] }>('/api/catalog');
  const quality = await getJson<Quality>('/api/quality');
  const list = el('div', { class: 'list' }, ...tables.map((t) => el('a', { href: `/catalog/${t.name}`, class: t.name === selected ? 'active' : '' }, `${t.name} `, el('span', { class: 'muted' }, t.kind))));
  const detail = el('div', {});
  const table = tables.find((t) => t.name === selected) ?? tables[0];
  if (table) {
    detail.append(el('h2', {}, `${table.name} (${table.kind})`), el('p', { class: 'muted' }, `${table.rows ?? '—'} rows · ${table.files} file(s)${table.partition_by.length ? ` · partitioned by ${table.partition_by.join(', ')}` : ''}`));
    detail.append(el('div', { class: 'scroll', id: 'columns' }, columnsTable(table.columns)));
    if (table.partition_by.length) {
      const info = await getJson<{ partitions: { partition: Record<string, string>; files: number; rows: number; bytes: number }[] }>(`/api/catalog/${table.name}`);
      detail.append(
        el('h2', {}, 'Partitions'),
        el('div', { class: 'scroll' }, dataTable(info.partitions.map((p) => ({ partition: Object.entries(p.partition).map(([k, v]) => `${k}=${v}`).join('/'), files: p.files, rows: p.rows, bytes: p.bytes })))),
      );
    }
  }
  const graph = el('div', { id: 'lineage', style: 'height: 360px; background: #fff; border: 1px solid #e3e6ec; border-radius: 8px' });
  main.replaceChildren(
    el('h1', {}, 'Catalog'),
    el('div', { class: 'split' }, list, detail),
    el('h2', {}, 'Lineage'),
    graph,
    el('h2', {}, `Quarantined rows (${quality.counts.quarantined})`),
    el(
      'div',
      { class: 'scroll', id: 'quarantine' },
      dataTable(
        quality.quarantine.map((q) => ({ model: q.model, source: q.source, file: q.file, line: q.line, record: q.record, column: q.column_name, reason: q.reason, raw: q.raw })),
        ['model', 'source', 'file', 'line', 'record', 'column', 'reason', 'raw'],
      ),
    ),
    ...deadLetterSection(quality),
  );
  const nodes = new Map<string, string>();
  for (const l of lineage) {
    nodes.set(l.model, nodes.get(l.model) ?? 'model');
    nodes.set(l.upstream, l.upstream_kind === 'source' ? 'source' : nodes.get(l.upstream) ?? 'model');
  }
  const chart = renderChart(graph, {
    tooltip: {},
    legend: [{ data: ['source', 'model'] }],
    series: [
      {
        type: 'graph',
        layout: 'force',
        force: { repulsion: 260, edgeLength: 110 },
        roam: true,
        label: { show: true, position: 'right' },
        edgeSymbol: ['none', 'arrow'],
        categories: [{ name: 'source' }, { name: 'model' }],
        data: [...nodes].map(([name, kind]) => ({ name, category: kind === 'source' ? 0 : 1, symbolSize: kind === 'source' ? 22 : 16 })),
        links: lineage.map((l) => ({ source: l.upstream, target: l.model })),
      },
    ],
  });
  return () => chart.dispose();
}
