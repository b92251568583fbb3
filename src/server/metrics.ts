import type { JobStatus } from '../stream/job.js';

/** The numbers `tributary status` shows, in the Prometheus text format. */
export function metricsText(jobs: JobStatus[], quality: { quarantined: number; deadLetters: Record<string, number> }): string {
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', values: [Record<string, string>, number | null][]) => {
    lines.push(`# HELP tributary_${name} ${help}`, `# TYPE tributary_${name} ${type}`);
    for (const [labels, value] of values) {
      if (value === null) continue;
      const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
      lines.push(`tributary_${name}${l ? `{${l}}` : ''} ${value}`);
    }
  };
  const per = (f: (j: JobStatus) => number | null) => jobs.map((j) => [{ job: j.job }, f(j)] as [Record<string, string>, number | null]);
  metric('stream_events_total', 'Events committed by the job.', 'counter', per((j) => j.events));
  metric('stream_batches_total', 'Micro-batches committed.', 'counter', per((j) => j.batches));
  metric('stream_events_per_second', 'Events per second over the last 10 s.', 'gauge', per((j) => j.eventsPerSecond));
  metric('stream_lag_events', 'Events in the input not yet committed.', 'gauge', per((j) => j.lag));
  metric('stream_dead_letters_total', 'Events that went to the dead-letter table.', 'counter', per((j) => j.deadLetters));
  metric('stream_late_events_total', 'Events that arrived after their window closed.', 'counter', per((j) => j.late));
  metric('stream_latency_ms', 'Event-to-commit latency over recent events.', 'gauge', [
    ...jobs.map((j) => [{ job: j.job, quantile: '0.5' }, j.latencyMs.p50] as [Record<string, string>, number | null]),
    ...jobs.map((j) => [{ job: j.job, quantile: '0.99' }, j.latencyMs.p99] as [Record<string, string>, number | null]),
  ]);
  metric(
    'stream_last_batch_phase_ms',
    'Where the last micro-batch spent its time: read, stage, load, then each sink.',
    'gauge',
    jobs.flatMap((j) => {
      if (!j.lastBatch) return [];
      const { read, stage, load, sinks } = j.lastBatch.durationMs;
      const phases: [string, number][] = [['read', read], ['stage', stage], ['load', load], ...Object.entries(sinks).map(([sink, ms]): [string, number] => [`sink:${sink}`, ms])];
      return phases.map(([phase, ms]) => [{ job: j.job, phase }, ms] as [Record<string, string>, number | null]);
    }),
  );
  metric('stream_up', '1 while the job runs.', 'gauge', per((j) => (j.state === 'running' ? 1 : 0)));
  metric('dead_letters', 'Events refused, by where they were refused (a job, the collector), in the dead-letter table.', 'gauge', Object.entries(quality.deadLetters).map(([origin, n]) => [{ origin }, n]));
  metric('quarantined_rows', 'Rows of batch loads in the quarantine table.', 'gauge', [[{}, quality.quarantined]]);
  return `${lines.join('\n')}\n`;
}
