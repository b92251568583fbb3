import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/**
 * How a peer is measured: wall time from spawn to exit, and peak memory of the whole process
 * tree. Memory is sampled every 100 ms from /proc: the sum of VmRSS over the child and all its
 * descendants; the kernel's own high-water mark (VmHWM) of each process is read at the same
 * time, so a spike shorter than 100 ms inside one process is still caught. RssAnon (private
 * memory) is summed too: RSS also counts pages of memory-mapped files, which for a reader that
 * maps its input (polars) includes the page cache of the input file itself.
 */
export interface Measurement {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  wallSeconds: number;
  /** max over samples of Σ VmRSS (process tree), or the largest single VmHWM if larger. */
  peakRssBytes: number;
  /** max over samples of Σ RssAnon (process tree): private memory, without mapped files. */
  peakAnonBytes: number;
  peakTreeRssBytes: number;
  peakSingleHwmBytes: number;
  /**
   * CPU seconds (user + system) of the child and the descendants it waited for, from this
   * process's own count of its reaped children: exact when no other child of the bench ended
   * meanwhile.
   */
  cpuSeconds: number;
  samples: number;
  logFile: string;
}

/** CPU seconds of this process's reaped children so far (cutime + cstime of /proc/self/stat). */
async function childrenCpuSeconds(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ');
  // After the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14; ticks of 1/100 s.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr of the child go here. */
  logFile: string;
  /** Called about every `heartbeatMs` with the running numbers. */
  onHeartbeat?: (elapsedSeconds: number, rssBytes: number) => void;
  heartbeatMs?: number;
  /** Kill the tree after this long. */
  timeoutSeconds?: number;
}

async function statusKb(pid: number): Promise<{ rss: number; hwm: number; anon: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
    return { rss: field('VmRSS'), hwm: field('VmHWM'), anon: field('RssAnon') };
  } catch {
    return undefined; // exited between listing and reading
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  try {
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const part of text.split(/\s+/)) if (part) out.push(Number(part));
    }
  } catch {
    // gone
  }
  return out;
}

async function tree(root: number): Promise<number[]> {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.includes(pid)) continue;
    seen.push(pid);
    queue.push(...(await childrenOf(pid)));
  }
  return seen;
}

export async function spawnMeasured(command: string, args: string[], options: SpawnOptions): Promise<Measurement> {
  const log = createWriteStream(options.logFile);
  log.write(`$ ${[command, ...args].join(' ')}\n`);
  const cpuBefore = await childrenCpuSeconds();
  const started = performance.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });

  let peakTree = 0;
  let peakHwm = 0;
  let peakAnon = 0;
  let lastRss = 0;
  let samples = 0;
  let sampling = false;
  const sample = async () => {
    if (sampling || child.pid === undefined) return;
    sampling = true;
    try {
      let sum = 0;
      let anon = 0;
      for (const pid of await tree(child.pid)) {
        const s = await statusKb(pid);
        if (!s) continue;
        sum += s.rss * 1024;
        anon += s.anon * 1024;
        peakHwm = Math.max(peakHwm, s.hwm * 1024);
      }
      if (sum > 0) {
        lastRss = sum;
        peakTree = Math.max(peakTree, sum);
        peakAnon = Math.max(peakAnon, anon);
        samples++;
      }
    } finally {
      sampling = false;
    }
  };
  const sampler = setInterval(() => void sample(), 100);
  const heartbeat = options.onHeartbeat
    ? setInterval(() => options.onHeartbeat!((performance.now() - started) / 1000, lastRss), options.heartbeatMs ?? 10_000)
    : undefined;
  const killer = options.timeoutSeconds
    ? setTimeout(() => {
        log.write(`\n[bench] timeout after ${options.timeoutSeconds}s: killing\n`);
        child.kill('SIGKILL');
      }, options.timeoutSeconds * 1000)
    : undefined;

  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, sig) => resolve([code, sig]));
  });
  const wallSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (heartbeat) clearInterval(heartbeat);
  if (killer) clearTimeout(killer);
  await closed; // the pipes have drained into the log
  await new Promise<void>((resolve) => log.end(() => resolve()));
  const cpuSeconds = (await childrenCpuSeconds()) - cpuBefore;
  return {
    command: [command, ...args].join(' '),
    exitCode,
    signal,
    wallSeconds,
    peakRssBytes: Math.max(peakTree, peakHwm),
    peakAnonBytes: peakAnon,
    peakTreeRssBytes: peakTree,
    peakSingleHwmBytes: peakHwm,
    cpuSeconds,
    samples,
    logFile: options.logFile,
  };
}

/** Runs a short helper command to completion and returns its stdout (throws on failure). */
export async function runCapture(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`);
  return out;
}

/**
 * Reads inputs once so that every step starts with them in the page cache, not only the first; returns the seconds it took.
 * It first waits for the kernel to write back what is dirty: an input generated just before would otherwise be written to
 * disk during the first step (just after the 9 GB clickstream file was made, the first peer took 61 s; 40 s with the file reused).
 */
export async function warmPageCache(files: readonly string[]): Promise<number> {
  const started = performance.now();
  await runCapture('sync', []);
  for (const file of files) for await (const chunk of createReadStream(file, { highWaterMark: 8 << 20 })) void chunk;
  return (performance.now() - started) / 1000;
}
