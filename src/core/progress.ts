import cliProgress from 'cli-progress';

export interface ProgressUpdate {
  rows?: number;
  bytes?: number;
  /** 0–1 when known; drives the ETA. */
  fraction?: number;
}

/** How long work ended: done, or stopped part way (Ctrl+C, a timeout) or failed, when it did not finish. */
export type ProgressEnd = 'done' | 'stopped' | 'failed';

export interface Progress {
  update(update: ProgressUpdate): void;
  done(summary?: string, end?: ProgressEnd): void;
}

export interface ProgressOptions {
  label: string;
  /** Bytes the work will read, when known: turns a fraction into MB/s. */
  totalBytes?: number;
  stream?: NodeJS.WriteStream;
  /** Plain log lines at this interval when the stream is not a terminal. */
  logEveryMs?: number;
  quiet?: boolean;
}

const MB = 1024 * 1024;

/**
 * Rows, MB/s and ETA for long work: a live bar on a terminal, a plain line every few seconds
 * otherwise (CI logs, pipes), so both people and log collectors can follow it.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const started = Date.now();
  let last: ProgressUpdate = {};
  if (options.quiet) return { update: () => undefined, done: () => undefined };

  const describe = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const bytes = last.bytes ?? (options.totalBytes && last.fraction !== undefined ? options.totalBytes * last.fraction : undefined);
    const rate = bytes !== undefined ? `${(bytes / MB / seconds).toFixed(0)} MB/s` : '';
    const rows = last.rows !== undefined ? `${last.rows.toLocaleString('en-US')} rows` : '';
    const eta =
      last.fraction && last.fraction > 0.01 ? `ETA ${Math.max(0, (seconds / last.fraction - seconds)).toFixed(0)}s` : '';
    return { rows, rate, eta, seconds };
  };

  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${options.label} [{bar}] {percentage}% | {rows} | {rate} | {eta}`, stream, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    bar.start(100, 0, { rows: '', rate: '', eta: '' });
    return {
      update(update) {
        last = { ...last, ...update };
        const d = describe();
        bar.update(Math.round((last.fraction ?? 0) * 100), d);
      },
      done(summary, end = 'done') {
        bar.update(end === 'done' ? 100 : Math.round((last.fraction ?? 0) * 100), { ...describe(), eta: end });
        bar.stop();
        if (summary) stream.write(`${summary}\n`);
      },
    };
  }

  const every = options.logEveryMs ?? 5000;
  let lastLog = started;
  return {
    update(update) {
      last = { ...last, ...update };
      if (Date.now() - lastLog < every) return;
      lastLog = Date.now();
      const d = describe();
      const pct = last.fraction !== undefined ? `${(last.fraction * 100).toFixed(0)}%` : '';
      stream.write(`${options.label}: ${[pct, d.rows, d.rate, d.eta].filter(Boolean).join(', ')}\n`);
    },
    done(summary, end = 'done') {
      const d = describe();
      stream.write(`${options.label}: ${end} ${end === 'done' ? 'in' : 'after'} ${d.seconds.toFixed(1)}s${summary ? `, ${summary}` : ''}\n`);
    },
  };
}

/**
 * Follows a long DuckDB statement through the engine's progress counter until it settles.
 */
export async function withQueryProgress<T>(
  work: Promise<T>,
  poll: () => { percentage: number; rowsProcessed: number },
  progress: Progress,
  intervalMs = 250,
): Promise<T> {
  const timer = setInterval(() => {
    const p = poll();
    if (p.percentage >= 0) progress.update({ fraction: Math.min(p.percentage / 100, 1), rows: p.rowsProcessed || undefined });
  }, intervalMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
