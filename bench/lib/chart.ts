import * as echarts from 'echarts';

export interface BarSeries {
  name: string;
  unit: string;
  values: (number | null)[];
  /** A horizontal line across the panel, such as a goal. */
  line?: { value: number; label: string };
}

/**
 * A grouped bar chart rendered to SVG on the server (echarts SSR): one panel per series, so
 * seconds and megabytes each get their own axis.
 */
export function barChartSvg(options: { title: string; subtitle?: string; categories: string[]; series: BarSeries[]; width?: number }): string {
  const width = options.width ?? 900;
  const panelHeight = 260;
  const top = 70;
  const height = top + options.series.length * panelHeight + 20;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  const colors = ['#3b6ea8', '#d9822b', '#5a9e6f', '#9b59b6', '#c0392b'];
  chart.setOption({
    animation: false,
    backgroundColor: '#ffffff',
    title: { text: options.title, subtext: options.subtitle, left: 'center', textStyle: { fontSize: 16 } },
    grid: options.series.map((_, i) => ({ left: 90, right: 40, top: top + i * panelHeight + 30, height: panelHeight - 80 })),
    // Every category named, wrapped to its slot: echarts otherwise drops labels that would overlap,
    // and a bar without its name cannot be read.
    xAxis: options.series.map((_, i) => ({
      type: 'category',
      gridIndex: i,
      data: options.categories,
      axisLabel: { fontSize: 12, interval: 0, width: Math.floor((width - 130) / Math.max(1, options.categories.length)) - 8, overflow: 'break' },
    })),
    yAxis: options.series.map((s, i) => ({
      type: 'value',
      gridIndex: i,
      name: `${s.name} (${s.unit})`,
      nameLocation: 'middle',
      nameGap: 60,
      // Bars far below a line would otherwise leave it off the axis; the top is printed as a tick, so it is a round number.
      max: s.line ? (extent: { max: number }) => roundUp(Math.max(extent.max, s.line!.value) * 1.1) : undefined,
    })),
    series: options.series.map((s, i) => ({
      type: 'bar',
      name: s.name,
      xAxisIndex: i,
      yAxisIndex: i,
      barMaxWidth: 60,
      itemStyle: { color: colors[i % colors.length] },
      label: { show: true, position: 'top', formatter: (p: { value: number | null }) => (p.value === null ? 'n/a' : formatNumber(p.value)) },
      data: s.values,
      markLine: s.line
        ? { symbol: 'none', silent: true, lineStyle: { color: '#c0392b', type: 'dashed' }, label: { formatter: s.line.label, position: 'insideEndTop' }, data: [{ yAxis: s.line.value }] }
        : undefined,
    })),
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

/**
 * A round number at or above `value`, on the steps the axis's ticks take (696,214 → 700,000;
 * 330 → 350): a top off those steps is printed crowding the tick below it.
 */
function roundUp(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = value / magnitude >= 5 ? magnitude : magnitude / 2;
  return Math.ceil(value / step) * step;
}

function formatNumber(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
