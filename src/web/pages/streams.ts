/**
 * Stable hooks for tests:
 * - `#jobs` stream job cards: `.card[data-job="<name>"]`, `[data-phases]` where the last batch's time went
 * - `#runs` the batch runs table
 */
import { dataTable, el, getJson } from '../api.js';
import { renderChart } from '../charts.js';

interface JobStatus {
  job: string;
  input: string;
  state: string;
  lag: number;
  eventsPerSecond: number;
  events: number;
  deadLetters: number;
  late: number;
  latencyMs: { p50: number | null; p99: number | null };
  lastBatch: { events: number; ms: number; at: string; durationMs: { read: number; stage: number; load: number; sinks: Record<string, number>; commit: number } } | null;
  error: string | null;
}

/** Where a batch's time went, in the order it is spent. */
function phases(d: NonNullable<JobStatus['lastBatch']>['durationMs']): string {
  return [`read ${d.read}`, `stage ${d.stage}`, `load ${d.load}`, ...Object.entries(d.sinks).map(([sink, ms]) => `${sink.replace(/^__/, '')} ${ms}`), `commit ${d.commit}`].join(' · ') + ' ms';
}

/** Per stream job: state, lag, rate and latency (charted over time); batch runs with their counts. */
export async function streamsPage(main: HTMLElement): Promise<() => void> {
  const cards = el('div', { class: 'cards', id: 'jobs' });
  const rateChart = el('div', { style: 'height: 260px; background: #fff; border: 1px solid #e3e6ec; border-radius: 8px' });
  const latencyChart = el('div', { style: 'height: 260px; background: #fff; border: 1px solid #e3e6ec; border-radius: 8px' });
  const runs = el('div', { class: 'scroll', id: 'runs' });
  main.replaceChildren(
    el('h1', {}, 'Streams & runs'),
    cards,
    el('div', { class: 'grid', style: 'margin-top: 12px' }, el('div', { style: 'grid-column: span 6' }, el('h2', {}, 'Events per second'), rateChart), el('div', { style: 'grid-column: span 6' }, el('h2', {}, 'Event-to-commit latency (ms)'), latencyChart)),
    el('h2', {}, 'Batch runs'),
    runs,
  );
  const history = new Map<string, { t: number; rate: number; p50: number | null; p99: number | null }[]>();
  const tick = async () => {
    const { jobs } = await getJson<{ jobs: JobStatus[] }>('/v1/status');
    cards.replaceChildren(
      ...jobs.map((j) =>
        el(
          'div',
          { class: 'card', 'data-job': j.job },
          el('strong', {}, j.job),
          el('div', { class: 'muted' }, `${j.input} · ${j.state}`),
          el('div', { class: 'num' }, `${j.eventsPerSecond.toLocaleString('en-US')} ev/s`),
          el('div', {}, `lag ${j.lag.toLocaleString('en-US')} · ${j.events.toLocaleString('en-US')} events`),
          el('div', {}, `p50 ${j.latencyMs.p50 ?? '—'} ms · p99 ${j.latencyMs.p99 ?? '—'} ms`),
          el('div', {}, `dead letters ${j.deadLetters} · late ${j.late}`),
          ...(j.lastBatch ? [el('div', { class: 'muted', 'data-phases': '' }, `last batch ${j.lastBatch.events.toLocaleString('en-US')} events: ${phases(j.lastBatch.durationMs)}`)] : []),
          ...(j.error ? [el('div', { class: 'message error' }, j.error)] : []),
        ),
      ),
    );
    const now = Date.now();
    for (const j of jobs) history.set(j.job, [...(history.get(j.job) ?? []), { t: now, rate: j.eventsPerSecond, p50: j.latencyMs.p50, p99: j.latencyMs.p99 }].slice(-180));
    const series = (pick: (p: { rate: number; p50: number | null; p99: number | null }) => number | null, suffix = '') =>
      [...history].map(([job, points]) => ({ name: `${job}${suffix}`, type: 'line', showSymbol: false, data: points.map((p) => [p.t, pick(p)]) }));
    const base = { animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 50, right: 16, top: 30, bottom: 30 }, xAxis: { type: 'time' }, yAxis: { type: 'value' } };
    renderChart(rateChart, { ...base, series: series((p) => p.rate) });
    renderChart(latencyChart, { ...base, series: [...series((p) => p.p50, ' p50'), ...series((p) => p.p99, ' p99')] });
  };
  const loadRuns = async () => {
    const { runs: list } = await getJson<{ runs: Record<string, unknown>[] }>('/api/runs');
    runs.replaceChildren(dataTable(list.map((r) => ({ model: r.model, status: r.status, read: r.read ?? '', written: r.written, quarantined: r.quarantined, started: String(r.started_at).slice(0, 19), error: r.error ?? '' }))));
  };
  await Promise.all([tick(), loadRuns()]);
  const timer = setInterval(() => void tick(), 1000);
  return () => clearInterval(timer);
}
