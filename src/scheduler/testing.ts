/**
 * Test helpers (also for the lead's tests of a SQL store or the server): a clock driven by hand that is
 * also the scheduler's Timers, and a Platform whose parts are plain functions and maps.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SchedulerEvent } from './events.js';
import type { ChecksReport, LogLevel, Platform } from './platform.js';
import type { TaskContext } from './tasks/types.js';
import type { Timers } from './timers.js';

interface PendingTimer {
  at: number;
  sequence: number;
  callback: () => void;
}

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Time stands still until `advance`; timers fire in time order as it passes them. */
export class ManualClock implements Timers {
  private current: number;
  private sequence = 0;
  private pending: PendingTimer[] = [];

  constructor(start: Date | string) {
    this.current = new Date(start).getTime();
  }

  now = (): Date => new Date(this.current);

  schedule(callback: () => void, delayMs: number): () => void {
    if (delayMs <= 0) {
      const handle = setImmediate(callback);
      return () => clearImmediate(handle);
    }
    const timer = { at: this.current + delayMs, sequence: this.sequence++, callback };
    this.pending.push(timer);
    return () => {
      this.pending = this.pending.filter((other) => other !== timer);
    };
  }

  /** Moves time forward, firing each timer due on the way at its own time, letting async work run between. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.pending.filter((timer) => timer.at <= target).sort((a, b) => a.at - b.at || a.sequence - b.sequence)[0];
      if (!due) break;
      this.pending = this.pending.filter((timer) => timer !== due);
      this.current = due.at;
      due.callback();
      await nextMacrotask();
    }
    this.current = target;
  }

  /** Timers waiting to fire (for assertions such as "exactly one timer is armed"). */
  get pendingTimers(): number {
    return this.pending.length;
  }
}

export interface TestPlatformOptions {
  now?: () => Date;
  /** importModule(path) answers from here. */
  modules?: Record<string, Record<string, unknown>>;
  query?: (sql: string) => ReadonlyArray<Record<string, unknown>> | Promise<ReadonlyArray<Record<string, unknown>>>;
  lakeObjects?: ReadonlySet<string>;
  runModels?: Platform['runModels'];
  runChecks?: Platform['runChecks'];
  compactTables?: Platform['compactTables'];
  lastChange?: Platform['lastChange'];
  env?: Record<string, string | undefined>;
  projectDir?: string;
}

export type TestPlatform = Platform & { logs: Array<{ level: LogLevel; message: string }> };

export function createTestPlatform(options: TestPlatformOptions = {}): TestPlatform {
  const logs: TestPlatform['logs'] = [];
  const missing = (what: string) => (): never => {
    throw new Error(`the test platform has no ${what}`);
  };
  return {
    logs,
    now: options.now ?? (() => new Date()),
    projectDir: options.projectDir ?? process.cwd(),
    env: options.env ?? {},
    runModels: options.runModels ?? missing('runModels'),
    runChecks: options.runChecks ?? ((): Promise<ChecksReport> => Promise.resolve({ passed: 0, failures: [] })),
    compactTables: options.compactTables ?? missing('compactTables'),
    ...(options.lastChange ? { lastChange: options.lastChange } : {}),
    query: async (sql) => (options.query ?? missing('query'))(sql),
    lakeObjectExists: async (key) => options.lakeObjects?.has(key) ?? false,
    importModule: async (path) => {
      const module = options.modules?.[path];
      if (!module) throw new Error(`no test module ${path}`);
      return module;
    },
    log: (level, message) => {
      logs.push({ level, message });
    },
  };
}

/** Resolves with the first event matching `predicate` (subscribe before causing it). */
export function nextEvent<E extends SchedulerEvent>(
  scheduler: { subscribe(listener: (event: SchedulerEvent) => void): () => void },
  predicate: (event: SchedulerEvent) => event is E,
): Promise<E>;
export function nextEvent(
  scheduler: { subscribe(listener: (event: SchedulerEvent) => void): () => void },
  predicate: (event: SchedulerEvent) => boolean,
): Promise<SchedulerEvent>;
export function nextEvent(
  scheduler: { subscribe(listener: (event: SchedulerEvent) => void): () => void },
  predicate: (event: SchedulerEvent) => boolean,
): Promise<SchedulerEvent> {
  return new Promise((resolve) => {
    const unsubscribe = scheduler.subscribe((event) => {
      if (predicate(event)) {
        unsubscribe();
        resolve(event);
      }
    });
  });
}

export interface WebhookReceiver {
  url: string;
  /** Parsed JSON bodies, in arrival order. */
  received: unknown[];
  /** Status code for the next requests (default 200). */
  status: number;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 (port chosen by the OS) that records what webhooks POST to it. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const receiver: Omit<WebhookReceiver, 'url' | 'close'> = { received: [], status: 200 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      receiver.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      response.writeHead(receiver.status, { 'content-type': 'text/plain' });
      response.end(receiver.status < 300 ? 'ok' : 'no_service');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  });
}

/** A TaskContext for calling one component's runner directly: daily interval of `ds`, attempt 1. */
export function createTaskContext(platform: Platform, overrides: Partial<TaskContext> & { ds?: string } = {}): TaskContext & { lines: string[] } {
  const { ds = '2024-01-05', ...rest } = overrides;
  const start = new Date(`${ds}T00:00:00Z`);
  const end = new Date(start.getTime() + 24 * 3600 * 1000);
  const lines: string[] = [];
  return {
    job: 'daily',
    task: 'step',
    runId: `daily__${start.toISOString()}`,
    runKind: 'scheduled',
    interval: { start, end, ds, timezone: 'UTC' },
    attempt: 1,
    attemptOffset: 0,
    attemptStartedAt: platform.now(),
    vars: {
      job: 'daily',
      task: 'step',
      run_id: `daily__${start.toISOString()}`,
      run_kind: 'scheduled',
      ds,
      ds_nodash: ds.replaceAll('-', ''),
      yyyy: ds.slice(0, 4),
      mm: ds.slice(5, 7),
      dd: ds.slice(8, 10),
      data_interval_start: start.toISOString(),
      data_interval_end: end.toISOString(),
      state: 'running',
      error: '',
      attempt: '1',
      duration: '',
    },
    signal: new AbortController().signal,
    platform,
    log: (line) => lines.push(line),
    lines,
    ...rest,
  };
}
