/**
 * The jobs the scheduler runs: one row per job, live.
 *
 * Stable hooks for tests:
 * - `#jobs-live`                       live status (text 'live' once the event stream is open)
 * - `#jobs-message`                    outcome of the last button (`.message.info` or `#jobs-error`)
 * - `#jobs-table`                      the table; one `tr[data-job="<name>"][data-paused="true|false"]` per job
 * - `td[data-field="name|description|schedule|timezone|paused|next-run|last-run"]` in each row
 * - `[data-field="last-run"] .pill[data-state]`  the last run's state (`data-run` = its id)
 * - `button[data-action="trigger"]`, `button[data-action="pause"]` (text 'Pause' or 'Unpause')
 */
import { el, errorMessage, getJson, postJson } from '../api.js';
import { formatInstant, type JobSummary, type RunEventRun, type SchedulerEvent, type TaskInstanceView } from '../jobs.js';

/** A state as a coloured pill; colours come from styles.css by `data-state`. */
export function statePill(state: string, text: string = state.replace(/_/g, ' ')): HTMLElement {
  return el('span', { class: 'pill', 'data-state': state }, text);
}

/**
 * Follows the scheduler's events (Server-Sent Events). EventSource reconnects by itself after a
 * dropped connection; when the server refuses the stream outright it gives up, so try again later.
 * `onOpen` runs on every (re)connection: events missed while disconnected are caught up from there.
 */
export function followScheduler(status: HTMLElement, onEvent: (event: SchedulerEvent) => void, onOpen: () => void): () => void {
  let source: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const say = (text: string, live: boolean) => {
    status.className = live ? 'status' : 'status paused';
    status.lastChild!.textContent = text;
  };
  const connect = () => {
    source = new EventSource('/api/jobs/live');
    source.addEventListener('open', () => {
      say('live', true);
      onOpen();
    });
    source.addEventListener('scheduler', (message) => onEvent(JSON.parse((message as MessageEvent<string>).data) as SchedulerEvent));
    source.addEventListener('error', () => {
      say('reconnecting…', false);
      if (source?.readyState === EventSource.CLOSED) retry = setTimeout(connect, 3000);
    });
  };
  connect();
  return () => {
    clearTimeout(retry);
    source?.close();
  };
}

export function liveStatus(): HTMLElement {
  return el('span', { class: 'status paused', id: 'jobs-live' }, el('span', { class: 'dot' }), 'connecting…');
}

export const jobUrl = (job: string) => `/api/jobs/${encodeURIComponent(job)}`;

export interface TriggerReply {
  /** The run created, or the one that already existed for that interval; with its tasks when the server sends them. */
  run: RunEventRun & { tasks?: TaskInstanceView[] };
  created: boolean;
}

/** Trigger and pause/unpause: the same calls from the list and from a job's page. */
export async function triggerJob(job: string, date?: string): Promise<TriggerReply> {
  return postJson(`${jobUrl(job)}/trigger`, date ? { date } : {});
}

export async function setPaused(job: string, paused: boolean): Promise<{ paused: boolean }> {
  return postJson(`${jobUrl(job)}/${paused ? 'pause' : 'unpause'}`, {});
}

export function triggeredText(job: string, reply: TriggerReply): string {
  return reply.created ? `${job}: triggered a run for ${reply.run.ds}` : `${job}: a run for ${reply.run.ds} already exists (${reply.run.state})`;
}

export async function jobsPage(main: HTMLElement): Promise<() => void> {
  const status = liveStatus();
  const message = el('div', { id: 'jobs-message' });
  const body = el('tbody');
  const table = el(
    'table',
    { class: 'data jobs', id: 'jobs-table' },
    el('thead', {}, el('tr', {}, ...['Job', 'Description', 'Schedule', 'Time zone', 'Paused', 'Next run', 'Last run', ''].map((h) => el('th', {}, h)))),
    body,
  );
  const act = async (action: () => Promise<string>) => {
    try {
      message.replaceChildren(el('div', { class: 'message info' }, await action()));
      await load();
    } catch (error) {
      message.replaceChildren(errorMessage(error, 'jobs-error'));
    }
  };
  const row = (job: JobSummary) => {
    const trigger = el('button', { 'data-action': 'trigger' }, 'Trigger');
    trigger.addEventListener('click', () => void act(async () => triggeredText(job.name, await triggerJob(job.name))));
    const pause = el('button', { 'data-action': 'pause' }, job.paused ? 'Unpause' : 'Pause');
    pause.addEventListener('click', () => void act(async () => `${job.name}: ${(await setPaused(job.name, !job.paused)).paused ? 'paused' : 'unpaused'}`));
    const last = job.lastRun;
    return el(
      'tr',
      { 'data-job': job.name, 'data-paused': String(job.paused) },
      el('td', { 'data-field': 'name' }, el('a', { href: `/jobs/${encodeURIComponent(job.name)}` }, job.name)),
      el('td', { 'data-field': 'description', title: job.description ?? '' }, job.description ?? ''),
      el('td', { 'data-field': 'schedule' }, el('code', {}, job.schedule)),
      el('td', { 'data-field': 'timezone' }, job.timezone),
      el('td', { 'data-field': 'paused' }, job.paused ? statePill('paused') : el('span', { class: 'muted' }, 'no')),
      el('td', { 'data-field': 'next-run', title: job.nextRunAt ?? '' }, job.nextRunAt ? formatInstant(job.nextRunAt, job.timezone) : el('span', { class: 'muted' }, '—')),
      el(
        'td',
        { 'data-field': 'last-run' },
        ...(last ? [el('a', { href: `/jobs/${encodeURIComponent(job.name)}`, 'data-run': last.id }, statePill(last.state), ` ${last.ds}`)] : [el('span', { class: 'muted' }, 'never run')]),
      ),
      el('td', { class: 'actions' }, trigger, pause),
    );
  };
  const load = async () => {
    const { jobs } = await getJson<{ jobs: JobSummary[] }>('/api/jobs');
    body.replaceChildren(...jobs.map(row));
    if (!jobs.length) body.append(el('tr', {}, el('td', { colspan: '8', class: 'muted' }, 'No jobs yet: declare them under `jobs` in tributary.config.ts.')));
  };
  await load();
  main.replaceChildren(el('div', { class: 'bar' }, el('h1', {}, 'Jobs'), status), message, el('div', { class: 'scroll' }, table));
  // A run's change moves a job's last run and next run: reload the (short) list, at most every half second.
  let pending: ReturnType<typeof setTimeout> | undefined;
  const reloadSoon = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      load().catch((error: unknown) => message.replaceChildren(errorMessage(error, 'jobs-error')));
    }, 500);
  };
  const stop = followScheduler(status, (event) => event.type === 'run' && reloadSoon(), reloadSoon);
  return () => {
    stop();
    clearTimeout(pending);
  };
}
