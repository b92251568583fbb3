/**
 * The loyalty system (examples/customer-loyalty): (1) the speed layer's spool ingest, order lines
 * a second from files in the spool folder through the orders stream into the lake table
 * transactions_cln and the merged customer_points, with exactly-once commits (checked by counting
 * afterwards); (2) the serving layer's key lookup, a customer's current points over HTTP
 * (GET /v1/lookup/customer_points/<id>) at 1, 10 and 100 concurrent clients, beside the same
 * lookup as SQL through POST /api/sql and as Redis HGET on the machine's Redis (the role HBase
 * played in the original). HTTP load comes from wrk with a Lua script rotating through the real
 * customer ids; Redis load from redis-benchmark over a hash holding the same rows.
 *
 * Environment: BENCH_LOYALTY_LINES=N order lines to ingest (a multiple of 168; default
 * 1,008,000; results then go to loyalty-<N>.*), BENCH_LOYALTY_SECONDS=S per load point (default
 * 20), BENCH_CLI=source to run the CLI from source instead of bin/tributary.js (no build needed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject } from '../../src/config/project.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured } from '../lib/measure.js';
import type { Suite } from '../lib/suite.js';

const CLIENTS = [1, 10, 100];
/** The models the orders stream joins, built before it starts (examples/customer-loyalty/README.md). */
const STATIC_MODELS = ['customers_cln', 'menu', 'loyalty_rules', 'loyalty_offers'];
const DAYS = 7;
const FILES_PER_DAY = 24;
const REDIS = { host: '127.0.0.1', port: '6379' };
/** The hash the Redis peer reads; deleted afterwards (the Redis is the machine's, shared). */
const REDIS_HASH = 'tributary:bench:customer_points';
const PORT = 7391;

interface LoadPoint {
  method: string;
  clients: number;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 2xx (the SQL lab refuses more than it runs at once), and socket errors. */
  failed: number;
}

interface Ingest {
  lines: number;
  files: number;
  seconds: number;
  linesPerSecond: number;
  peakMB: number;
  committed: number;
  ordersMerged: number;
  deadLetters: number;
  exactlyOnce: boolean;
}

/**
 * wrk's script: each thread starts at its own place in the key list and takes the next key per
 * request; `done` prints the numbers as one JSON line (latencies in microseconds).
 */
function wrkScript(kind: 'lookup' | 'sql'): string {
  const request =
    kind === 'lookup'
      ? 'return wrk.format("GET", "/v1/lookup/customer_points/" .. key)'
      : 'return wrk.format("POST", "/api/sql", { ["content-type"] = "application/json" }, \'{"sql":"SELECT * FROM customer_points WHERE cust_id = \' .. key .. \'","limit":1}\')';
  return `-- Rotates through the real customer ids in the file named after --.
local threads = 0
function setup(thread)
  thread:set("first", threads * 7919)
  threads = threads + 1
end
local keys = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do keys[#keys + 1] = line end
  i = first % #keys
end
function request()
  i = i % #keys + 1
  local key = keys[i]
  ${request}
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"socketErrors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`;
}

async function wrk(url: string, script: string, keysFile: string, clients: number, seconds: number): Promise<Omit<LoadPoint, 'method'>> {
  const threads = Math.min(clients, 2);
  const out = await runCapture('wrk', ['-t', String(threads), '-c', String(clients), '-d', `${seconds}s`, '--timeout', '5s', '-s', script, url, '--', keysFile]);
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  const r = JSON.parse(line) as { requests: number; durationUs: number; p50Us: number; p99Us: number; non2xx: number; socketErrors: number };
  const failed = r.non2xx + r.socketErrors;
  return { clients, requests: r.requests, perSecond: (r.requests - failed) / (r.durationUs / 1e6), p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, failed };
}

/** RESP for one command, as `redis-cli --pipe` reads it. */
function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

function redisCli(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', REDIS.host, '-p', REDIS.port, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args.join(' ')} exited with ${code}: ${err || out}`))));
    child.stdin.end(input ?? '');
  });
}

