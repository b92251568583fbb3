import { TributaryError } from '../core/errors.js';
import { renderRows, type OutputFormat } from './output.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';

export const runsCommand = defineCommand({
  ...declared.runs,
  async run({ ws, io }, input) {
    const runs = await ws.metastore.runs({ limit: input.limit, target: input.target, group: input.group });
    // Programs get every field; people get the ones that fit a screen.
    if (input.format === 'json') {
      io.out(renderRows(runs, 'json'));
      return;
    }
    io.out(
      renderRows(
        runs.map((r) => ({
          run: r.run_id,
          target: r.target,
          trigger: r.trigger,
          attempt: r.attempt,
          status: r.status,
          read: r.read ?? '',
          written: r.written,
          quarantined: r.quarantined,
          started: r.started_at.slice(0, 19),
          error: r.error ?? '',
        })),
        input.format,
        undefined,
        io.tty,
      ),
    );
  },
});

/** Raw text as a table cell: a line of a screen, not a 10 MB record. */
function shortRaw<T extends { raw: string | null }>(rows: T[], format: OutputFormat): T[] {
  return format === 'table' ? rows.map((r) => ({ ...r, raw: r.raw && r.raw.length > 120 ? `${r.raw.slice(0, 117)}...` : r.raw })) : rows;
}

export const quarantineCommand = defineCommand({
  ...declared.quarantine,
  async run({ ws, io }, input) {
    const rows = await ws.metastore.quarantine({ model: input.model, runId: input.run, current: !input.all, limit: input.limit });
    // Nothing quarantined, or a name that was never there: a typo must not read as a clean load.
    if (!rows.length && input.run && !(await ws.metastore.runs({ runId: input.run, limit: 1 })).length) {
      throw new TributaryError(`no run '${input.run}'`, { hint: '`tributary runs` lists the runs, newest first' });
    }
    if (!rows.length && input.model && !(await ws.metastore.runs({ target: input.model, limit: 1 })).length) {
      throw new TributaryError(`no run of '${input.model}' is recorded`, { hint: '`tributary runs` lists what ran; `tributary ls` the project’s models' });
    }
    io.out(renderRows(shortRaw(rows, input.format), input.format, undefined, io.tty));
  },
});

/** Events refused by a stream job or the collector (not JSON, mistyped, failing a rule), with the reason. */
export const deadLettersCommand = defineCommand({
  ...declared.deadLetters,
  async run({ ws, io }, input) {
    const rows = await ws.metastore.deadLetters({ origin: input.origin, limit: input.limit });
    io.out(renderRows(shortRaw(rows, input.format), input.format, ['received_at', 'origin', 'partition', 'offset', 'reason', 'raw', 'raw_bytes'], io.tty));
  },
});

export const compactCommand = defineCommand({
  ...declared.compact,
  async run({ ws, io }, input) {
    if (!(await ws.metastore.table(input.table))) {
      throw new TributaryError(`no table '${input.table}' in the catalog`, { hint: '`tributary catalog` lists the tables; only lake tables have files to compact' });
    }
    const engine = await ws.engine.fork({ background: true });
    try {
      const result = await ws.lake.compact(engine, input.table, ws.metastore.newRunId());
      io.out(`${input.table}: compacted ${result.partitions} partition(s), ${result.filesBefore} → ${result.filesAfter} files`);
    } finally {
      engine.close();
    }
  },
});

export const vacuumCommand = defineCommand({
  ...declared.vacuum,
  async run({ ws, io }, input) {
    const result = await ws.lake.vacuum(input.olderThanSeconds === undefined ? undefined : input.olderThanSeconds * 1000);
    io.out(`${ws.lake.storage.location}: removed ${result.removed} unreferenced file(s) and ${result.expired} expired history file(s)`);
  },
});
