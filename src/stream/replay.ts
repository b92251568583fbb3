import type { ReplayerDefinition } from '../config/modules.js';

export interface ReplayOptions {
  next: (count: number, now: number) => string[];
  bursts: ReplayerDefinition['bursts'];
  /** Events per second; omitted, bursts as the replayer describes the original producer. */
  rate?: number;
  /** Stop after this many events. */
  count?: number;
  send: (events: string[]) => Promise<void>;
  /** Most events in one send (a collector's request limit): a replay behind its schedule catches up in several. */
  maxPerSend?: number;
  signal?: AbortSignal;
  random?: () => number;
}

/** Sends a replayer's events at a rate, or in bursts, until `count` is reached or the signal aborts. */
export async function replay(options: ReplayOptions): Promise<number> {
  const random = options.random ?? Math.random;
  let sent = 0;
  const left = () => (options.count === undefined ? Infinity : options.count - sent);
  const started = Date.now();
  const { minEvents, maxEvents, minMs, maxMs } = options.bursts;
  while (left() > 0 && !options.signal?.aborted) {
    let size: number;
    let wait: number;
    if (options.rate) {
      // Send in ticks of 50 ms, catching up to the schedule if a send ran long.
      const due = Math.floor(((Date.now() - started + 50) / 1000) * options.rate);
      size = Math.max(0, Math.min(due - sent, left(), options.maxPerSend ?? Infinity));
      wait = due - sent > size ? 0 : 50;
    } else {
      size = Math.min(minEvents + Math.floor(random() * (maxEvents - minEvents + 1)), left());
      wait = minMs + random() * (maxMs - minMs);
    }
    if (size > 0) {
      await options.send(options.next(size, Date.now()));
      sent += size;
    }
    if (left() > 0) await sleep(wait, options.signal);
  }
  return sent;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    signal?.addEventListener('abort', stop, { once: true });
  });
}
