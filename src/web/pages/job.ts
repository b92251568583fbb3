/**
 * One job: its DAG coloured by a run's task states, Airflow's grid (runs × tasks), a side panel with
 * a task instance's attempts and log, and the operations (trigger, pause, clear, mark). Live: the
 * scheduler's events update the grid, the graph and an open panel in place.
 *
 * Stable hooks for tests:
 * - `#jobs-live` live status; `#job-message` outcome of the last operation (`.message.info` or `#job-error`)
 * - `#job-paused` (data-paused), `#job-schedule`, `#job-next-run`
 * - `#trigger-date` (optional date), `#trigger`, `#job-pause` (text 'Pause' or 'Unpause')
 * - `#dag` the graph (SVG); `#graph-run` (data-run) names the run it is coloured by;
 *   `g.dag-node[data-dag-task="<task>"][data-state]` one box per task (click: open the panel);
 *   `path.dag-edge[data-from][data-to]` one arrow per dependency
 * - `#grid`: `th.run[data-run][data-ds][data-state][data-kind]` one column per run, oldest left
 *   (click: colour the graph by it; `.selected` marks it); `tr[data-task]` one row per task;
 *   `button.ti[data-run][data-task][data-state][data-attempt]` one cell (click: open the panel)
 * - `#state-legend` `[data-state]` swatches
 * - `#task-panel[data-run][data-task]` (hidden until a cell is clicked): `#panel-close`, `#panel-state .pill[data-state]`,
 *   `#attempts tr[data-attempt]` (cells `[data-field="attempt|state|started|ended|duration|error"]`),
 *   `#task-log` (the log), `#clear-task`, `#clear-downstream` (checkbox), `#mark-success`, `#mark-failed`,
 *   `#panel-message` (outcome, or `#panel-error`)
 */
import { ApiError, el, errorMessage, getJson, postJson } from '../api.js';
import {
  applyEvent,
  formatDuration,
  formatInstant,
  joinLog,
  layoutDag,
  logLine,
  newestFirst,
  TASK_STATES,
  tasksInGraphOrder,
  type JobSummary,
  type RunView,
  type SchedulerEvent,
  type TaskDetail,
  type TaskInstanceView,
} from '../jobs.js';
import { followScheduler, jobUrl, liveStatus, setPaused, statePill, triggeredText, triggerJob } from './jobs.js';

/** Runs in the grid, as Airflow's default. */
const RUNS_SHOWN = 25;
const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

/** How long a run took, or has taken so far: the height of its bar in the grid. */
function runDurationMs(run: RunView): number {
  if (!run.startedAt) return 0;
  const end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
  return Math.max(0, end - Date.parse(run.startedAt));
}

function eventJob(event: SchedulerEvent): string {
  return event.type === 'run' ? event.run.job : event.job;
}

