import * as echarts from 'echarts';
import { dataTable, el, formatNumber } from './api.js';

export interface TileView {
  id: string;
  kind: 'kpi' | 'timeseries' | 'bar' | 'treemap' | 'table' | 'pie' | 'funnel' | 'heatmap';
  columns: string[];
  rows: Record<string, unknown>[];
  error?: string;
  /** The tile's table has not been written yet: who will write it. */
  pending?: string;
}

const num = (v: unknown) => Number(v ?? 0);
const INK = '#1d2433';

/** ECharts 6's default palette (tokens.color.theme), so treemap departments match the other tiles' colours. */
const PALETTE = ['#5070dd', '#b6d634', '#505372', '#ff994d', '#0ca8df', '#ffd10a', '#fb628b', '#785db0', '#3fbe95'];
/** Heatmap ramp, light to dark in the UI's accent blue. */
const HEAT = ['#eef4ff', '#9ec5fe', '#1f6feb', '#0b3d91'];

function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** `hex` moved towards `toward` by `share` (0 = unchanged, 1 = `toward`). */
function mix(hex: string, toward: string, share: number): string {
  const [from, to] = [rgb(hex), rgb(toward)];
  return `#${from.map((v, i) => Math.round(v + (to[i]! - v) * share).toString(16).padStart(2, '0')).join('')}`;
}

