/**
 * The scheduler as the browser sees it: the shapes of /api/jobs and of its live events, and the
 * pure pieces of the job pages (DAG layout, applying events to runs, joining live log lines to a
 * fetched log). No DOM here, so it is tested under Node.
 */

export const TASK_STATES = ['scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule', 'success', 'failed', 'skipped', 'upstream_failed'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export type RunState = 'queued' | 'running' | 'success' | 'failed';
export type RunKind = 'scheduled' | 'manual' | 'backfill' | 'event';

export interface JobTask {
  name: string;
  kind: string;
  after: string[];
}

export interface RunSummary {
  id: string;
  state: RunState;
  ds: string;
  intervalStart: string;
  intervalEnd: string;
}

export interface JobSummary {
  name: string;
  description: string | null;
  schedule: string;
  timezone: string;
  paused: boolean;
  nextRunAt: string | null;
  lastRun: RunSummary | null;
  tasks: JobTask[];
}

export interface TaskInstanceView {
  task: string;
  state: TaskState;
  attempt: number;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  error: string | null;
}

export interface RunView {
  id: string;
  job: string;
  kind: RunKind;
  ds: string;
  intervalStart: string;
  intervalEnd: string;
  state: RunState;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  tasks: TaskInstanceView[];
}

export interface AttemptView {
  attempt: number;
  state: TaskState;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  error: string | null;
}

export interface TaskDetail extends TaskInstanceView {
  log: string;
  attempts: AttemptView[];
}

/** A run as events carry it: the run's own fields, without its tasks. */
export type RunEventRun = Omit<RunView, 'tasks' | 'startedAt' | 'endedAt'> & { startedAt?: string | null; endedAt?: string | null };

export type SchedulerEvent =
  | { type: 'run'; run: RunEventRun }
  | { type: 'task'; job: string; runId: string; task: string; state: TaskState; attempt: number; at: string; durationMs?: number; error?: string }
  | { type: 'log'; job: string; runId: string; task: string; attempt: number; at: string; line: string }
  | { type: 'hook'; job: string; runId: string };

/** Where a task sits in the graph: its column (longest chain of `after` before it) and its row in that column. */
export interface DagPlacement {
  task: JobTask;
  depth: number;
  /** May be fractional: short columns are centred against the tallest one. */
  row: number;
}

export interface DagLayout {
  nodes: DagPlacement[];
  columns: number;
  rows: number;
  edges: { from: string; to: string }[];
}

/**
 * Left-to-right layers: a task's column is one more than its deepest upstream, so every arrow points
 * right. Within a column, tasks sit near the average row of their upstreams (one barycentre pass),
 * which keeps a fan-out and its join on straight lines; ties keep the declaration order.
 */
export function layoutDag(tasks: readonly JobTask[]): DagLayout {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const depths = new Map<string, number>();
  const depthOf = (name: string, visiting: Set<string>): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    // The server validates the graph; a cycle here would only mean a bad response, not a hang.
    if (visiting.has(name)) return 0;
    visiting.add(name);
    const upstream = (byName.get(name)?.after ?? []).filter((u) => byName.has(u));
    const depth = upstream.length ? 1 + Math.max(...upstream.map((u) => depthOf(u, visiting))) : 0;
    visiting.delete(name);
    depths.set(name, depth);
    return depth;
  };
  const columns: JobTask[][] = [];
  for (const task of tasks) (columns[depthOf(task.name, new Set())] ??= []).push(task);
  const rowOf = new Map<string, number>();
  columns.forEach((column, depth) => {
    const barycentre = (t: JobTask) => {
      const rows = t.after.map((u) => rowOf.get(u)).filter((r): r is number => r !== undefined);
      return rows.length ? rows.reduce((sum, r) => sum + r, 0) / rows.length : Number.POSITIVE_INFINITY;
    };
    const ordered = depth === 0 ? column : column.map((t, i) => ({ t, i, key: barycentre(t) })).sort((x, y) => x.key - y.key || x.i - y.i).map((x) => x.t);
    ordered.forEach((t, row) => rowOf.set(t.name, row));
    columns[depth] = ordered;
  });
  const rows = Math.max(1, ...columns.map((c) => c.length));
  const nodes = columns.flatMap((column, depth) => column.map((task, row) => ({ task, depth, row: row + (rows - column.length) / 2 })));
  const edges = tasks.flatMap((t) => t.after.filter((u) => byName.has(u)).map((u) => ({ from: u, to: t.name })));
  return { nodes, columns: columns.length, rows, edges };
}

