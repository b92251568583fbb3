import { TributaryError } from '../core/errors.js';
import { runReadOnly } from '../commands/index.js';
import type { Workspace } from '../state/workspace.js';
import type { Principal } from './auth.js';

/**
 * The SQL lab's side of the server: the shared read-only runner with the limits a browser needs.
 * An answer is capped in rows and bytes (the page shows the first rows and says it was cut), a
 * query has a time limit, and few run at once, so the lab cannot crowd out stream commits and
 * dashboard refreshes, which share the engine. A client's query runs confined to its rows, and
 * only the principal that sent a query can cancel it.
 */
export interface LabResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  ms: number;
}

export interface LabLimits {
  timeoutMs: number;
  maxRows: number;
  maxBytes: number;
  concurrent: number;
}

export const DEFAULT_LAB_LIMITS: LabLimits = { timeoutMs: 15_000, maxRows: 10_000, maxBytes: 8 * 1024 * 1024, concurrent: 2 };

export class SqlLab {
  /**
   * The queries running now, each under a slot of its own: the id is the client's, so two requests
   * may send the same one, and each must still count against the limit (and be cancelled by it).
   */
  private readonly running = new Map<symbol, { id: string; owner: Principal; abort: AbortController }>();

  constructor(
    private readonly ws: Workspace,
    readonly limits: LabLimits = DEFAULT_LAB_LIMITS,
  ) {}

  async run(sql: string, id: string, limit: number, principal: Principal): Promise<LabResult> {
    if (this.running.size >= this.limits.concurrent) {
      throw Object.assign(new TributaryError(`${this.running.size} lab queries are running; the lab runs ${this.limits.concurrent} at a time`, { hint: 'wait for one to finish, or cancel it, and run again' }), { statusCode: 429 });
    }
    const abort = new AbortController();
    const slot = Symbol(id);
    this.running.set(slot, { id, owner: principal, abort });
    try {
      let columns: LabResult['columns'] = [];
      const rows: Record<string, unknown>[] = [];
      const outcome = await runReadOnly(
        this.ws,
        sql,
        (c) => void (columns = c),
        (chunk) => void rows.push(...chunk),
        {
          timeoutMs: this.limits.timeoutMs,
          maxRows: Math.min(limit, this.limits.maxRows),
          maxBytes: this.limits.maxBytes,
          signal: abort.signal,
          scope: principal.kind === 'client' ? principal.scope : undefined,
        },
      );
      return { columns, rows, truncated: outcome.truncated, ms: outcome.ms };
    } finally {
      this.running.delete(slot);
    }
  }

  /** Cancels every running query this principal sent with this id; false when none was running. */
  cancel(id: string, principal: Principal): boolean {
    const matching = [...this.running.values()].filter((query) => query.id === id && sameSender(query.owner, principal));
    for (const query of matching) query.abort.abort();
    return matching.length > 0;
  }
}

function sameSender(a: Principal, b: Principal): boolean {
  return a.kind === 'admin' ? b.kind === 'admin' : b.kind === 'client' && a.name === b.name;
}
