/**
 * A job's tasks as a graph: validation (unknown dependencies, cycles, reserved names) and, given the
 * states of the tasks of a run, which tasks may start and which are settled by their trigger rule.
 */
import type { TaskState } from './store.js';

export const TRIGGER_RULES = ['all_success', 'all_done', 'one_failed'] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

/** Hook names: a task may not take one, so `task.onFailure` in logs and the UI is never ambiguous. */
export const HOOK_NAMES = ['onFailure', 'onSuccess', 'onRetry'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface DagNode {
  name: string;
  after: readonly string[];
  triggerRule: TriggerRule;
}

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(['success', 'failed', 'skipped', 'upstream_failed']);
const FAILED_STATES: ReadonlySet<TaskState> = new Set(['failed', 'upstream_failed']);

/** Every problem with a job's graph, as sentences naming the tasks involved. Empty when valid. */
export function validateDag(tasks: Readonly<Record<string, { after?: readonly string[] | undefined }>>): string[] {
  const names = Object.keys(tasks);
  const known = new Set(names);
  const problems: string[] = [];
  for (const name of names) {
    if ((HOOK_NAMES as readonly string[]).includes(name)) {
      problems.push(`task '${name}' is named like a hook (${HOOK_NAMES.join(', ')}); rename it`);
    }
    for (const upstream of tasks[name]?.after ?? []) {
      if (upstream === name) problems.push(`task '${name}' depends on itself`);
      else if (!known.has(upstream)) {
        problems.push(`task '${name}' runs after '${upstream}', which is not a task of this job (tasks: ${names.join(', ')})`);
      }
    }
  }
  const cycle = findCycle(names, (name) => (tasks[name]?.after ?? []).filter((upstream) => known.has(upstream) && upstream !== name));
  if (cycle) problems.push(`tasks form a cycle: ${cycle.join(' → ')}`);
  return problems;
}

/** A dependency cycle as a path that ends where it starts (a → b → a), or undefined. Iterative DFS. */
function findCycle(names: readonly string[], upstreamOf: (name: string) => readonly string[]): string[] | undefined {
  const visiting = new Set<string>();
  const done = new Set<string>();
  for (const root of names) {
    if (done.has(root)) continue;
    const path: string[] = [];
    const stack: Array<{ name: string; next: number }> = [{ name: root, next: 0 }];
    visiting.add(root);
    path.push(root);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const upstream = upstreamOf(frame.name);
      if (frame.next < upstream.length) {
        const child = upstream[frame.next++]!;
        if (visiting.has(child)) {
          // Dependencies point upstream; reverse so the path reads in execution order.
          return [...path.slice(path.indexOf(child)), child].reverse();
        }
        if (!done.has(child)) {
          visiting.add(child);
          path.push(child);
          stack.push({ name: child, next: 0 });
        }
      } else {
        visiting.delete(frame.name);
        done.add(frame.name);
        path.pop();
        stack.pop();
      }
    }
  }
  return undefined;
}

/** Upstream before downstream (Kahn's algorithm); the graph must be valid. */
export function topologicalOrder(nodes: readonly DagNode[]): DagNode[] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const pending = new Map(nodes.map((node) => [node.name, node.after.filter((upstream) => byName.has(upstream)).length]));
  const downstream = new Map<string, string[]>();
  for (const node of nodes) {
    for (const upstream of node.after) downstream.get(upstream)?.push(node.name) ?? downstream.set(upstream, [node.name]);
  }
  const order: DagNode[] = [];
  const ready = nodes.filter((node) => pending.get(node.name) === 0).map((node) => node.name);
  for (let index = 0; index < ready.length; index++) {
    const name = ready[index]!;
    order.push(byName.get(name)!);
    for (const child of downstream.get(name) ?? []) {
      const left = pending.get(child)! - 1;
      pending.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  return order;
}

/** The tasks downstream of `task`, transitively, in no particular order. */
export function downstreamOf(nodes: readonly DagNode[], task: string): string[] {
  const children = new Map<string, string[]>();
  for (const node of nodes) {
    for (const upstream of node.after) children.get(upstream)?.push(node.name) ?? children.set(upstream, [node.name]);
  }
  const found = new Set<string>();
  const queue = [task];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (!found.has(child)) {
        found.add(child);
        queue.push(child);
      }
    }
  }
  return [...found];
}

export type TriggerDecision = 'ready' | 'wait' | 'skipped' | 'upstream_failed';

/**
 * What a task waiting on its upstream should do, by trigger rule:
 * - all_success: start when every upstream succeeded; upstream_failed as soon as one failed; skipped if one
 *   was skipped.
 * - all_done: start once every upstream finished, whatever the outcome.
 * - one_failed: start as soon as one upstream failed; skipped if all finished without a failure.
 */
export function decide(rule: TriggerRule, upstreamStates: readonly TaskState[]): TriggerDecision {
  const allDone = upstreamStates.every((state) => TERMINAL_TASK_STATES.has(state));
  const anyFailed = upstreamStates.some((state) => FAILED_STATES.has(state));
  switch (rule) {
    case 'all_success':
      if (anyFailed) return 'upstream_failed';
      if (upstreamStates.includes('skipped')) return 'skipped';
      return upstreamStates.every((state) => state === 'success') ? 'ready' : 'wait';
    case 'all_done':
      return allDone ? 'ready' : 'wait';
    case 'one_failed':
      if (anyFailed) return 'ready';
      return allDone ? 'skipped' : 'wait';
  }
}

export interface RunPlan {
  /** Tasks whose upstream allows them to start now. */
  ready: string[];
  /** Tasks settled without running, in upstream-first order (a skip can cascade downstream). */
  settled: Array<{ task: string; state: 'skipped' | 'upstream_failed' }>;
}

/** Only tasks still waiting for their upstream (scheduled or queued) are planned; others keep their state. */
export function planRun(order: readonly DagNode[], states: ReadonlyMap<string, TaskState>): RunPlan {
  const current = new Map(states);
  const plan: RunPlan = { ready: [], settled: [] };
  for (const node of order) {
    const state = current.get(node.name);
    if (state !== 'scheduled' && state !== 'queued') continue;
    const upstream = node.after.filter((name) => current.has(name)).map((name) => current.get(name)!);
    const decision = decide(node.triggerRule, upstream);
    if (decision === 'ready') plan.ready.push(node.name);
    else if (decision !== 'wait') {
      plan.settled.push({ task: node.name, state: decision });
      current.set(node.name, decision);
    }
  }
  return plan;
}

/** A finished run failed if any of its tasks failed or could not run because of a failure. */
export function runOutcome(states: Iterable<TaskState>): 'success' | 'failed' | undefined {
  let failed = false;
  for (const state of states) {
    if (!TERMINAL_TASK_STATES.has(state)) return undefined;
    if (FAILED_STATES.has(state)) failed = true;
  }
  return failed ? 'failed' : 'success';
}
