import { describe, expect, it } from 'vitest';
import { applyEvent, formatDuration, joinLog, layoutDag, logLine, tasksInGraphOrder, type JobTask, type RunView } from './jobs.js';

const fanOutAndJoin: JobTask[] = [
  { name: 'notify', kind: 'webhook', after: ['build_mart'] },
  { name: 'extract', kind: 'sensor', after: [] },
  { name: 'load_orders', kind: 'model', after: ['extract'] },
  { name: 'load_customers', kind: 'model', after: ['extract'] },
  { name: 'build_mart', kind: 'model', after: ['load_orders', 'load_customers'] },
];

describe('layoutDag', () => {
  it('puts each task one column right of its deepest upstream, and centres short columns', () => {
    const layout = layoutDag(fanOutAndJoin);
    const at = Object.fromEntries(layout.nodes.map((n) => [n.task.name, [n.depth, n.row]]));
    expect(at).toEqual({ extract: [0, 0.5], load_orders: [1, 0], load_customers: [1, 1], build_mart: [2, 0.5], notify: [3, 0.5] });
    expect(layout.columns).toBe(4);
    expect(layout.rows).toBe(2);
    expect(layout.edges).toHaveLength(5);
  });

  it('orders a column by the rows of its upstreams, so a second fan-out does not cross the first', () => {
    const tasks: JobTask[] = [
      { name: 'a', kind: 'sql', after: [] },
      { name: 'b', kind: 'sql', after: [] },
      { name: 'from_b', kind: 'sql', after: ['b'] },
      { name: 'from_a', kind: 'sql', after: ['a'] },
    ];
    const rows = Object.fromEntries(layoutDag(tasks).nodes.map((n) => [n.task.name, n.row]));
    expect(rows).toEqual({ a: 0, b: 1, from_a: 0, from_b: 1 });
  });

  it('survives a cycle in a bad response instead of hanging', () => {
    const layout = layoutDag([
      { name: 'x', kind: 'sql', after: ['y'] },
      { name: 'y', kind: 'sql', after: ['x'] },
    ]);
    expect(layout.nodes).toHaveLength(2);
  });

  it('lists tasks upstream first for the grid', () => {
    expect(tasksInGraphOrder(fanOutAndJoin).map((t) => t.name)).toEqual(['extract', 'load_orders', 'load_customers', 'build_mart', 'notify']);
  });
});

describe('joinLog', () => {
  const a = logLine('2024-01-05T06:00:00.000Z', 'attempt 1 started');
  const b = logLine('2024-01-05T06:00:01.000Z', 'reading orders');
  const c = logLine('2024-01-05T06:00:02.000Z', 'wrote 120 rows');
  it('appends live lines the fetch did not have, once', () => {
    expect(joinLog(`${a}\n${b}\n`, [b, c])).toBe([a, b, c].join('\n'));
    expect(joinLog(`${a}\n`, [b, c])).toBe([a, b, c].join('\n'));
    expect(joinLog(`${a}\n${b}\n${c}\n`, [b, c])).toBe([a, b, c].join('\n'));
    expect(joinLog('', [a])).toBe(a);
    // Lines of a running attempt are not stored until it ends: the live ones are kept, in order.
    expect(joinLog(`${a}\n`, [a, b, c])).toBe([a, b, c].join('\n'));
  });
});

describe('applyEvent', () => {
  const run = (id: string, start: string): RunView => ({
    id,
    job: 'daily',
    kind: 'scheduled',
    ds: start.slice(0, 10),
    intervalStart: start,
    intervalEnd: start,
    state: 'success',
    createdAt: start,
    startedAt: start,
    endedAt: start,
    tasks: [{ task: 'extract', state: 'success', attempt: 1, startedAt: start, endedAt: start, durationMs: 5, error: null }],
  });
  const tasks: JobTask[] = [{ name: 'extract', kind: 'sensor', after: [] }];

  it('adds a new run as the newest column, its tasks scheduled, and keeps at most `keep` runs', () => {
    const runs = [run('r2', '2024-01-02T00:00:00.000Z'), run('r1', '2024-01-01T00:00:00.000Z')];
    const next = applyEvent(runs, { type: 'run', run: { id: 'r3', job: 'daily', kind: 'manual', ds: '2024-01-03', intervalStart: '2024-01-03T00:00:00.000Z', intervalEnd: '2024-01-04T00:00:00.000Z', state: 'queued', createdAt: '2024-01-04T00:00:00.000Z' } }, tasks, 2);
    expect(next.map((r) => r.id)).toEqual(['r3', 'r2']);
    expect(next[0]!.tasks[0]!.state).toBe('scheduled');
  });

  it('a task event updates its cell: a new attempt clears the last error, a failure records it', () => {
    const runs = [run('r1', '2024-01-01T00:00:00.000Z')];
    const running = applyEvent(runs, { type: 'task', job: 'daily', runId: 'r1', task: 'extract', state: 'running', attempt: 2, at: '2024-01-02T00:00:00.000Z' }, tasks, 25);
    expect(running[0]!.tasks[0]).toMatchObject({ state: 'running', attempt: 2, startedAt: '2024-01-02T00:00:00.000Z', endedAt: null, durationMs: null });
    const failed = applyEvent(running, { type: 'task', job: 'daily', runId: 'r1', task: 'extract', state: 'failed', attempt: 2, at: '2024-01-02T00:00:03.000Z', durationMs: 3000, error: 'boom' }, tasks, 25);
    expect(failed[0]!.tasks[0]).toMatchObject({ state: 'failed', endedAt: '2024-01-02T00:00:03.000Z', durationMs: 3000, error: 'boom' });
    expect(runs[0]!.tasks[0]!.state).toBe('success');
  });
});

describe('formatDuration', () => {
  it('reads at every scale', () => {
    expect([850, 12_340, 245_000, 7_380_000].map(formatDuration)).toEqual(['850 ms', '12.3 s', '4 min 05 s', '2 h 03 min']);
  });
});
