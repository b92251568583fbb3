import type { StreamTableConfig } from '../../config/config.js';
import { TributaryError } from '../../core/errors.js';
import { quoteIdent } from '../../engine/index.js';

export interface SinkWindow {
  time: string;
  sizeMs: number;
  latenessMs: number;
}

/** The one event-time window a sink's tables share (they are judged against one watermark). */
export function sinkWindow(sink: string, tables: Record<string, StreamTableConfig>): SinkWindow | undefined {
  const windows = Object.values(tables).flatMap((t) => (t.window ? [t.window] : []));
  if (!windows.length) return undefined;
  const [first] = windows;
  if (windows.some((w) => w.time !== first!.time || w.sizeSeconds !== first!.sizeSeconds || w.latenessSeconds !== first!.latenessSeconds)) {
    throw new TributaryError(`sink '${sink}' has tables with different windows`, {
      hint: 'tables of one sink share one watermark: give their windows the same time, sizeSeconds and latenessSeconds, or use two sinks',
    });
  }
  return { time: first!.time, sizeMs: first!.sizeSeconds * 1000, latenessMs: first!.latenessSeconds * 1000 };
}

/** SQL: true when the row's window ended at or before the watermark (ms since the epoch). */
export function lateCondition(window: SinkWindow, watermarkMs: number): string {
  const t = `epoch_ms(${quoteIdent(window.time)})`;
  return `(${t} - (${t} % ${window.sizeMs}) + ${window.sizeMs} <= ${watermarkMs})`;
}

/**
 * SQL, one pass over a relation: `late`, its rows whose window ended at or before `watermarkMs` (0
 * without one), and `w`, its newest event time in ms minus the allowed lateness.
 */
export function windowScan(window: SinkWindow, watermarkMs: number | undefined, relation: string): string {
  const late = watermarkMs === undefined ? '0' : `count(*) FILTER (WHERE ${lateCondition(window, watermarkMs)})`;
  return `SELECT ${late} AS late, max(epoch_ms(${quoteIdent(window.time)})) - ${window.latenessMs} AS w FROM ${relation}`;
}
