import type { CheckpointStats } from '../state/checkpoints.js';
import type { GroupOffsets, JobStatus } from '../stream/job.js';

/** The server process's main thread since it started (`performance.eventLoopUtilization()`, in ms). */
export interface EventLoopTime {
  active: number;
  idle: number;
}

/** The numbers `tributary status` shows, in the Prometheus text format. */
export function metricsText(
  jobs: JobStatus[],
  quality: { quarantined: number; deadLetters: Record<string, number> },
  groups: GroupOffsets[] = [],
  checkpoints?: CheckpointStats,
  eventLoop?: EventLoopTime,
): string {
  const lines: string[] = [];
  const sample = (name: string, labels: Record<string, string>, value: number) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
    lines.push(`tributary_${name}${l ? `{${l}}` : ''} ${value}`);
  };
  const metric = (name: string, help: string, type: 'gauge' | 'counter' | 'histogram', values: [Record<string, string>, number | null][]) => {
    lines.push(`# HELP tributary_${name} ${help}`, `# TYPE tributary_${name} ${type}`);
    for (const [labels, value] of values) if (value !== null) sample(name, labels, value);
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
  metric('stream_event_to_commit_seconds', 'Seconds from an event’s append to the commit of its micro-batch, every event since the job started.', 'histogram', []);
  for (const j of jobs) {
    const { bounds, cumulative, count, sum } = j.eventToCommitSeconds;
    bounds.forEach((bound, i) => sample('stream_event_to_commit_seconds_bucket', { job: j.job, le: String(bound) }, cumulative[i]!));
    sample('stream_event_to_commit_seconds_bucket', { job: j.job, le: '+Inf' }, count);
    sample('stream_event_to_commit_seconds_sum', { job: j.job }, sum);
    sample('stream_event_to_commit_seconds_count', { job: j.job }, count);
  }
  metric(
    'stream_last_batch_phase_ms',
    "Where the last micro-batch spent its time: read, stage, load, each sink's staging, then the commit.",
    'gauge',
    jobs.flatMap((j) => {
      if (!j.lastBatch) return [];
      const { read, stage, load, sinks, commit } = j.lastBatch.durationMs;
      const phases: [string, number][] = [['read', read], ['stage', stage], ['load', load], ...Object.entries(sinks).map(([sink, ms]): [string, number] => [`sink:${sink}`, ms]), ['commit', commit]];
      return phases.map(([phase, ms]) => [{ job: j.job, phase }, ms] as [Record<string, string>, number | null]);
    }),
  );
  metric('stream_up', '1 while the job runs.', 'gauge', per((j) => (j.state === 'running' ? 1 : 0)));
  const perPartition = (f: (p: GroupOffsets['partitions'][number]) => number | null) =>
    groups.flatMap((g) => g.partitions.map((p) => [{ group: g.group, job: g.job, partition: String(p.partition) }, f(p)] as [Record<string, string>, number | null]));
  metric('consumer_group_committed_offset', 'The next offset the consumer group reads in the partition: committed in every sink of its job.', 'gauge', perPartition((p) => p.committed));
  metric('consumer_group_end_offset', 'The offset the partition’s next record will get.', 'gauge', perPartition((p) => p.end));
  metric('consumer_group_lag_events', 'Records in the partition the consumer group has not committed.', 'gauge', perPartition((p) => p.lag));
  metric('dead_letters', 'Events refused, by where they were refused (a job, the collector), in the dead-letter table.', 'gauge', Object.entries(quality.deadLetters).map(([origin, n]) => [{ origin }, n]));
  metric('quarantined_rows', 'Rows of batch loads in the quarantine table.', 'gauge', [[{}, quality.quarantined]]);
  if (checkpoints) {
    // Commits wait while the warehouse checkpoints: a stream's latency spikes line up with these.
    metric('warehouse_checkpoints_total', 'Checkpoints of the embedded warehouse (its write-ahead log written into the database file).', 'counter', [[{}, checkpoints.checkpoints]]);
    metric('warehouse_checkpoint_seconds_total', 'Seconds the warehouse spent checkpointing; commits wait meanwhile.', 'counter', [[{}, checkpoints.seconds]]);
    metric('warehouse_checkpoint_longest_seconds', 'The longest checkpoint since the state opened.', 'gauge', [[{}, checkpoints.longestSeconds]]);
    metric('warehouse_checkpoints_refused_total', 'Checkpoints that did not run (a transaction was updating, or the checkpoint failed), tried again after a later commit.', 'counter', [[{}, checkpoints.refused]]);
  }
  if (eventLoop) {
    // One thread runs the collector's requests, every job's reading and staging of its micro-batches
    // and the API: a rate near 1 means they wait for each other, or for a core to run on.
    metric('event_loop_active_seconds_total', "Seconds the server's main thread was busy (running, or ready to run and waiting for a core): the collector's requests, the jobs' reading and staging, the API. Its rate is the thread's utilization.", 'counter', [[{}, eventLoop.active / 1000]]);
    metric('event_loop_idle_seconds_total', "Seconds the server's main thread waited for I/O or timers with nothing to run.", 'counter', [[{}, eventLoop.idle / 1000]]);
  }
  return `${lines.join('\n')}\n`;
}
