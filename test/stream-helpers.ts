import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Log } from '../src/log/index.js';
import { readSample, stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLI, CLICKSTREAM, ECOMMERCE_SAMPLE, REPO, writeTree } from './helpers.js';

export const sample = readSample(ECOMMERCE_SAMPLE);

/** `n` live-stamped sample events, each with an id of its own. */
export const events = (n: number) => Array.from({ length: n }, (_, i) => stamp(sample[i % sample.length]!));

/** The clickstream example's project in a folder of its own, reading `input` (a broker) instead of its log. */
export function brokerProject(input: string): string {
  return writeTree({
    'tributary.config.ts': readFileSync(path.join(CLICKSTREAM, 'tributary.config.ts'), 'utf8')
      .replace("input: process.env.CLICKSTREAM_INPUT ?? { kind: 'log', topic: 'clickstream' }", input)
      .replaceAll("'models/", `'${path.join(CLICKSTREAM, 'models')}/`)
      .replace("macros: 'macros.sql'", `macros: ${JSON.stringify(path.join(CLICKSTREAM, 'macros.sql'))}`),
  });
}

/** Appends `count` live-stamped sample events to a project's embedded log topic (as the producer would). */
export function feed(dataDir: string, topic: string, partitions: number, count: number, options: { at?: (i: number) => number; extra?: string[] } = {}): void {
  const log = new Log(path.join(dataDir, 'state', 'log'));
  const t = log.topic(topic, { partitions });
  for (let i = 0; i < count; i += 5000) {
    const n = Math.min(5000, count - i);
    t.append(Array.from({ length: n }, (_, k) => ({ value: stamp(sample[(i + k) % sample.length]!, options.at ? options.at(i + k) : Date.now()) })));
  }
  if (options.extra?.length) t.append(options.extra.map((value) => ({ value })));
  log.close();
}

export interface WorkerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output?: { results: Record<string, { events: number; seconds: number }>; status: { late: number; deadLetters: number; events: number }[] };
  stderr: string;
}

/** Runs `tributary drain` in a child process, optionally with a failpoint that kills it. */
export function runWorker(projectDir: string, dataDir: string, options: { failpoint?: string; maxBatch?: number; env?: Record<string, string> } = {}): WorkerResult {
  const args = ['drain', '--project', projectDir, '--data-dir', dataDir, '--json', ...(options.maxBatch ? ['--max-batch', String(options.maxBatch)] : [])];
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...options.env, TRIBUTARY_FAILPOINT: options.failpoint ?? '' },
  });
  const line = result.stdout.trim().split('\n').filter(Boolean).pop();
  return { code: result.status, signal: result.signal, output: line ? JSON.parse(line) : undefined, stderr: result.stderr };
}
