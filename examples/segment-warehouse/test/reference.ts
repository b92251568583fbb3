import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * An independent reference for the segment-warehouse models: plain TypeScript over the raw
 * drops (gunzip + JSON.parse, no DuckDB, no SQL), implementing the same rules from their
 * written definitions, so tests can compare the pipeline's numbers with numbers reached another
 * way. Reads whole drops into memory: meant for the committed sample and small test drops.
 *
 * The rules, as the models' header comments state them:
 * - A line is an event when it is a JSON object with `type` in track/page/identify, a string
 *   `messageId`, and `timestamp`, `sentAt`, `receivedAt` as ISO 8601 UTC strings; any other line
 *   is malformed (the platform quarantines it). Its drop day is the UTC day of `receivedAt`.
 * - Sessions: per anonymousId, events in (timestamp, messageId) order; a gap of 30 minutes or
 *   more starts a new session. Server-side events (no anonymousId) belong to no session.
 * - Stitching: each anonymousId maps to the userId of its latest event (timestamp, then
 *   messageId) that carries both ids.
 * - Blended user: of a session, the stitched userId of its browser, else its anonymousId; of an
 *   event, its own userId, else the stitched userId of its browser, else its anonymousId.
 * - Funnel: first page view, then symptom_checker_started, symptom_checker_completed, signed_up,
 *   subscription_started, each at its first occurrence at or after the previous step, before
 *   the first page view + 7 days.
 */

export type EventType = 'track' | 'page' | 'identify';

export interface ReferenceEvent {
  messageId: string;
  type: EventType;
  event: string | null;
  name: string | null;
  anonymousId: string | null;
  userId: string | null;
  /** Epoch milliseconds (UTC). */
  timestamp: number;
  receivedAt: number;
  /** UTC day of receivedAt, YYYY-MM-DD: the drop (and partition) the event belongs to. */
  dropDay: string;
}

export type MalformedReason = 'not_json' | 'not_an_object' | 'bad_type' | 'bad_message_id' | 'bad_timestamp';

export interface MalformedLine {
  /** File relative to the drops folder's parent. */
  file: string;
  /** 1-based line number. */
  line: number;
  reason: MalformedReason;
}

export interface Drops {
  events: ReferenceEvent[];
  malformed: MalformedLine[];
  /** Every line read, malformed ones included (blank lines are not lines). */
  lines: number;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(['track', 'page', 'identify']);
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const SESSION_GAP_MS = 30 * 60_000;
const FUNNEL_WINDOW_MS = 7 * 86_400_000;

export const FUNNEL_STEPS = ['landing', 'symptom_checker_started', 'symptom_checker_completed', 'signed_up', 'subscription_started'] as const;

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function parseTime(value: unknown): number | null {
  if (typeof value !== 'string' || !ISO_UTC.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

const optionalString = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** Every `*.json.gz` under `<root>/drops`, in path order. */
export function listDropFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.json.gz')) found.push(path);
    }
  };
  walk(join(root, 'drops'));
  return found;
}

/** Classifies one line: an event, or the reason it is malformed. */
export function parseLine(text: string): ReferenceEvent | MalformedReason {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not_json';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not_an_object';
  const record = value as Record<string, unknown>;
  if (typeof record.type !== 'string' || !EVENT_TYPES.has(record.type)) return 'bad_type';
  if (typeof record.messageId !== 'string') return 'bad_message_id';
  const timestamp = parseTime(record.timestamp);
  const receivedAt = parseTime(record.receivedAt);
  if (timestamp === null || receivedAt === null || parseTime(record.sentAt) === null) return 'bad_timestamp';
  return {
    messageId: record.messageId,
    type: record.type as EventType,
    event: optionalString(record.event),
    name: optionalString(record.name),
    anonymousId: optionalString(record.anonymousId),
    userId: optionalString(record.userId),
    timestamp,
    receivedAt,
    dropDay: dayOf(receivedAt),
  };
}

