import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { TributaryError, errorMessage } from '../core/errors.js';
import { PACKAGE_ROOT, installedAsDependency, packageInfo } from '../core/package.js';
import { loadGenerator, loadReplayer } from '../config/modules.js';
import { createProgress } from '../core/progress.js';
import { loadProject, type Project } from '../config/project.js';
import { Log } from '../log/index.js';
import { runModels } from '../models/index.js';
import { openWorkspace } from '../state/workspace.js';
import { MAX_EVENTS_PER_REQUEST } from '../server/collector.js';
import { replay } from '../stream/replay.js';
import { request, runningServer } from './remote.js';


function list(kind: string, entries: Record<string, { description?: string }>, project: Project): void {
  const names = Object.entries(entries);
  if (!names.length) {
    console.log(`project ${project.config.name} declares no ${kind}`);
    return;
  }
  console.log(`${kind} of ${project.config.name}:\n${names.map(([name, e]) => `  ${name}${e.description ? ` — ${e.description}` : ''}`).join('\n')}`);
}

function options(values: string[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (values ?? []).map((v) => {
      const eq = v.indexOf('=');
      if (eq <= 0) throw new TributaryError(`expected key=value, got '${v}'`, { hint: '--set sample=path/to/sample.csv' });
      return [v.slice(0, eq), v.slice(eq + 1)];
    }),
  );
}

/** `tributary generate NAME`: runs a generator the project declares. */
export async function generate(project: Project, name: string | undefined, flags: { out?: string; size?: number; rows?: number; seed: number; set?: string[] }): Promise<void> {
  if (!name) return list('generators', project.config.generators, project);
  const generator = await loadGenerator(project, name);
  const out = path.resolve(flags.out ?? project.resolvePath(generator.defaultOut));
  const size = flags.size ?? flags.rows ?? generator.defaultSize;
  const asked = options(flags.set);
  // A key the generator does not read would be ignored, and it would write its default instead (9 GB, for one).
  const known = generator.options ?? {};
  const unknown = Object.keys(asked).filter((key) => !Object.hasOwn(known, key));
  if (unknown.length) {
    const takes = Object.entries(known).map(([key, what]) => `${key} (${what})`);
    throw new TributaryError(`generator '${name}' has no option ${unknown.map((k) => `'${k}'`).join(', ')}`, {
      hint: `${takes.length ? `its --set options: ${takes.join('; ')}` : 'it takes no --set option'}; how much it writes is --size`,
    });
  }
  const progress = createProgress({ label: `generate ${name}` });
  const started = Date.now();
  const result = await generator.run({
    projectDir: project.dir,
    out,
    size,
    seed: flags.seed,
    options: asked,
    progress: (update) => progress.update(update),
    log: (m) => console.error(m),
  });
  progress.done(`${result.rows.toLocaleString('en-US')} ${generator.unit === 'rows' ? 'rows' : 'records'}, ${(result.bytes / 1e9).toFixed(2)} GB in ${((Date.now() - started) / 1000).toFixed(1)}s → ${out}`);
}

/**
 * A running count of events for the terminal: the first batch at once, then every 5 s at a steady
 * rate, or every burst when replaying the original's bursts (seconds apart).
 */
function progressReport(what: string, rate: number | undefined): (events: number) => void {
  let total = 0;
  let lastReport: number | undefined;
  return (events) => {
    total += events;
    if (lastReport === undefined || !rate || Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      console.error(`${total.toLocaleString('en-US')} events ${what}`);
    }
  };
}

