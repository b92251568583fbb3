import { constants } from 'node:os';

let received: NodeJS.Signals | undefined;

/**
 * Ctrl+C (or a SIGTERM) while a command works here: the first one stops the work the way a
 * scheduled task's timeout does (running statements are interrupted, nothing more commits, the
 * run is recorded as stopped) and the command ends with what it did; a second one quits at once.
 */
export function interruptOnSignals(say: (message: string) => void): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(exitCodeOf(signal));
    received = signal;
    say(`stopping on ${signal}: the work running now is interrupted and commits nothing (${signal === 'SIGINT' ? 'Ctrl+C' : signal} again quits at once)`);
    abort.abort(new Error(signal === 'SIGINT' ? 'Ctrl+C' : signal));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return {
    signal: abort.signal,
    dispose: () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    },
  };
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** The exit code a shell gives a command a signal stopped (130 for Ctrl+C), or none when no signal came. */
export function interruptedExitCode(): number | undefined {
  return received && exitCodeOf(received);
}

function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