/** redis-benchmark's HGET on random fields of the hash (fields are 12-digit indexes, as its __rand_int__ writes them). */
async function redisHget(fields: number, clients: number, requests: number): Promise<Omit<LoadPoint, 'method'>> {
  const out = await runCapture('redis-benchmark', ['-h', REDIS.host, '-p', REDIS.port, '-c', String(clients), '-n', String(requests), '-r', String(fields), '--csv', 'HGET', REDIS_HASH, '__rand_int__']);
  const [header, values] = out.trim().split('\n').slice(-2).map((l) => l.split(',').map((v) => v.replace(/"/g, '')));
  const at = (name: string) => Number(values![header!.indexOf(name)]);
  return { clients, requests, perSecond: at('rps'), p50Ms: at('p50_latency_ms'), p99Ms: at('p99_latency_ms'), failed: 0 };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Order lines in the spool's files (blank lines are not orders). */
function countLines(folders: string[]): { lines: number; files: number } {
  let lines = 0;
  let files = 0;
  for (const folder of folders.filter((f) => existsSync(f))) {
    for (const name of readdirSync(folder).filter((n) => n.startsWith('orders-'))) {
      files++;
      for (const line of readFileSync(join(folder, name), 'utf8').split('\n')) if (line.trim()) lines++;
    }
  }
  return { lines, files };
}

export const loyaltySuite: Suite = {
  name: 'loyalty',
  description: 'loyalty serving layer: HTTP lookup p50/p99 at 1, 10, 100 clients beside SQL and Redis HGET; spool ingest lines/s, exactly once',
  async run({ root, dataDir, resultsDir, log }) {
    const lines = Number(process.env.BENCH_LOYALTY_LINES ?? 1_008_000);
    const seconds = Number(process.env.BENCH_LOYALTY_SECONDS ?? 20);
    if (!Number.isInteger(lines) || lines <= 0 || lines % (DAYS * FILES_PER_DAY) !== 0) {
      throw new Error(`BENCH_LOYALTY_LINES=${process.env.BENCH_LOYALTY_LINES}: expected a whole number that is a multiple of ${DAYS * FILES_PER_DAY} (${DAYS} days of ${FILES_PER_DAY} files)`);
    }
    for (const tool of ['wrk', 'redis-benchmark', 'redis-cli']) {
      await runCapture('sh', ['-c', `command -v ${tool}`]).catch(() => {
        throw new Error(`${tool} is not installed: apt-get install ${tool === 'wrk' ? 'wrk' : 'redis-tools'} (see bench/README.md)`);
      });
    }
    const suffix = process.env.BENCH_LOYALTY_LINES ? `-${lines}` : '';
    const cli = process.env.BENCH_CLI === 'source' ? ['--import', 'tsx', join(root, 'test', 'cli-entry.ts')] : [join(root, 'bin', 'tributary.js')];
    const example = join(root, 'examples', 'customer-loyalty');
    const work = join(dataDir, 'work', 'loyalty');
    rmSync(work, { recursive: true, force: true });
    const spool = join(work, 'spool');
    const state = join(work, 'data');
    mkdirSync(join(spool, 'incoming'), { recursive: true });
    // The example's config reads its spool folder from LOYALTY_SPOOL.
    const env = { ...process.env, LOYALTY_SPOOL: spool };
    const tributary = (args: string[]) => runCapture(process.execPath, [...cli, ...args, '--project', example, '--data-dir', state], { cwd: root, env });

    // 1. Spool ingest: a week of order files for the real customers, drained by the stream job.
    log(`  building the static models and writing ${lines.toLocaleString('en-US')} order lines in ${DAYS * FILES_PER_DAY} files`);
    await tributary(['run', ...STATIC_MODELS, '--quiet']);
    await runCapture(process.execPath, [...cli, 'generate', 'orders', '--project', example, '--out', join(spool, 'incoming'), '--size', String(lines / DAYS), '--set', `days=${DAYS}`, '--set', `files=${FILES_PER_DAY}`], { cwd: root, env });
    const written = countLines([join(spool, 'incoming')]);
    const logFile = join(work, 'drain.log');
    const drained = await spawnMeasured(process.execPath, [...cli, 'drain', '--project', example, '--data-dir', state, '--json'], { cwd: root, env, logFile, timeoutSeconds: 1800 });
    if (drained.exitCode !== 0) throw new Error(`tributary drain failed; see ${logFile}`);
    const output = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).pop();
    const result = (JSON.parse(output ?? '{}') as { results?: Record<string, { events: number; seconds: number }> }).results?.orders;
    if (!result) throw new Error(`tributary drain printed no result for the orders job; see ${logFile}`);
    process.env.LOYALTY_SPOOL = spool;
    const ws = await openWorkspace(await loadProject(example, { dataDir: state }));
    let counts: { committed: number; ordersMerged: number; deadLetters: number };
    try {
      const [row] = await ws.engine.query<{ committed: bigint; merged: bigint; dead: bigint }>(
        `SELECT (SELECT count(*) FROM transactions_cln) AS committed, (SELECT sum(orders) FROM customer_points) AS merged,
                (SELECT count(*) FROM tributary.dead_letters WHERE origin = 'job:orders') AS dead`,
      );
      counts = { committed: Number(row!.committed), ordersMerged: Number(row!.merged), deadLetters: Number(row!.dead) };
    } finally {
      await ws.close();
    }
    const inSpool = countLines([join(spool, 'incoming'), join(spool, 'done')]);
    const ingest: Ingest = {
      lines: written.lines,
      files: written.files,
      seconds: result.seconds,
      linesPerSecond: result.events / result.seconds,
      peakMB: drained.peakRssBytes / 2 ** 20,
      ...counts,
      exactlyOnce: inSpool.lines === written.lines && counts.committed + counts.deadLetters === written.lines && counts.ordersMerged === counts.committed,
    };
    log(
      `  spool ingest: ${ingest.lines.toLocaleString('en-US')} lines in ${ingest.seconds.toFixed(1)} s = ${Math.round(ingest.linesPerSecond).toLocaleString('en-US')} lines/s; ` +
        `committed ${ingest.committed.toLocaleString('en-US')}, dead letters ${ingest.deadLetters}, exactly once: ${ingest.exactlyOnce ? 'yes' : 'NO'}`,
    );

    // 2. Lookups against the running server, on the state the ingest built.
    const url = `http://127.0.0.1:${PORT}`;
    // Another server on the port would answer in its place: the lookups would be of some other project.
    if (await fetch(`${url}/healthz`).then(() => true, () => false)) throw new Error(`port ${PORT} is taken by another server; stop it and run the suite again`);
    const up = spawn(process.execPath, [...cli, 'up', '--project', example, '--data-dir', state, '--port', String(PORT)], { cwd: root, env, stdio: 'ignore' });
    const points: LoadPoint[] = [];
    try {
      for (let i = 0; !(await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)); i++) {
        if (i > 300 || up.exitCode !== null) throw new Error(`tributary up did not come up on port ${PORT}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const keys = (await (await fetch(`${url}/api/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT cust_id FROM customer_points ORDER BY cust_id', limit: 10_000 }) })).json()) as { rows: { cust_id: string }[] };
      const keysFile = join(work, 'keys.txt');
      writeFileSync(keysFile, `${keys.rows.map((r) => r.cust_id).join('\n')}\n`);
      // The rows the lookup API answers, byte for byte, are what Redis holds.
      const rows = await Promise.all(keys.rows.map(async (r) => (await fetch(`${url}/v1/lookup/customer_points/${r.cust_id}`)).text()));
      log(`  ${keys.rows.length.toLocaleString('en-US')} customers with points; ${seconds} s per load point`);
      for (const [kind, method] of [['lookup', 'lookup API (HTTP GET)'], ['sql', 'SQL API (HTTP POST /api/sql)']] as const) {
        const script = join(work, `${kind}.lua`);
        writeFileSync(script, wrkScript(kind));
        for (const clients of CLIENTS) {
          const point = { method, ...(await wrk(url, script, keysFile, clients, seconds)) };
          points.push(point);
          log(`  ${method}, ${clients} client(s): ${Math.round(point.perSecond).toLocaleString('en-US')}/s, p50 ${point.p50Ms.toFixed(3)} ms, p99 ${point.p99Ms.toFixed(3)} ms, failed ${point.failed}`);
        }
      }
      await redisCli(['DEL', REDIS_HASH]);
      await redisCli(['--pipe'], rows.map((row, i) => resp(['HSET', REDIS_HASH, String(i).padStart(12, '0'), row])).join(''));
      try {
        for (const clients of CLIENTS) {
          // Sized from a short first run so each point lasts about as long as the HTTP ones.
          const probe = await redisHget(rows.length, clients, 20_000);
          const point = { method: 'Redis HGET (redis-benchmark)', ...(await redisHget(rows.length, clients, Math.max(20_000, Math.round(probe.perSecond * seconds)))) };
          points.push(point);
          log(`  ${point.method}, ${clients} client(s): ${Math.round(point.perSecond).toLocaleString('en-US')}/s, p50 ${point.p50Ms.toFixed(3)} ms, p99 ${point.p99Ms.toFixed(3)} ms`);
        }
      } finally {
        await redisCli(['DEL', REDIS_HASH]);
      }
    } finally {
      await stop(up);
    }

    const machine = machineInfo();
    const name = `loyalty${suffix}`;
    writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify({ machine, secondsPerPoint: seconds, ingest, lookups: points }, null, 2));
    const short = (m: string) => (m.startsWith('lookup') ? 'lookup API' : m.startsWith('SQL') ? 'SQL API' : 'Redis HGET');
    writeFileSync(
      join(resultsDir, `${name}.svg`),
      barChartSvg({
        title: 'A customer’s points by key: lookup API vs SQL API vs Redis HGET',
        subtitle: `${machine.nproc} cores; ${seconds} s per point; the SQL lab runs 2 queries at a time and refuses the rest (not counted). Spool ingest: ${Math.round(ingest.linesPerSecond).toLocaleString('en-US')} lines/s`,
        categories: points.map((p) => `${short(p.method)} ×${p.clients}`),
        width: 1200,
        series: [
          { name: 'p50', unit: 'ms', values: points.map((p) => Number(p.p50Ms.toFixed(3))) },
          { name: 'p99', unit: 'ms', values: points.map((p) => Number(p.p99Ms.toFixed(3))) },
          { name: 'answered per second', unit: 'lookups/s', values: points.map((p) => Math.round(p.perSecond)) },
        ],
      }),
    );
    const at10 = points.find((p) => p.method.startsWith('lookup') && p.clients === 10);
    const md = [
      '# Loyalty: lookups and spool ingest',
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}; DuckDB ${machine.duckdb}. Commit ${machine.commit}, run at ${machine.date}.`,
      '',
      `Command: \`npm run bench -- loyalty\`${suffix ? ` with BENCH_LOYALTY_LINES=${lines}` : ''}, ${seconds} s per load point. The example project \`examples/customer-loyalty\` on a fresh data folder.`,
      '',
      '## Spool ingest (speed layer)',
      '',
      `${ingest.files} files of order lines for the real customers (${DAYS} days), drained by \`tributary drain\`: each micro-batch priced and joined with the customers, appended to the lake table transactions_cln and merged into customer_points, offsets committed with the rows.`,
      '',
      '| lines | seconds | lines/s | peak memory (MB) | rows in transactions_cln | orders merged in customer_points | dead letters | exactly once |',
      '|---:|---:|---:|---:|---:|---:|---:|---|',
      `| ${ingest.lines.toLocaleString('en-US')} | ${ingest.seconds.toFixed(1)} | ${Math.round(ingest.linesPerSecond).toLocaleString('en-US')} | ${ingest.peakMB.toFixed(0)} | ${ingest.committed.toLocaleString('en-US')} | ${ingest.ordersMerged.toLocaleString('en-US')} | ${ingest.deadLetters} | ${ingest.exactlyOnce ? 'yes' : '**no**'} |`,
      '',
      'Exactly once: every line of the files is a row of transactions_cln or a dead letter, and customer_points has merged as many orders as transactions_cln holds. Seconds are the job\'s own (process start-up excluded).',
      '',
      '## Lookups (serving layer)',
      '',
      'A customer\'s current points by customer id, rotating through every customer with points. HTTP load from wrk (closed loop: each client sends its next request when the answer arrives; 1 thread for 1 client, else 2); Redis from redis-benchmark with the same rows in one hash. wrk and redis-benchmark run on the same 2 cores as the server.',
      '',
      '| method | clients | answered/s | p50 (ms) | p99 (ms) | refused or failed |',
      '|---|---:|---:|---:|---:|---:|',
      ...points.map((p) => `| ${p.method} | ${p.clients} | ${Math.round(p.perSecond).toLocaleString('en-US')} | ${p.p50Ms.toFixed(3)} | ${p.p99Ms.toFixed(3)} | ${p.failed.toLocaleString('en-US')} |`),
      '',
      `Goal (issue 11): p99 under 2 ms at 10 clients and at least 20,000 lookups/s${at10 ? `; measured: p99 ${at10.p99Ms.toFixed(3)} ms, ${Math.round(at10.perSecond).toLocaleString('en-US')}/s` : ''}.`,
      '',
      'The SQL API is the SQL lab\'s endpoint: it runs 2 queries at a time and answers 429 to the rest (counted under "refused or failed", not in answered/s; their latencies are in wrk\'s percentiles).',
      '',
      `![chart](${name}.svg)`,
      '',
    ].join('\n');
    writeFileSync(join(resultsDir, `${name}.md`), md);
    log(`loyalty: wrote ${join(resultsDir, `${name}.md`)}`);
  },
};