/** Reads every drop under `<root>/drops`. */
export function readDrops(root: string): Drops {
  const drops: Drops = { events: [], malformed: [], lines: 0 };
  for (const file of listDropFiles(root)) {
    const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
    lines.forEach((text, index) => {
      if (text === '') return;
      drops.lines++;
      const parsed = parseLine(text);
      if (typeof parsed === 'string') drops.malformed.push({ file: relative(root, file), line: index + 1, reason: parsed });
      else drops.events.push(parsed);
    });
  }
  return drops;
}

/** Valid events per drop day and type. */
export function eventsPerDayAndType(events: readonly ReferenceEvent[]): Record<string, Record<EventType, number>> {
  const counts: Record<string, Record<EventType, number>> = {};
  for (const e of events) {
    const day = (counts[e.dropDay] ??= { track: 0, page: 0, identify: 0 });
    day[e.type]++;
  }
  return counts;
}

/** Malformed lines per drop day, the day taken from the file's folder (drops/YYYY/MM/DD/...). */
export function malformedPerDay(malformed: readonly MalformedLine[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of malformed) {
    const match = /drops[\\/](\d{4})[\\/](\d{2})[\\/](\d{2})[\\/]/.exec(m.file);
    const day = match ? `${match[1]}-${match[2]}-${match[3]}` : 'unknown';
    counts[day] = (counts[day] ?? 0) + 1;
  }
  return counts;
}

const byTimeThenId = (a: ReferenceEvent, b: ReferenceEvent) => a.timestamp - b.timestamp || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0);

export interface Session {
  /** anonymousId + '-' + index (from 1), as the models name sessions. */
  sessionId: string;
  anonymousId: string;
  index: number;
  start: number;
  end: number;
  events: number;
  pageViews: number;
}

/** Sessions by the 30-minute rule, per anonymousId. */
export function sessionize(events: readonly ReferenceEvent[]): Session[] {
  const byBrowser = new Map<string, ReferenceEvent[]>();
  for (const e of events) {
    if (e.anonymousId === null) continue;
    let list = byBrowser.get(e.anonymousId);
    if (!list) byBrowser.set(e.anonymousId, (list = []));
    list.push(e);
  }
  const sessions: Session[] = [];
  for (const [anonymousId, list] of byBrowser) {
    list.sort(byTimeThenId);
    let current: Session | null = null;
    for (const e of list) {
      if (current === null || e.timestamp - current.end >= SESSION_GAP_MS) {
        const index: number = current === null ? 1 : current.index + 1;
        current = { sessionId: `${anonymousId}-${index}`, anonymousId, index, start: e.timestamp, end: e.timestamp, events: 0, pageViews: 0 };
        sessions.push(current);
      }
      current.end = e.timestamp;
      current.events++;
      if (e.type === 'page') current.pageViews++;
    }
  }
  return sessions;
}

/** anonymousId -> userId, from the latest event carrying both. */
export function stitchUsers(events: readonly ReferenceEvent[]): Map<string, string> {
  const latest = new Map<string, ReferenceEvent>();
  for (const e of events) {
    if (e.anonymousId === null || e.userId === null) continue;
    const seen = latest.get(e.anonymousId);
    if (!seen || byTimeThenId(seen, e) < 0) latest.set(e.anonymousId, e);
  }
  return new Map([...latest].map(([anonymousId, e]) => [anonymousId, e.userId as string]));
}

export interface StitchSummary {
  /** Browsers (anonymousIds) linked to a user. */
  anonymousIds: number;
  /** Distinct users they link to. */
  users: number;
  /** Users with more than one browser. */
  usersWithSeveralBrowsers: number;
}

export function stitchSummary(stitch: ReadonlyMap<string, string>): StitchSummary {
  const browsersPerUser = new Map<string, number>();
  for (const userId of stitch.values()) browsersPerUser.set(userId, (browsersPerUser.get(userId) ?? 0) + 1);
  return {
    anonymousIds: stitch.size,
    users: browsersPerUser.size,
    usersWithSeveralBrowsers: [...browsersPerUser.values()].filter((n) => n > 1).length,
  };
}