/** WCAG relative luminance. */
function luminance(hex: string): number {
  const [r, g, b] = rgb(hex).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** Text colour for a label on `background`: whichever of white and ink contrasts more (palette yellows need ink). */
function textOn(background: string): string {
  const l = luminance(background);
  return 1.05 / (l + 0.05) >= (l + 0.05) / (luminance(INK) + 0.05) ? '#fff' : INK;
}

/** A date-time at midnight reads as its date ('2019-11-04 00:00:00' → '2019-11-04'); anything else as is. */
function axisLabel(value: unknown): string {
  const text = String(value ?? '');
  const midnight = /^(\d{4}-\d{2}-\d{2})[T ]00:00(:00(\.0+)?)?(Z|[+-]00(:?00)?)?$/.exec(text);
  return midnight ? midnight[1]! : text;
}

/**
 * Axis categories in a stable order: numbers ascending (week 0, 1, 2 … whatever order rows came in),
 * anything else in the order the query returned it (its ORDER BY decides).
 */
function categories(values: unknown[]): string[] {
  const unique = [...new Set(values.map((v) => String(v ?? '')))];
  return unique.every((v) => v !== '' && Number.isFinite(Number(v))) ? unique.sort((x, y) => Number(x) - Number(y)) : unique;
}

function heatmapOption(tile: TileView, format?: string): echarts.EChartsCoreOption {
  const [xName, yName, valueName] = tile.columns as [string, string, string];
  const xs = categories(tile.rows.map((r) => r[xName]));
  const ys = categories(tile.rows.map((r) => r[yName]));
  const values = tile.rows.map((r) => (r[valueName] === null || r[valueName] === undefined ? Number.NaN : Number(r[valueName])));
  const finite = values.filter(Number.isFinite);
  const min = finite.length ? Math.min(...finite) : 0;
  const max = finite.length ? Math.max(...finite) : 1;
  const span = max > min ? max - min : 1;
  // Values in the cells when they can be read; the tooltip has them otherwise.
  const labelled = xs.length * ys.length <= 180;
  const data = tile.rows.flatMap((r, i) => {
    const value = values[i]!;
    if (!Number.isFinite(value)) return [];
    const shade = HEAT[Math.min(HEAT.length - 1, Math.floor(((value - min) / span) * (HEAT.length - 1) + 0.5))]!;
    return [{ value: [xs.indexOf(String(r[xName] ?? '')), ys.indexOf(String(r[yName] ?? '')), value], label: { color: textOn(shade) } }];
  });
  const valueOf = (params: unknown) => ((params as { value: [number, number, number] }).value);
  return {
    animation: false,
    tooltip: {
      formatter: (params: unknown) => {
        const [x, y, value] = valueOf(params);
        const line = (name: string, text: string) => `${echarts.format.encodeHTML(name)}: <b>${echarts.format.encodeHTML(text)}</b>`;
        return [line(xName, axisLabel(xs[x])), line(yName, axisLabel(ys[y])), line(valueName, formatNumber(value, format))].join('<br>');
      },
    },
    grid: { left: 8, right: 12, top: 8, bottom: 78 },
    xAxis: { type: 'category', data: xs.map(axisLabel), name: xName, nameLocation: 'middle', nameGap: 26, splitArea: { show: true }, axisLabel: { hideOverlap: true } },
    yAxis: { type: 'category', data: ys.map(axisLabel), name: yName, nameLocation: 'middle', nameRotate: 90, inverse: true, splitArea: { show: true } },
    visualMap: {
      type: 'continuous',
      min,
      max,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 160,
      itemWidth: 12,
      calculable: false,
      // The ends of the scale, low on the left: text[0] is drawn at the high end.
      text: [formatNumber(max, format), formatNumber(min, format)],
      formatter: (value: number) => formatNumber(value, format),
      inRange: { color: HEAT },
    },
    series: [
      {
        type: 'heatmap',
        data,
        label: { show: labelled, fontSize: 10, formatter: (params: unknown) => formatNumber(valueOf(params)[2], format) },
        itemStyle: { borderColor: '#fff', borderWidth: 1 },
        emphasis: { itemStyle: { borderColor: INK, borderWidth: 1 } },
      },
    ],
  };
}

function treemapOption(tile: TileView, format?: string): echarts.EChartsCoreOption {
  const [parentName, childName, valueName] = tile.columns as [string, string, string];
  const parents = new Map<string, { name: string; value: number }[]>();
  for (const row of tile.rows) {
    const parent = String(row[parentName]);
    parents.set(parent, parents.get(parent) ?? []).get(parent)!.push({ name: String(row[childName]), value: num(row[valueName]) });
  }
  const amount = (params: unknown) => formatNumber((params as { value: unknown }).value, format);
  return {
    tooltip: {
      formatter: (params: unknown) => {
        const { treePathInfo } = params as { treePathInfo: { name: string }[] };
        const path = treePathInfo.slice(1).map((p) => echarts.format.encodeHTML(p.name)).join(' › ');
        return `${path}<br>${echarts.format.encodeHTML(valueName)}: <b>${amount(params)}</b>`;
      },
    },
    series: [
      {
        type: 'treemap',
        roam: false,
        nodeClick: false,
        breadcrumb: { show: false },
        leafDepth: 2,
        top: 0,
        left: 0,
        right: 0,
        bottom: 0,
        // levels[0] is the root (gaps between departments), [1] the departments (their name in a band
        // along the top), [2] the children (name and amount, cut to the box; hidden when too small).
        levels: [
          { itemStyle: { borderWidth: 0, gapWidth: 3 } },
          { upperLabel: { show: true, height: 20, fontWeight: 600, fontSize: 12, formatter: (p: unknown) => `${(p as { name: string }).name}  ${amount(p)}` }, itemStyle: { borderWidth: 2, gapWidth: 1 } },
          { label: { show: true, position: 'insideTopLeft', fontSize: 11, lineHeight: 14, overflow: 'truncate', formatter: (p: unknown) => `${(p as { name: string }).name}
${amount(p)}` }, itemStyle: { borderWidth: 0 } },
        ],
        data: [...parents].map(([name, children], i) => {
          const colour = PALETTE[i % PALETTE.length]!;
          return {
            name,
            // The band the department's name sits in is its border: it takes the department's colour.
            itemStyle: { color: colour, borderColor: colour },
            upperLabel: { color: textOn(colour) },
            children: children
              .sort((x, y) => y.value - x.value)
              .map((child, j) => {
                const shade = mix(colour, '#ffffff', [0, 0.18, 0.32][j % 3]!);
                return { ...child, itemStyle: { color: shade }, label: { color: textOn(shade) } };
              }),
          };
        }),
      },
    ],
  };
}

/** How often a live window's time axis moves with the clock when no commit redraws it. */
const WINDOW_TICK_MS = 5_000;

/** The time axis of a live window: the last `minutes` up to `now`, times read as UTC. */
function windowAxis(minutes: number, now: number): { useUTC: true; xAxis: { type: 'time'; min: number; max: number } } {
  return { useUTC: true, xAxis: { type: 'time', min: now - minutes * 60_000, max: now } };
}

/** ECharts options for a tile's rows, by the column conventions documented on Tile.kind. */
export function chartOption(tile: TileView, format?: string, window?: number): echarts.EChartsCoreOption {
  const [a, b, c] = tile.columns;
  switch (tile.kind) {
    case 'timeseries': {
      const hasSeries = tile.columns.length >= 3;
      const groups = new Map<string, [string, number][]>();
      for (const row of tile.rows) {
        const key = hasSeries ? String(row[b!]) : (b ?? 'value');
        const point: [string, number] = [String(row[a!]), num(row[hasSeries ? c! : b!])];
        groups.set(key, groups.get(key) ?? []).get(key)!.push(point);
      }
      return {
        animation: false,
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 50, right: 16, top: 30, bottom: 30 },
        // Without a window the axis spans the rows: one stray old minute would squeeze the live ones into a corner.
        ...(window ? windowAxis(window, Date.now()) : { xAxis: { type: 'time' } }),
        yAxis: { type: 'value' },
        // A new stream has one or two minutes: show the points until there are enough to draw lines.
        series: [...groups].map(([name, data]) => ({ name, type: 'line', showSymbol: data.length < 30, data: data.sort((x, y) => (x[0] < y[0] ? -1 : 1)) })),
      };
    }
    case 'bar':
      return {
        tooltip: {},
        grid: { left: 110, right: 20, top: 10, bottom: 24 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', inverse: true, data: tile.rows.map((r) => String(r[a!])) },
        series: [{ type: 'bar', data: tile.rows.map((r) => num(r[b!])), itemStyle: { color: '#1f6feb' } }],
      };
    case 'pie':
      return {
        tooltip: { trigger: 'item' },
        series: [{ type: 'pie', radius: ['35%', '70%'], data: tile.rows.map((r) => ({ name: String(r[a!]), value: num(r[b!]) })) }],
      };
    case 'funnel':
      return {
        tooltip: { trigger: 'item' },
        series: [{ type: 'funnel', sort: 'none', label: { formatter: '{b}: {c}' }, data: tile.rows.map((r) => ({ name: String(r[a!]), value: num(r[b!]) })) }],
      };
    case 'treemap':
      return treemapOption(tile, format);
    case 'heatmap':
      return heatmapOption(tile, format);
    default:
      return {};
  }
}

/** A tile on screen; `update` re-renders in place (charts merge new data: no flicker). */
export class TileWidget {
  readonly node: HTMLElement;
  private body: HTMLElement;
  private chart: echarts.ECharts | undefined;
  private clock: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly id: string,
    title: string,
    kind: TileView['kind'],
    width: number,
    private readonly format?: string,
    private readonly window?: number,
  ) {
    this.body = el('div', { class: kind === 'kpi' ? 'kpi' : kind === 'table' ? 'scroll' : 'chart' });
    this.node = el('section', { class: `tile${kind === 'kpi' ? ' kpi-tile' : ''}`, 'data-tile': id, 'data-kind': kind, style: `grid-column: span ${width}` }, el('h3', {}, title), this.body);
  }

  update(tile: TileView): void {
    this.node.querySelector('.error, .pending')?.remove();
    if (tile.error || tile.pending) {
      this.node.append(el('div', { class: tile.error ? 'error' : 'pending' }, (tile.error ?? tile.pending)!));
      return;
    }
    if (tile.kind === 'kpi') {
      const row = tile.rows[0] ?? {};
      const value = 'value' in row ? row.value : Object.values(row)[0];
      this.body.textContent = formatNumber(value ?? 0, this.format);
      this.body.dataset.value = String(value ?? 0);
      return;
    }
    if (tile.kind === 'table') {
      this.body.replaceChildren(dataTable(tile.rows, tile.columns));
      return;
    }
    this.chart ??= echarts.init(this.body, undefined, { renderer: 'canvas' });
    this.chart.setOption(chartOption(tile, this.format, this.window), { notMerge: false, lazyUpdate: true });
    this.node.dataset.rows = String(tile.rows.length);
    // A quiet stream pushes nothing: the window still has to move with the clock.
    if (this.window && !this.clock) {
      const minutes = this.window;
      this.clock = setInterval(() => this.chart?.setOption(windowAxis(minutes, Date.now()), { lazyUpdate: true }), WINDOW_TICK_MS);
    }
  }

  resize(): void {
    this.chart?.resize();
  }

  dispose(): void {
    clearInterval(this.clock);
    this.chart?.dispose();
  }
}

export function renderChart(target: HTMLElement, option: echarts.EChartsCoreOption): echarts.ECharts {
  const chart = echarts.getInstanceByDom(target) ?? echarts.init(target);
  chart.setOption(option, { notMerge: true });
  return chart;
}
