/**
 * Named places where a test can kill the process outright, to prove recovery from a crash at
 * exactly that instant. `TRIBUTARY_FAILPOINT=after-sink:serving@3` sends SIGKILL to this process
 * the third time execution reaches `failpoint('after-sink:serving')`. Unset, it costs one lookup.
 */
const plan = new Map<string, number>();
for (const entry of (process.env.TRIBUTARY_FAILPOINT ?? '').split(',').filter(Boolean)) {
  const [name, at] = entry.split('@');
  plan.set(name!, Number(at ?? 1));
}
const hits = new Map<string, number>();

export function failpoint(name: string): void {
  const at = plan.get(name);
  if (at === undefined) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count >= at) process.kill(process.pid, 'SIGKILL');
}