/** `tributary produce NAME`: sends a replayer's events to the running server's collector, or into the log. */
export async function produce(project: Project, name: string | undefined, flags: { to?: string; rate?: number; count?: number; intoLog?: boolean }): Promise<void> {
  if (!name) return list('replayers', project.config.replayers, project);
  const replayer = await loadReplayer(project, name);
  const topicName = project.config.replayers[name]!.topic;
  const { next } = await replayer.open({ projectDir: project.dir, log: (m) => console.error(m) });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const base = { next, bursts: replayer.bursts, rate: flags.rate, count: flags.count, signal: abort.signal };
  const until = flags.count === undefined ? 'Ctrl+C stops' : `stops after ${flags.count.toLocaleString('en-US')} events`;
  if (flags.intoLog) {
    const config = project.config.topics[topicName];
    if (!config) throw new TributaryError(`replayer '${name}' sends to topic '${topicName}', which the project does not declare`, { hint: 'declare it under topics' });
    const log = new Log(path.join(project.stateDir, 'log'));
    try {
      const topic = log.topic(topicName, { partitions: config.partitions });
      console.error(`appending ${name}'s events to topic ${topicName} of ${path.join(project.stateDir, 'log')} (${until})`);
      const report = progressReport(`appended to ${topicName}`, flags.rate);
      const sent = await replay({
        ...base,
        send: async (events) => {
          topic.append(events.map((value) => ({ value })));
          report(events.length);
        },
      });
      console.error(`done: ${sent.toLocaleString('en-US')} events appended to ${topicName}`);
    } finally {
      log.close();
    }
    return;
  }
  const server = flags.to ?? runningServer(project)?.url ?? 'http://127.0.0.1:7070';
  const url = `${server.replace(/\/$/, '')}/v1/topics/${encodeURIComponent(topicName)}`;
  console.error(`sending ${name}'s events to ${url} (${until})`);
  const report = progressReport(`sent to ${topicName}`, flags.rate);
  const sent = await replay({
    ...base,
    maxPerSend: MAX_EVENTS_PER_REQUEST,
    send: async (events) => {
      const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.join('\n') });
      const body = (await response.json()) as { accepted?: number; error?: string; hint?: string };
      if (!response.ok) throw new TributaryError(`the collector refused the batch: ${body.error}`, { hint: body.hint ?? 'check the server log' });
      report(body.accepted ?? 0);
    },
  });
  console.error(`done: ${sent.toLocaleString('en-US')} events sent`);
}

/** `tributary demo [EXAMPLE]`: an example project, live, on embedded defaults. */
export async function demo(chosen: string | undefined, flags: { port: number; rate?: number; dataDir?: string }): Promise<void> {
  const started = Date.now();
  // The package names its demo (package.json "tributary": { "demo" }); the code knows no example.
  const example = chosen ?? packageInfo().demo ?? '';
  const root = path.join(PACKAGE_ROOT, 'examples');
  const dir = path.join(root, example);
  if (!/^[a-z0-9-]+$/.test(example) || !existsSync(dir)) {
    const available = existsSync(root) ? readdirSync(root).filter((d) => existsSync(path.join(root, d, 'tributary.config.ts'))) : [];
    throw new TributaryError(`no example '${example}'`, { hint: `examples: ${available.join(', ') || '(none installed)'}` });
  }
  const project = await loadProject(installedAsDependency() ? workingCopy(example, dir) : dir, { dataDir: flags.dataDir });
  if (project.dir !== dir) console.log(`The ${example} example's files and data are in ${project.dir}`);
  const { startStack } = await import('../owner/stack.js');
  const settings = project.config.demo;
  const runBatch = settings?.runBatch ?? true;
  if (Array.isArray(runBatch)) await buildModels(project, runBatch);
  const writer = settings?.writer ? await openWriter(project, settings.writer) : undefined;
  const replayName = settings?.replay;
  const tokens = demoTokens(project);
  const stack = await startStack(project, {
    port: flags.port,
    // As `tributary up`: a project that declares client tokens needs the admin's.
    token: tokens.admin,
    env: tokens.env,
    runBatch: runBatch === true,
    replay: replayName ? { name: replayName, rate: flags.rate } : undefined,
  });
  writer?.start(flags.rate);
  const live = replayName ? `live events come from the replayer '${replayName}'; ` : writer ? `live files come from the generator '${writer.name}' into ${writer.out}; ` : '';
  console.log(`\nThe ${example} demo is live: ${stack.url}  (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`  dashboards ${stack.url}/   SQL lab ${stack.url}/lab   catalog ${stack.url}/catalog   streams ${stack.url}/streams`);
  for (const { who, token, made } of tokens.shown) {
    console.log(`  as ${who}: ${stack.url}/?token=${encodeURIComponent(token)}${made ? '  (a token made for this demo; set the variable to choose your own)' : ''}`);
  }
  if (tokens.shown[0]?.made) console.log(`  other commands reach this server with TRIBUTARY_TOKEN=${tokens.shown[0].token} (e.g. tributary sql … --project ${dir})`);
  console.log(`  ${live}Ctrl+C stops everything.`);
}

/**
 * Where an installed package's example runs: a copy in the user's Tributary folder
 * (TRIBUTARY_HOME, default ~/.tributary), never inside node_modules, which may be read-only and
 * is replaced by the next install. The example's files are refreshed from the package at each
 * start; its lake and state are kept.
 */
function workingCopy(example: string, packaged: string): string {
  const dir = path.join(process.env.TRIBUTARY_HOME ?? path.join(homedir(), '.tributary'), 'demos', example);
  cpSync(packaged, dir, { recursive: true, filter: (source) => !/[/\\](\.tributary|lake)$/.test(source) });
  // In the package its modules are ES modules by the package's own package.json; here they must say so.
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`);
  return dir;
}

