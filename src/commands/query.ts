import { diskFullHint, isDiskFull, shownPath, TributaryError } from '../core/errors.js';
import { quoteIdent, timeTravelName, type Engine } from '../engine/index.js';
import type { RowScope } from '../engine/policy.js';
import type { Workspace } from '../state/workspace.js';

export interface QueryLimits {
  /** Stops the query at this many milliseconds. */
  timeoutMs?: number;
  /** Stops sending rows once the answer holds this many bytes (of JSON); `truncated` says so. */
  maxBytes?: number;
  /** Most rows wanted; `truncated` says when there were more. */
  maxRows?: number;
  signal?: AbortSignal;
  /** Confines the query to a client's rows (see RowScope); without it every project table reads whole. */
  scope?: RowScope;
}

export interface QueryOutcome {
  rows: number;
  truncated: boolean;
  ms: number;
}

/**
 * Runs SQL a person typed, under the one read-only policy, on a connection of its own, streaming
 * the rows as they come. The CLI's `sql`, the shell and the SQL lab all come through here; only
 * their limits differ (the lab caps what a browser is sent, the CLI streams every row).
 */
export async function runReadOnly(
  ws: Workspace,
  sql: string,
  onColumns: (columns: { name: string; type: string }[]) => void | Promise<void>,
  onRows: (rows: Record<string, unknown>[]) => void | Promise<void>,
  limits: QueryLimits = {},
): Promise<QueryOutcome> {
  const checked = await ws.policy.check(sql, limits.scope);
  const engine: Engine = await ws.engine.fork();
  // A cancel that came while the query was being checked finds nothing to interrupt yet.
  if (limits.signal?.aborted) {
    engine.close();
    throw new TributaryError('the query was cancelled', { hint: 'run it again when ready' });
  }
  const started = Date.now();
  let timedOut = false;
  let stopped = false;
  const timer = limits.timeoutMs ? setTimeout(() => ((timedOut = true), engine.interrupt()), limits.timeoutMs) : undefined;
  const abort = () => engine.interrupt();
  limits.signal?.addEventListener('abort', abort, { once: true });
  let rows = 0;
  let bytes = 0;
  let truncated = false;
  try {
    for (const { table, snapshot, view } of checked.timeTravel) {
      const relation = await ws.lake.relationAt(ws.engine, table, snapshot).catch((error: Error) => {
        // The lake's reason counts files of every row; a client is told only that the snapshot cannot be read.
        throw new TributaryError(limits.scope ? `snapshot ${snapshot} of '${table}' cannot be read` : error.message, { hint: '`tributary snapshots` lists the snapshots' });
      });
      await engine.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(timeTravelName(table, snapshot))} AS ${view(relation)}`);
    }
    await engine.stream(checked.sql, onColumns, async (chunk) => {
      if (stopped) return;
      let keep = chunk;
      if (limits.maxRows !== undefined && rows + chunk.length > limits.maxRows) {
        keep = chunk.slice(0, limits.maxRows - rows);
        truncated = true;
      }
      if (limits.maxBytes !== undefined) {
        for (let i = 0; i < keep.length; i++) {
          bytes += JSON.stringify(keep[i]).length + 1;
          if (bytes > limits.maxBytes) {
            keep = keep.slice(0, i);
            truncated = true;
            break;
          }
        }
      }
      rows += keep.length;
      if (keep.length) await onRows(keep);
      // Enough: stop the engine rather than read what nobody will see.
      if (truncated) {
        stopped = true;
        engine.interrupt();
      }
    });
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    if (timedOut) throw new TributaryError(`the query ran past the ${(limits.timeoutMs ?? 0) / 1000} s limit and was stopped`, { hint: 'filter or aggregate more, or query a smaller table' });
    if (!(stopped && /interrupt/i.test(message))) {
      if (/interrupt/i.test(message)) throw new TributaryError('the query was cancelled', { hint: 'run it again when ready' });
      if (error instanceof TributaryError) throw error;
      throw queryFailure((error as Error).message, { projectDir: ws.project.dir, scoped: limits.scope !== undefined });
    }
  } finally {
    if (timer) clearTimeout(timer);
    limits.signal?.removeEventListener('abort', abort);
    engine.close();
  }
  return { rows, truncated, ms: Date.now() - started };
}

/**
 * What a person is told when the engine stopped their query. The engine's message spans lines and
 * its first line alone misled: a file's line that no longer fits its crawled table's columns said
 * "CSV Error on Line: 4" with no file, and "fix the SQL"; a value with a newline in a failed cast
 * was cut at the newline. A client (a row-scoped token) is not shown a file's path or its line,
 * which may hold rows outside its scope.
 */
export function queryFailure(message: string, options: { projectDir: string; scoped: boolean }): TributaryError {
  const csv = /CSV Error on Line: (\d+)/.exec(message);
  const json = /^Invalid Input Error: Malformed JSON in file "(.+)", at byte \d+ in line (\d+): (.*?)\.?\s*$/m.exec(message);
  if (csv || json) {
    if (options.scoped) {
      return new TributaryError('a file behind the query has a line that does not fit its table’s columns', { hint: 'tell the project’s owner: the same query run with `tributary sql` names the file and line' });
    }
    const file = json ? json[1] : /^\s*file = (.+)$/m.exec(message)?.[1]?.trim();
    const reason = json
      ? `malformed JSON where the reader stopped: ${json[3]}`
      : (/^(Error when converting column .*)$/m.exec(message)?.[1] ?? /^(.+)\n(?:Possible fixes|Possible solutions):/m.exec(message)?.[1] ?? message.split('\n')[0]!);
    const shown = file ? shownPath(file, options.projectDir) : 'a file';
    return new TributaryError(`${shown}:${json ? json[2] : csv![1]}: ${reason.replace(/\.$/, '')}`, {
      hint: 'the line does not fit the columns of the table that reads it (a file changed after it was crawled?): fix or remove the line, or crawl its folder again (`tributary crawl`) so the table fits every file',
    });
  }
  const missing = /IO Error: (?:Cannot open file|No files found that match the pattern) "([^"]+)"/.exec(message);
  if (missing) {
    const shown = options.scoped ? 'a file' : shownPath(missing[1]!, options.projectDir);
    return new TributaryError(`${shown}: a file the table reads is gone`, {
      hint: options.scoped
        ? 'tell the project’s owner: the same query run with `tributary sql` names the file'
        : 'a crawled folder’s file was moved or deleted: crawl the folder again (`tributary crawl`); a lake file was removed outside Tributary: restore it, or rebuild the table (`tributary run` its model)',
    });
  }
  if (isDiskFull(message)) {
    return options.scoped
      ? new TributaryError('the query could not run: the disk that holds the project’s data is full', { hint: 'tell the project’s owner' })
      : new TributaryError(message.split('\n')[0]!, { hint: diskFullHint() });
  }
  if (message.startsWith('Conversion Error:')) {
    // Up to the engine's pointer into the SQL; a newline inside the value is shown, not followed.
    const text = message.split(/\n\s*\nLINE \d+:/)[0]!.trim().replace(/\r?\n/g, '\\n');
    return new TributaryError(text, { hint: 'a value does not convert to the type the query asks for: TRY_CAST gives NULL where it does not, or filter those rows out' });
  }
  return new TributaryError(message.split('\n')[0]!, { hint: 'fix the SQL and run it again' });
}
