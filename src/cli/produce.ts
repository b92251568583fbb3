import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import type { Project } from '../core/project.js';
import { Log } from '../stream/log/index.js';
import type { JobStatus } from '../stream/job.js';
import { readSample, replay } from '../stream/producer.js';

function authHeaders(): Record<string, string> {
  const token = process.env.TRIBUTARY_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function request(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, headers: { ...authHeaders(), ...(init?.headers ?? {}) } });
  } catch (error) {
    throw new TributaryError(`cannot reach ${url}: ${(error as Error).cause ?? (error as Error).message}`, {
      hint: 'start the server with `tributary up` (or pass --to / --url)',
    });
  }
}

/** Replays the sample into a running server's collector, printing what was accepted. */
export async function produceToServer(options: { to: string; topic: string; rate?: number; count?: number; sample: string }): Promise<void> {
  const sample = readSample(options.sample);
  const url = `${options.to.replace(/\/$/, '')}/v1/topics/${encodeURIComponent(options.topic)}`;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  let total = 0;
  let lastReport = Date.now();
  const sent = await replay({
    sample,
    rate: options.rate,
    count: options.count,
    signal: abort.signal,
    send: async (events) => {
      const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.join('\n') });
      const body = (await response.json()) as { accepted?: number; rejected?: unknown[]; error?: string; hint?: string };
      if (!response.ok) throw new TributaryError(`the collector refused the batch: ${body.error}`, { hint: body.hint ?? 'check the server log' });
      total += body.accepted ?? 0;
      if (Date.now() - lastReport > 5000 || !options.rate) {
        lastReport = Date.now();
        console.error(`sent ${total.toLocaleString('en-US')} events to ${options.topic}`);
      }
    },
  });
  console.error(`done: ${sent.toLocaleString('en-US')} events sent`);
}

export async function fetchStatus(url: string): Promise<{ jobs: JobStatus[] }> {
  const response = await request(`${url.replace(/\/$/, '')}/v1/status`);
  if (!response.ok) throw new TributaryError(`status request failed with ${response.status}`, { hint: 'is TRIBUTARY_TOKEN set to the server’s token?' });
  return (await response.json()) as { jobs: JobStatus[] };
}

export async function queryServer(url: string, sql: string): Promise<{ columns: { name: string }[]; rows: Record<string, unknown>[] }> {
  const response = await request(`${url.replace(/\/$/, '')}/api/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql, limit: 10_000 }) });
  const body = (await response.json()) as { columns: { name: string }[]; rows: Record<string, unknown>[]; error?: string; hint?: string };
  if (!response.ok) throw new TributaryError(body.error ?? `query failed with ${response.status}`, { hint: body.hint });
  return body;
}

/** Replays the sample straight into a project's embedded log (when no server owns it). */
export async function produceIntoLog(project: Project, options: { topic: string; rate?: number; count?: number; sample: string }): Promise<void> {
  const config = project.config.topics[options.topic];
  if (!config) throw new TributaryError(`no topic '${options.topic}' in project ${project.config.name}`, { hint: `topics: ${Object.keys(project.config.topics).join(', ') || '(none)'}` });
  const log = new Log(path.join(project.stateDir, 'log'));
  try {
    const topic = log.topic(options.topic, { partitions: config.partitions });
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    const sent = await replay({
      sample: readSample(options.sample),
      rate: options.rate,
      count: options.count,
      signal: abort.signal,
      send: async (events) => void topic.append(events.map((value) => ({ value }))),
    });
    console.error(`done: ${sent.toLocaleString('en-US')} events appended to ${options.topic}`);
  } finally {
    log.close();
  }
}
