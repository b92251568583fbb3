import { describe, expect, it } from 'vitest';
import { decide, downstreamOf, planRun, runOutcome, topologicalOrder, validateDag, type DagNode } from './dag.js';
import type { TaskState } from './store.js';

describe('validateDag', () => {
  it('names unknown dependencies and the tasks that exist', () => {
    expect(validateDag({ load: {}, check: { after: ['lod'] } })).toEqual([
      "task 'check' runs after 'lod', which is not a task of this job (tasks: load, check)",
    ]);
  });

  it('names a cycle as a path in execution order', () => {
    expect(validateDag({ a: { after: ['c'] }, b: { after: ['a'] }, c: { after: ['b'] }, d: {} })).toEqual(['tasks form a cycle: a → b → c → a']);
    expect(validateDag({ a: { after: ['a'] } })).toEqual(["task 'a' depends on itself"]);
  });

  it('refuses a task named like a hook', () => {
    expect(validateDag({ onFailure: {} })[0]).toMatch(/named like a hook/);
  });
});

const node = (name: string, after: string[] = [], triggerRule: DagNode['triggerRule'] = 'all_success'): DagNode => ({ name, after, triggerRule });

describe('trigger rules', () => {
  it('all_success waits for every upstream success; fails fast; skips on a skip', () => {
    expect(decide('all_success', ['success', 'running'])).toBe('wait');
    expect(decide('all_success', ['success', 'success'])).toBe('ready');
    expect(decide('all_success', ['failed', 'running'])).toBe('upstream_failed');
    expect(decide('all_success', ['skipped', 'success'])).toBe('skipped');
    expect(decide('all_success', [])).toBe('ready');
  });

  it('all_done runs once everything upstream finished, however it finished', () => {
    expect(decide('all_done', ['failed', 'running'])).toBe('wait');
    expect(decide('all_done', ['failed', 'upstream_failed', 'skipped', 'success'])).toBe('ready');
  });

  it('one_failed runs on the first failure, and is skipped when nothing failed', () => {
    expect(decide('one_failed', ['failed', 'running'])).toBe('ready');
    expect(decide('one_failed', ['success', 'running'])).toBe('wait');
    expect(decide('one_failed', ['success', 'skipped'])).toBe('skipped');
  });
});

describe('planRun', () => {
  it('cascades upstream_failed and skips in one pass, and finds ready tasks', () => {
    const order = topologicalOrder([
      node('extract'),
      node('load', ['extract']),
      node('report', ['load']),
      node('alert', ['load'], 'one_failed'),
      node('cleanup', ['report', 'alert'], 'all_done'),
      node('other'),
    ]);
    const states = new Map<string, TaskState>([
      ['extract', 'failed'],
      ['load', 'scheduled'],
      ['report', 'scheduled'],
      ['alert', 'scheduled'],
      ['cleanup', 'scheduled'],
      ['other', 'scheduled'],
    ]);
    const plan = planRun(order, states);
    expect(plan.settled).toEqual([
      { task: 'load', state: 'upstream_failed' },
      { task: 'report', state: 'upstream_failed' },
    ]);
    expect(plan.ready.sort()).toEqual(['alert', 'other']);
  });

  it('orders upstream first and finds everything downstream', () => {
    const nodes = [node('c', ['b']), node('b', ['a']), node('a'), node('d', ['a'])];
    expect(topologicalOrder(nodes).map((n) => n.name)).toEqual(['a', 'b', 'd', 'c']);
    expect(downstreamOf(nodes, 'a').sort()).toEqual(['b', 'c', 'd']);
  });

  it('a run fails when any task failed or could not run because of one', () => {
    expect(runOutcome(['success', 'skipped'])).toBe('success');
    expect(runOutcome(['success', 'upstream_failed'])).toBe('failed');
    expect(runOutcome(['success', 'up_for_retry'])).toBeUndefined();
  });
});
