/**
 * Stable hooks for tests:
 * - `#live-status` ('live', 'reconnecting…', 'paused'), `#updated`, `#refresh`, `#pause` (text 'Pause' or 'Resume')
 * - `[data-filter="<id>"]` one input per filter; `.tabs button` one per tab; `.grid[data-tab="<index>"]` its tiles
 * - `[data-tile="<id>"][data-kind][data-rows]` one per tile: `.kpi[data-value]` (raw value), `canvas` (charts),
 *   `tbody tr` (tables), `.error` (the query failed), `.pending` (its table is not written yet, and by what)
 */
import { ApiError, el, getJson } from '../api.js';
import { TileWidget, type TileView } from '../charts.js';

interface DashboardSpec {
  name: string;
  title: string;
  description?: string;
  filters: { id: string; label: string; kind: 'date' | 'select' }[];
  options: Record<string, string[]>;
  tabs: { title: string; tiles: { id: string; title: string; kind: TileView['kind']; width: number; format?: string; window?: number }[] }[];
}

/** Tiles as the server computed them; `seq` orders snapshots. */
interface Snapshot {
  tiles: TileView[];
  at: string;
  seq: number;
}

/**
 * A dashboard: filters, tabs of tiles, live updates pushed by the server (Server-Sent Events),
 * a manual refresh and a pause button. Tiles update in place.
 */
export async function dashboardPage(main: HTMLElement, name: string): Promise<() => void> {
  const spec = await getJson<DashboardSpec>(`/api/dashboards/${encodeURIComponent(name)}`);
  const widgets = new Map<string, TileWidget>();
  const filterValues: Record<string, string> = {};
  const status = el('span', { class: 'status', id: 'live-status' }, el('span', { class: 'dot' }), 'connecting…');
  const updated = el('span', { class: 'status', id: 'updated' });
  let source: EventSource | undefined;
  let paused = false;
  // Per tile, the newest snapshot shown: a reply overtaken by a push must not roll a tile back.
  const shownSeq = new Map<string, number>();

  const query = () => new URLSearchParams(Object.entries(filterValues).filter(([, v]) => v)).toString();
  const apply = ({ tiles, at, seq }: Snapshot) => {
    for (const tile of tiles) {
      if ((shownSeq.get(tile.id) ?? -1) > seq) continue;
      shownSeq.set(tile.id, seq);
      widgets.get(tile.id)?.update(tile);
    }
    updated.textContent = `updated ${new Date(at).toLocaleTimeString()}`;
  };
  const refresh = async () => apply(await getJson<Snapshot>(`/api/dashboards/${encodeURIComponent(name)}/tiles?${query()}`));
  const connect = () => {
    source?.close();
    source = new EventSource(`/api/dashboards/${encodeURIComponent(name)}/live?${query()}`);
    source.addEventListener('ready', () => {
      status.className = 'status';
      status.lastChild!.textContent = 'live';
    });
    source.addEventListener('tiles', (event) => apply(JSON.parse((event as MessageEvent<string>).data) as Snapshot));
    source.onerror = () => {
      status.lastChild!.textContent = 'reconnecting…';
    };
  };

  const filters = el('div', { class: 'bar' });
  for (const f of spec.filters) {
    const input =
      f.kind === 'date'
        ? el('input', { type: 'date', 'data-filter': f.id })
        : el('select', { 'data-filter': f.id }, el('option', { value: '' }, 'All'), ...(spec.options[f.id] ?? []).map((o) => el('option', { value: o }, o)));
    input.addEventListener('change', () => {
      filterValues[f.id] = (input as HTMLInputElement).value;
      if (paused) void refresh();
      else connect();
    });
    filters.append(el('label', {}, f.label, input));
  }
  const refreshButton = el('button', { id: 'refresh' }, 'Refresh');
  refreshButton.addEventListener('click', () => void refresh());
  const pauseButton = el('button', { id: 'pause' }, 'Pause');
  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    status.className = paused ? 'status paused' : 'status';
    status.lastChild!.textContent = paused ? 'paused' : 'live';
    if (paused) source?.close();
    else connect();
  });
  filters.append(refreshButton, pauseButton, status, updated);

  const tabs = el('div', { class: 'tabs' });
  const panes: HTMLElement[] = [];
  spec.tabs.forEach((tab, i) => {
    const grid = el('div', { class: 'grid', 'data-tab': String(i) });
    for (const tile of tab.tiles) {
      const widget = new TileWidget(tile.id, tile.title, tile.kind, tile.width, tile.format, tile.window);
      widgets.set(tile.id, widget);
      grid.append(widget.node);
    }
    grid.style.display = i === 0 ? '' : 'none';
    panes.push(grid);
    const button = el('button', { class: i === 0 ? 'active' : '' }, tab.title);
    button.addEventListener('click', () => {
      panes.forEach((p, j) => (p.style.display = j === i ? '' : 'none'));
      tabs.querySelectorAll('button').forEach((b, j) => b.classList.toggle('active', j === i));
      for (const w of widgets.values()) w.resize();
    });
    tabs.append(button);
  });

  main.replaceChildren(el('h1', {}, spec.title), ...(spec.description ? [el('p', { class: 'muted' }, spec.description)] : []), filters, tabs, ...panes);
  // The first paint comes from a request (errors show), later ones from the live stream, which
  // opens with its own snapshot so nothing committed in between is missed.
  try {
    await refresh();
  } catch (error) {
    main.prepend(el('div', { class: 'message error' }, (error as ApiError).message));
  }
  connect();
  const onResize = () => widgets.forEach((w) => w.resize());
  window.addEventListener('resize', onResize);
  return () => {
    source?.close();
    window.removeEventListener('resize', onResize);
    widgets.forEach((w) => w.dispose());
  };
}
