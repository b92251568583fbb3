import * as echarts from 'echarts';
import { dataTable, el, formatNumber } from './api.js';

export interface TileView {
  id: string;
  kind: 'kpi' | 'timeseries' | 'bar' | 'treemap' | 'table' | 'pie' | 'funnel';
  columns: string[];
  rows: Record<string, unknown>[];
  error?: string;
}

const num = (v: unknown) => Number(v ?? 0);

/** ECharts options for a tile's rows, by the column conventions documented on Tile.kind. */
export function chartOption(tile: TileView): echarts.EChartsCoreOption {
  const [a, b, c] = tile.columns;
  switch (tile.kind) {
    case 'timeseries': {
      const hasSeries = tile.columns.length >= 3;
      const groups = new Map<string, [string, number][]>();
      for (const row of tile.rows) {
        const key = hasSeries ? String(row[b!]) : (b ?? 'value');
        const point: [string, number] = [String(row[a!]), num(row[hasSeries ? c! : b!])];
        groups.set(key, [...(groups.get(key) ?? []), point]);
      }
      return {
        animation: false,
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 50, right: 16, top: 30, bottom: 30 },
        xAxis: { type: 'time' },
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
    case 'treemap': {
      const parents = new Map<string, { name: string; value: number }[]>();
      for (const row of tile.rows) parents.set(String(row[a!]), [...(parents.get(String(row[a!])) ?? []), { name: String(row[b!]), value: num(row[c!]) }]);
      return {
        tooltip: {},
        series: [
          {
            type: 'treemap',
            roam: false,
            nodeClick: false,
            breadcrumb: { show: false },
            leafDepth: 2,
            levels: [{ itemStyle: { borderWidth: 2, gapWidth: 2 } }, { itemStyle: { gapWidth: 1 } }],
            data: [...parents].map(([name, children]) => ({ name, children })),
          },
        ],
      };
    }
    default:
      return {};
  }
}

/** A tile on screen; `update` re-renders in place (charts merge new data: no flicker). */
export class TileWidget {
  readonly node: HTMLElement;
  private body: HTMLElement;
  private chart: echarts.ECharts | undefined;

  constructor(
    readonly id: string,
    title: string,
    kind: TileView['kind'],
    width: number,
    private readonly format?: string,
  ) {
    this.body = el('div', { class: kind === 'kpi' ? 'kpi' : kind === 'table' ? 'scroll' : 'chart' });
    this.node = el('section', { class: `tile${kind === 'kpi' ? ' kpi-tile' : ''}`, 'data-tile': id, 'data-kind': kind, style: `grid-column: span ${width}` }, el('h3', {}, title), this.body);
  }

  update(tile: TileView): void {
    this.node.querySelector('.error')?.remove();
    if (tile.error) {
      this.node.append(el('div', { class: 'error' }, tile.error));
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
    this.chart.setOption(chartOption(tile), { notMerge: false, lazyUpdate: true });
    this.node.dataset.rows = String(tile.rows.length);
  }

  resize(): void {
    this.chart?.resize();
  }

  dispose(): void {
    this.chart?.dispose();
  }
}

export function renderChart(target: HTMLElement, option: echarts.EChartsCoreOption): echarts.ECharts {
  const chart = echarts.getInstanceByDom(target) ?? echarts.init(target);
  chart.setOption(option, { notMerge: true });
  return chart;
}
