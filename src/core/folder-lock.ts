import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

/** The process that holds a folder's lock: its host and pid. */
export interface LockOwner {
  host: string;
  pid: number;
}

/**
 * Takes a folder for this process alone: a lock file made with O_EXCL, naming this host and pid.
 * A lock left by a process of this host that is gone is taken over; one held by a live process,
 * or by a process of another host (whose life cannot be checked from here), makes `refuse` throw.
 * Returns what gives the folder back.
 */
export function lockFolder(dir: string, name: string, refuse: (owner: LockOwner, file: string) => Error): () => void {
  const file = path.join(dir, name);
  const here = hostname();
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${here}\n${process.pid}`);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        closeSync(fd);
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = ownerOf(file);
      if (owner && (owner.host !== here || (owner.pid !== process.pid && isAlive(owner.pid)))) throw refuse(owner, file);
      rmSync(file, { force: true }); // left by a process of this host that died
    }
  }
  throw refuse(ownerOf(file) ?? { host: 'unknown', pid: 0 }, file);
}

function ownerOf(file: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // Earlier versions wrote the pid alone.
  const [first, second] = text.split('\n');
  return second === undefined ? { host: hostname(), pid: Number(first) } : { host: first!, pid: Number(second) };
}

/** Whether a process of this host with this pid is running (one of another user's counts: it cannot be signalled, but it runs). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A process that has exited but whose parent has not reaped it yet: it still takes a signal. In a
 * container whose first process reaps nothing, a server killed with -9 stays so, and its lock and
 * record looked held for as long. Linux says so in /proc; elsewhere a process is taken as running.
 */
export function isZombie(pid: number): boolean {
  try {
    // The state follows the command name in parentheses, which may itself hold ") ".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