const TRACK_STEP = new Map<string, number>(FUNNEL_STEPS.map((name, index) => [name, index] as const).filter(([, index]) => index > 0));

export interface FunnelStep {
  step: number;
  name: (typeof FUNNEL_STEPS)[number];
  users: number;
}

/** Users reaching each funnel step, in order, within 7 days of their first page view. */
export function funnel(events: readonly ReferenceEvent[], stitch: ReadonlyMap<string, string>): FunnelStep[] {
  const blended = (e: ReferenceEvent) => e.userId ?? (e.anonymousId !== null ? stitch.get(e.anonymousId) : undefined) ?? e.anonymousId;
  // Step 0 is any page view; the others are track events named after the step.
  const stepOf = (e: ReferenceEvent) => (e.type === 'page' ? 0 : e.type === 'track' && e.event !== null ? (TRACK_STEP.get(e.event) ?? -1) : -1);
  // Per user, the sorted times of each step.
  const times = new Map<string, number[][]>();
  for (const e of events) {
    const step = stepOf(e);
    if (step < 0) continue;
    const user = blended(e);
    if (user === null) continue;
    let perStep = times.get(user);
    if (!perStep) times.set(user, (perStep = FUNNEL_STEPS.map(() => [])));
    (perStep[step] as number[]).push(e.timestamp);
  }
  const reached = FUNNEL_STEPS.map(() => 0);
  for (const perStep of times.values()) {
    for (const list of perStep) list.sort((a, b) => a - b);
    const landing = perStep[0]?.[0];
    if (landing === undefined) continue;
    const windowEnd = landing + FUNNEL_WINDOW_MS;
    let previous = landing;
    reached[0]!++;
    for (let step = 1; step < FUNNEL_STEPS.length; step++) {
      const at = (perStep[step] as number[]).find((t) => t >= previous && t < windowEnd);
      if (at === undefined) break;
      reached[step]!++;
      previous = at;
    }
  }
  return FUNNEL_STEPS.map((name, i) => ({ step: i + 1, name, users: reached[i] as number }));
}

export interface AudienceOverview {
  day: string;
  sessions: number;
  users: number;
  newUsers: number;
  repeatUsers: number;
  pageViews: number;
  pagesPerSession: number;
  avgSessionDurationSeconds: number;
  bouncedSessions: number;
  bounceRate: number;
}

/**
 * The audience overview of one UTC day (of session start). `sessions` must be every session of
 * the data (new vs repeat needs each user's first session ever).
 */
export function audienceOverview(sessions: readonly Session[], stitch: ReadonlyMap<string, string>, day: string): AudienceOverview {
  const blended = (s: Session) => stitch.get(s.anonymousId) ?? s.anonymousId;
  const firstStart = new Map<string, number>();
  for (const s of sessions) {
    const user = blended(s);
    const seen = firstStart.get(user);
    if (seen === undefined || s.start < seen) firstStart.set(user, s.start);
  }
  const ofDay = sessions.filter((s) => dayOf(s.start) === day);
  const users = new Set(ofDay.map(blended));
  const newUsers = [...users].filter((u) => dayOf(firstStart.get(u) as number) === day).length;
  const pageViews = ofDay.reduce((sum, s) => sum + s.pageViews, 0);
  const durationMs = ofDay.reduce((sum, s) => sum + (s.end - s.start), 0);
  const bounced = ofDay.filter((s) => s.pageViews === 1).length;
  const n = ofDay.length;
  return {
    day,
    sessions: n,
    users: users.size,
    newUsers,
    repeatUsers: users.size - newUsers,
    pageViews,
    pagesPerSession: n > 0 ? pageViews / n : 0,
    avgSessionDurationSeconds: n > 0 ? durationMs / n / 1000 : 0,
    bouncedSessions: bounced,
    bounceRate: n > 0 ? bounced / n : 0,
  };
}