export async function jobPage(main: HTMLElement, name: string): Promise<() => void> {
  const found = (await getJson<{ jobs: JobSummary[] }>('/api/jobs')).jobs.find((j) => j.name === name);
  if (!found) {
    main.replaceChildren(el('h1', {}, name), el('div', { class: 'message error', id: 'job-error' }, `no job named '${name}'`), el('a', { href: '/jobs' }, '← all jobs'));
    return () => undefined;
  }
  let job: JobSummary = found;
  const tasks = tasksInGraphOrder(job.tasks);
  const kindOf = new Map(job.tasks.map((t) => [t.name, t.kind]));
  let runs: RunView[] = [];
  let selectedRunId: string | undefined;

  // ── header and operations ──────────────────────────────────────────────────────────────
  const status = liveStatus();
  const message = el('div', { id: 'job-message' });
  const pausedBadge = el('span', { id: 'job-paused' });
  const schedule = el('code', { id: 'job-schedule' });
  const nextRun = el('span', { id: 'job-next-run' });
  const triggerDate = el('input', { type: 'date', id: 'trigger-date', title: 'data interval date (ds); empty: the latest interval' });
  const triggerButton = el('button', { class: 'primary', id: 'trigger' }, 'Trigger');
  const pauseButton = el('button', { id: 'job-pause' });
  const showJob = () => {
    pausedBadge.dataset.paused = String(job.paused);
    pausedBadge.replaceChildren(...(job.paused ? [statePill('paused')] : []));
    schedule.textContent = job.schedule;
    nextRun.textContent = job.nextRunAt ? formatInstant(job.nextRunAt, job.timezone) : '—';
    nextRun.title = job.nextRunAt ?? '';
    pauseButton.textContent = job.paused ? 'Unpause' : 'Pause';
  };
  const act = async (target: HTMLElement, errorId: string, action: () => Promise<string>) => {
    try {
      target.replaceChildren(el('div', { class: 'message info' }, await action()));
    } catch (error) {
      target.replaceChildren(errorMessage(error, errorId));
    }
  };
  triggerButton.addEventListener('click', () =>
    void act(message, 'job-error', async () => {
      const reply = await triggerJob(name, triggerDate.value || undefined);
      // The run's event will come too; showing the reply at once keeps the click visibly answered.
      const { run } = reply;
      runs = applyEvent(runs, { type: 'run', run }, tasks, RUNS_SHOWN);
      if (run.tasks) runs = runs.map((r) => (r.id === run.id && run.tasks ? { ...r, tasks: run.tasks } : r));
      selectedRunId = run.id;
      render();
      return triggeredText(name, reply);
    }),
  );
  pauseButton.addEventListener('click', () =>
    void act(message, 'job-error', async () => {
      job = { ...job, paused: (await setPaused(name, !job.paused)).paused };
      showJob();
      void reloadJob();
      return job.paused ? 'paused: no new scheduled runs until unpaused' : 'unpaused';
    }),
  );

  // ── the graph ──────────────────────────────────────────────────────────────────────────
  const layout = layoutDag(job.tasks);
  const boxWidth = Math.max(150, 7.5 * Math.max(...job.tasks.map((t) => t.name.length)) + 28);
  const [boxHeight, gapX, gapY, pad] = [46, 64, 18, 14];
  const position = new Map(layout.nodes.map((n) => [n.task.name, { x: pad + n.depth * (boxWidth + gapX), y: pad + n.row * (boxHeight + gapY) }]));
  const graphRun = el('span', { id: 'graph-run', class: 'muted' });
  const graph = svg('svg', {
    width: pad * 2 + layout.columns * boxWidth + (layout.columns - 1) * gapX,
    height: pad * 2 + layout.rows * boxHeight + (layout.rows - 1) * gapY,
    role: 'img',
    'aria-label': `tasks of ${name} and their dependencies`,
  });
  graph.append(
    svg('defs', {}, svg('marker', { id: 'dag-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a93a6' }))),
  );
  for (const edge of layout.edges) {
    const from = position.get(edge.from)!;
    const to = position.get(edge.to)!;
    const [x1, y1, x2, y2] = [from.x + boxWidth, from.y + boxHeight / 2, to.x - 2, to.y + boxHeight / 2];
    const bend = (x2 - x1) / 2;
    graph.append(svg('path', { class: 'dag-edge', 'data-from': edge.from, 'data-to': edge.to, d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`, 'marker-end': 'url(#dag-arrow)' }));
  }
  const nodes = new Map<string, { group: SVGGElement; detail: SVGTextElement; tip: SVGTitleElement }>();
  for (const node of layout.nodes) {
    const { x, y } = position.get(node.task.name)!;
    const detail = svg('text', { x: 12, y: 34, class: 'dag-detail' });
    const tip = svg('title');
    const label = node.task.name.length * 7.5 + 24 > boxWidth ? `${node.task.name.slice(0, Math.floor((boxWidth - 30) / 7.5))}…` : node.task.name;
    const group = svg(
      'g',
      { class: 'dag-node', 'data-dag-task': node.task.name, 'data-state': 'none', transform: `translate(${x} ${y})`, tabindex: 0 },
      tip,
      svg('rect', { class: 'dag-box', width: boxWidth, height: boxHeight, rx: 6 }),
      svg('rect', { class: 'dag-mark', width: 5, height: boxHeight, rx: 2 }),
      svg('text', { x: 12, y: 19, class: 'dag-name' }, label),
      detail,
    );
    group.addEventListener('click', () => selectedRunId && void openPanel(selectedRunId, node.task.name));
    graph.append(group);
    nodes.set(node.task.name, { group, detail, tip });
  }
  const renderGraph = () => {
    const run = runs.find((r) => r.id === selectedRunId);
    graphRun.dataset.run = run?.id ?? '';
    graphRun.replaceChildren(...(run ? [`coloured by the run for ${run.ds} (${run.kind}) `, statePill(run.state)] : ['no runs yet']));
    for (const [task, node] of nodes) {
      const instance = run?.tasks.find((t) => t.task === task);
      const state = instance?.state ?? 'none';
      node.group.dataset.state = state;
      node.detail.textContent = `${kindOf.get(task) ?? ''} · ${state.replace(/_/g, ' ')}${instance && instance.attempt > 1 ? ` · try ${instance.attempt}` : ''}`;
      node.tip.textContent = `${task} (${kindOf.get(task)}): ${state}${instance?.error ? `\n${instance.error}` : ''}`;
    }
  };

  // ── the grid ───────────────────────────────────────────────────────────────────────────
  const grid = el('table', { id: 'grid', class: 'grid-view' });
  let gridShape = '';
  const cellTitle = (run: RunView, task: string, instance: TaskInstanceView | undefined) =>
    [
      `${task} · ${run.ds}`,
      `state: ${instance?.state ?? 'no task instance'}`,
      ...(instance?.attempt ? [`attempt ${instance.attempt}`] : []),
      ...(instance?.startedAt ? [`started ${formatInstant(instance.startedAt, job.timezone)} (${job.timezone})`] : []),
      ...(instance?.durationMs !== null && instance?.durationMs !== undefined ? [`took ${formatDuration(instance.durationMs)}`] : []),
      ...(instance?.error ? [instance.error] : []),
    ].join('\n');
  const renderGrid = () => {
    const shown = [...runs].reverse();
    // Bars are scaled to the longest finished run: a run cleared long after it started would
    // otherwise flatten every other bar (its bar is simply full height).
    const finished = shown.filter((r) => r.endedAt).map(runDurationMs);
    const longest = Math.max(1, ...(finished.length ? finished : shown.map(runDurationMs)));
    const shape = shown.map((r) => r.id).join(',');
    // Same columns: update states in place (animations and focus survive); new columns: rebuild.
    if (shape !== gridShape) {
      gridShape = shape;
      const header = el('tr', {}, el('th', { class: 'task-head' }, 'Task'));
      for (const run of shown) {
        const th = el('th', { class: 'run', 'data-run': run.id, 'data-ds': run.ds, 'data-kind': run.kind }, el('div', { class: 'run-bar' }), el('div', { class: 'run-ds' }, run.ds));
        th.addEventListener('click', () => {
          selectedRunId = run.id;
          render();
        });
        header.append(th);
      }
      const rows = tasks.map((task) => {
        const row = el('tr', { 'data-task': task.name }, el('th', { class: 'task-name', title: `${task.name} (${task.kind})` }, task.name, el('span', { class: 'muted' }, ` ${task.kind}`)));
        for (const run of shown) {
          const cell = el('button', { class: 'ti', 'data-run': run.id, 'data-task': task.name });
          cell.addEventListener('click', () => {
            selectedRunId = run.id;
            render();
            void openPanel(run.id, task.name);
          });
          row.append(el('td', {}, cell));
        }
        return row;
      });
      grid.replaceChildren(el('thead', {}, header), el('tbody', {}, ...rows));
    }
    for (const run of shown) {
      const th = grid.querySelector<HTMLElement>(`th.run[data-run="${CSS.escape(run.id)}"]`)!;
      th.dataset.state = run.state;
      th.classList.toggle('selected', run.id === selectedRunId);
      th.title = `${run.ds} · ${run.kind} run · ${run.state}${run.startedAt ? ` · ${formatDuration(runDurationMs(run))}` : ''}\n${run.id}`;
      th.querySelector<HTMLElement>('.run-bar')!.style.height = `${Math.max(4, Math.round(Math.min(1, runDurationMs(run) / longest) * 36))}px`;
      for (const cell of grid.querySelectorAll<HTMLElement>(`button.ti[data-run="${CSS.escape(run.id)}"]`)) {
        const instance = run.tasks.find((t) => t.task === cell.dataset.task);
        cell.dataset.state = instance?.state ?? 'none';
        cell.dataset.attempt = String(instance?.attempt ?? 0);
        cell.classList.toggle('selected', run.id === selectedRunId);
        cell.title = cellTitle(run, cell.dataset.task!, instance);
      }
    }
  };
  const legend = el('div', { id: 'state-legend', class: 'legend' }, ...TASK_STATES.map((s) => el('span', { 'data-state': s }, el('i', {}), s.replace(/_/g, ' '))));

  const render = () => {
    if (!runs.some((r) => r.id === selectedRunId)) selectedRunId = runs[0]?.id;
    renderGrid();
    renderGraph();
    if (panel.dataset.run) showPanelInstance();
  };

  // ── the side panel: one task instance ─────────────────────────────────────────────────────
  const panel = el('aside', { id: 'task-panel', class: 'side-panel', hidden: '' });
  const panelTitle = el('h2', {});
  const panelState = el('span', { id: 'panel-state' });
  const panelMeta = el('div', { class: 'muted' });
  const panelMessage = el('div', { id: 'panel-message' });
  const attemptsBody = el('tbody');
  const logBox = el('pre', { id: 'task-log', class: 'log' });
  const downstream = el('input', { type: 'checkbox', id: 'clear-downstream' });
  const clearButton = el('button', { id: 'clear-task' }, 'Clear');
  const markSuccess = el('button', { id: 'mark-success' }, 'Mark success');
  const markFailed = el('button', { id: 'mark-failed' }, 'Mark failed');
  const closeButton = el('button', { id: 'panel-close', title: 'close (Esc)' }, '×');
  panel.append(
    el('div', { class: 'panel-head' }, panelTitle, closeButton),
    el('div', { class: 'bar' }, panelState, panelMeta),
    el('div', { class: 'bar' }, clearButton, el('label', {}, downstream, 'and downstream'), markSuccess, markFailed),
    panelMessage,
    // One zone for every time on the page: the job's, the one its schedule and `ds` are in.
    el('h3', {}, `Attempts (times in ${job.timezone})`),
    el('div', { class: 'scroll' }, el('table', { class: 'data', id: 'attempts' }, el('thead', {}, el('tr', {}, ...['#', 'state', 'started', 'ended', 'duration', 'error'].map((h) => el('th', {}, h)))), attemptsBody)),
    el('h3', {}, 'Log'),
    logBox,
  );
  let fetchedLog = '';
  let liveLines: string[] = [];
  let detailSeq = 0;
  const taskUrl = (runId: string, task: string) => `${jobUrl(name)}/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(task)}`;
  const showLog = () => {
    // Follow the tail unless the reader scrolled up to read something.
    const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 8;
    logBox.textContent = joinLog(fetchedLog, liveLines) || '(no log yet)';
    if (atBottom) logBox.scrollTop = logBox.scrollHeight;
  };
  const showPanelInstance = () => {
    const run = runs.find((r) => r.id === panel.dataset.run);
    const instance = run?.tasks.find((t) => t.task === panel.dataset.task);
    panelState.replaceChildren(statePill(instance?.state ?? 'none'));
    panelMeta.textContent = run ? `run for ${run.ds} · ${run.kind} · ${run.id}` : '';
  };
  const loadDetail = async () => {
    const seq = ++detailSeq;
    const { run: runId, task } = panel.dataset;
    if (!runId || !task) return;
    try {
      const detail = await getJson<TaskDetail>(taskUrl(runId, task));
      if (seq !== detailSeq) return;
      fetchedLog = detail.log;
      attemptsBody.replaceChildren(
        ...[...detail.attempts]
          .sort((x, y) => y.attempt - x.attempt)
          .map((a) =>
            el(
              'tr',
              { 'data-attempt': String(a.attempt) },
              el('td', { 'data-field': 'attempt' }, String(a.attempt)),
              el('td', { 'data-field': 'state' }, statePill(a.state)),
              el('td', { 'data-field': 'started', title: a.startedAt ?? '' }, formatInstant(a.startedAt, job.timezone)),
              el('td', { 'data-field': 'ended', title: a.endedAt ?? '' }, formatInstant(a.endedAt, job.timezone)),
              el('td', { 'data-field': 'duration' }, formatDuration(a.durationMs)),
              el('td', { 'data-field': 'error', class: 'error-cell', title: a.error ?? '' }, a.error ?? ''),
            ),
          ),
      );
      if (!detail.attempts.length) attemptsBody.append(el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'not started yet')));
      showLog();
    } catch (error) {
      if (seq === detailSeq) panelMessage.replaceChildren(errorMessage(error, 'panel-error'));
    }
  };
  const openPanel = async (runId: string, task: string) => {
    const switching = panel.dataset.run !== runId || panel.dataset.task !== task;
    panel.dataset.run = runId;
    panel.dataset.task = task;
    panel.hidden = false;
    panelTitle.textContent = task;
    if (switching) {
      fetchedLog = '';
      liveLines = [];
      attemptsBody.replaceChildren();
      logBox.textContent = 'loading…';
      panelMessage.replaceChildren();
    }
    showPanelInstance();
    await loadDetail();
  };
  const closePanel = () => {
    panel.hidden = true;
    delete panel.dataset.run;
    delete panel.dataset.task;
  };
  closeButton.addEventListener('click', closePanel);
  const onKey = (event: KeyboardEvent) => event.key === 'Escape' && closePanel();
  document.addEventListener('keydown', onKey);
  const instanceAction = (path: string, payload: unknown, done: string) =>
    void act(panelMessage, 'panel-error', async () => {
      const { run, task } = panel.dataset;
      if (!run || !task) throw new ApiError('no task selected');
      await postJson(`${taskUrl(run, task)}/${path}`, payload);
      await Promise.all([refreshRuns(), loadDetail()]);
      return done;
    });
  clearButton.addEventListener('click', () => instanceAction('clear', { downstream: downstream.checked }, `cleared${downstream.checked ? ' with its downstream tasks' : ''}: it will run again`));
  markSuccess.addEventListener('click', () => instanceAction('mark', { state: 'success' }, 'marked success'));
  markFailed.addEventListener('click', () => instanceAction('mark', { state: 'failed' }, 'marked failed'));

  // ── data: a snapshot, then events ───────────────────────────────────────────────────────
  // Events that arrive while a snapshot is on its way are applied again on top of it, so a reply
  // older than the latest event never rolls a cell back.
  let replay: SchedulerEvent[] | undefined;
  let refreshing: Promise<void> = Promise.resolve();
  const refreshRuns = () =>
    (refreshing = refreshing.then(async () => {
      replay = [];
      try {
        const { runs: fresh } = await getJson<{ runs: RunView[] }>(`${jobUrl(name)}/runs?limit=${RUNS_SHOWN}`);
        runs = replay.reduce((shown, event) => applyEvent(shown, event, tasks, RUNS_SHOWN), newestFirst(fresh).slice(0, RUNS_SHOWN));
        render();
      } catch (error) {
        message.replaceChildren(errorMessage(error, 'job-error'));
      } finally {
        replay = undefined;
      }
    }));
  const reloadJob = async () => {
    const latest = (await getJson<{ jobs: JobSummary[] }>('/api/jobs')).jobs.find((j) => j.name === name);
    if (latest) {
      job = latest;
      showJob();
    }
  };
  let jobReload: ReturnType<typeof setTimeout> | undefined;
  const onEvent = (event: SchedulerEvent) => {
    if (event.type === 'hook' || eventJob(event) !== name) return;
    replay?.push(event);
    if (event.type === 'log') {
      if (panel.dataset.run === event.runId && panel.dataset.task === event.task) {
        liveLines.push(logLine(event.at, event.line));
        showLog();
      }
      return;
    }
    runs = applyEvent(runs, event, tasks, RUNS_SHOWN);
    render();
    if (event.type === 'run') {
      // A new run moves the job's next run time.
      jobReload ??= setTimeout(() => {
        jobReload = undefined;
        void reloadJob().catch(() => undefined);
      }, 500);
    } else if (panel.dataset.run === event.runId && panel.dataset.task === event.task) {
      void loadDetail();
    }
  };

  showJob();
  await refreshRuns();
  main.replaceChildren(
    el('div', { class: 'bar' }, el('a', { href: '/jobs' }, '← Jobs'), el('h1', {}, name), pausedBadge, status),
    ...(job.description ? [el('p', { class: 'muted' }, job.description)] : []),
    el('div', { class: 'bar job-meta' }, el('span', {}, 'schedule ', schedule), el('span', {}, `time zone ${job.timezone}`), el('span', {}, 'next run ', nextRun)),
    el('div', { class: 'bar' }, el('label', {}, 'data interval date', triggerDate), triggerButton, pauseButton),
    message,
    el('div', { class: 'bar' }, el('h2', {}, 'Graph'), graphRun),
    el('div', { id: 'dag', class: 'panel-box' }, graph),
    el('h2', {}, 'Runs'),
    el('div', { class: 'grid-wrap' }, grid),
    legend,
    panel,
  );
  const stop = followScheduler(status, onEvent, () => void refreshRuns());
  return () => {
    stop();
    clearTimeout(jobReload);
    document.removeEventListener('keydown', onKey);
  };
}