/** Tasks in the order the grid lists them: by column of the graph, then row, so upstream comes first. */
export function tasksInGraphOrder(tasks: readonly JobTask[]): JobTask[] {
  return layoutDag(tasks)
    .nodes.slice()
    .sort((x, y) => x.depth - y.depth || x.row - y.row)
    .map((n) => n.task);
}

/** A log line as the scheduler stores it in a task's log: its time, a space, the line. */
export function logLine(at: string, line: string): string {
  return `${at} ${line}`;
}

/**
 * The fetched log followed by the live lines it does not have yet. A line that arrived while the log
 * was being fetched may or may not be in it, and the lines of an attempt still running may not be
 * stored yet; lines carry their millisecond time, so the same text means the same line.
 */
export function joinLog(fetched: string, live: readonly string[]): string {
  const lines = fetched === '' ? [] : fetched.replace(/\n$/, '').split('\n');
  const have = new Set(lines);
  return [...lines, ...live.filter((l) => !have.has(l))].join('\n');
}

/** The runs shown after an event: a run event adds or updates a column, a task event a cell. Pure. */
export function applyEvent(runs: readonly RunView[], event: SchedulerEvent, tasks: readonly JobTask[], keep: number): RunView[] {
  if (event.type === 'run') {
    const existing = runs.find((r) => r.id === event.run.id);
    // The event carries the whole run: a missing end means it has none (a cleared run runs again).
    const merged: RunView = {
      ...event.run,
      startedAt: event.run.startedAt ?? null,
      endedAt: event.run.endedAt ?? null,
      // A new run starts with every task scheduled (as the store creates them); task events follow.
      tasks: existing?.tasks ?? tasks.map((t) => ({ task: t.name, state: 'scheduled', attempt: 0, startedAt: null, endedAt: null, durationMs: null, error: null })),
    };
    const others = runs.filter((r) => r.id !== event.run.id);
    return newestFirst([merged, ...others]).slice(0, keep);
  }
  if (event.type === 'task') {
    return runs.map((run) => {
      if (run.id !== event.runId) return run;
      const updated = (instance: TaskInstanceView): TaskInstanceView => {
        const started = event.state === 'running' && event.attempt !== instance.attempt;
        const finished = event.durationMs !== undefined && event.state !== 'running';
        return {
          ...instance,
          state: event.state,
          attempt: event.attempt,
          startedAt: started ? event.at : instance.startedAt,
          endedAt: finished ? event.at : started ? null : instance.endedAt,
          durationMs: event.durationMs ?? (started ? null : instance.durationMs),
          error: event.error ?? (started || event.state === 'success' ? null : instance.error),
        };
      };
      const known = run.tasks.some((t) => t.task === event.task);
      const blank: TaskInstanceView = { task: event.task, state: 'scheduled', attempt: 0, startedAt: null, endedAt: null, durationMs: null, error: null };
      return { ...run, tasks: known ? run.tasks.map((t) => (t.task === event.task ? updated(t) : t)) : [...run.tasks, updated(blank)] };
    });
  }
  return [...runs];
}

/** Newest data interval first, as /runs answers; equal intervals by creation. */
export function newestFirst(runs: RunView[]): RunView[] {
  return runs.sort((x, y) => (x.intervalStart === y.intervalStart ? y.createdAt.localeCompare(x.createdAt) : y.intervalStart.localeCompare(x.intervalStart)));
}

/** 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(seconds / 3600)} h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * An instant as 'YYYY-MM-DD HH:MM:SS' in a time zone (the job's, so it reads like its schedule), or
 * the browser's when none is given. An unknown zone falls back to UTC rather than failing the page.
 */
export function formatInstant(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  try {
    return date.toLocaleString('sv-SE', { ...options, ...(timeZone ? { timeZone } : {}) });
  } catch {
    return `${date.toLocaleString('sv-SE', { ...options, timeZone: 'UTC' })} UTC`;
  }
}