/**
 * Tokens for a demo of a project that declares client tokens (a brand client): the ones set in the
 * environment, and for each one unset a random token made for this demo alone, so that one
 * command still starts it. The demo binds 127.0.0.1 and prints each principal's link.
 */
function demoTokens(project: Project): { admin: string | undefined; env: Record<string, string | undefined>; shown: { who: string; token: string; made: boolean }[] } {
  const clients = Object.entries(project.config.access?.clients ?? {});
  const env: Record<string, string | undefined> = { ...process.env };
  if (!clients.length) return { admin: process.env.TRIBUTARY_TOKEN, env, shown: [] };
  const shown: { who: string; token: string; made: boolean }[] = [];
  const take = (variable: string, who: string): string => {
    const made = !env[variable];
    const token = env[variable] || randomBytes(18).toString('base64url');
    env[variable] = token;
    shown.push({ who, token, made });
    return token;
  };
  const admin = take('TRIBUTARY_TOKEN', 'the admin (TRIBUTARY_TOKEN)');
  for (const [name, client] of clients) take(client.tokenEnv, `client ${name} (${client.tokenEnv})`);
  return { admin, env, shown };
}

/** The demo's listed models, built before the stack starts (its stream jobs may join them). */
async function buildModels(project: Project, models: string[]): Promise<void> {
  const ws = await openWorkspace(project);
  try {
    await runModels(ws, { select: models, quiet: true, trigger: 'server' });
  } finally {
    await ws.close();
  }
}

/**
 * The demo's writer: a generator's live mode writing into a folder of the project. The folder is
 * made before the stack starts, because a stream reading it refuses a folder that does not exist.
 */
async function openWriter(project: Project, writer: { generator: string; out: string }): Promise<{ name: string; out: string; start(rate: number | undefined): void }> {
  const generator = await loadGenerator(project, writer.generator);
  const { live } = generator;
  if (!live) {
    throw new TributaryError(`generator '${writer.generator}' has no live mode, so it cannot be the demo's writer`, {
      place: { file: project.configFile, field: 'demo.writer.generator' },
      hint: 'give it a live(context) function that writes until context.signal aborts, or name another generator',
    });
  }
  const out = project.resolvePath(writer.out);
  mkdirSync(out, { recursive: true });
  return {
    name: writer.generator,
    out,
    start(rate) {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      live({ projectDir: project.dir, out, seed: 42, rate, signal: abort.signal, log: (m) => console.error(m) }).catch((error: unknown) => {
        console.error(`the demo's writer '${writer.generator}' stopped: ${errorMessage(error)}`);
        console.error('  the stack keeps running; fix the cause and start the demo again for live data');
      });
    },
  };
}
