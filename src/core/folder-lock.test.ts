import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, isZombie, lockFolder } from './folder-lock.js';

/** A process that has exited and that its parent never reaps: `sleep 0.05` under a shell that `exec`s a long sleep. */
async function zombie(): Promise<{ pid: number; end: () => void }> {
  const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  await expect.poll(() => isZombie(pid), { timeout: 5_000 }).toBe(true);
  return { pid, end: () => parent.kill('SIGKILL') };
}

const ended: (() => void)[] = [];
afterEach(() => ended.splice(0).forEach((end) => end()));

describe.runIf(process.platform === 'linux')('folder lock', () => {
  it('a process that exited but was never reaped (a server killed with -9 in a container) is not alive', async () => {
    const { pid, end } = await zombie();
    ended.push(end);
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(process.pid)).toBe(true);
    expect(isZombie(process.pid)).toBe(false);
  });

  it("a lock whose owner is such a process is taken over, a live owner's refused", async () => {
    const { pid, end } = await zombie();
    ended.push(end);
    const dir = mkdtempSync(path.join(tmpdir(), 'tributary-lock-'));
    writeFileSync(path.join(dir, 'LOCK'), `${hostname()}\n${pid}`);
    const unlock = lockFolder(dir, 'LOCK', () => new Error('refused'));
    expect(readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe(`${hostname()}\n${process.pid}`);
    unlock();
    const live = spawn('sleep', ['30']);
    ended.push(() => live.kill('SIGKILL'));
    writeFileSync(path.join(dir, 'LOCK'), `${hostname()}\n${live.pid}`);
    expect(() => lockFolder(dir, 'LOCK', () => new Error('refused'))).toThrow('refused');
  });
});
