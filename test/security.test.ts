import type { FastifyInstance } from 'fastify';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReadOnly } from '../src/commands/query.js';
import type { Workspace } from '../src/state/workspace.js';
import { createServer } from '../src/server/app.js';
import { DashboardHub } from '../src/server/dashboards.js';
import { webPlugin } from '../src/server/web.js';
import { openLog, startStreams, type StreamRuntime } from '../src/stream/runtime.js';
import { cli, CLI, CLICKSTREAM, tempDir, openProject, REPO, runProject, writeTree } from './helpers.js';
import { startCommand } from './support/live-command.js';

/**
 * Issue 7, security: the SQL paths are read-only and confined to the project's tables whatever the
 * spelling, the server refuses what another site's page could send, and the lab has limits. A
 * canary file sits beside the warehouse; its content must never come back in any answer.
 */
const CANARY = 'CANARY-5d1e0b7c-never-readable';
const canaryDir = tempDir('tributary-canary-');
const SECRET = path.join(canaryDir, 'secret.csv');
writeFileSync(SECRET, `secret\n${CANARY}\n`);
writeFileSync(path.join(canaryDir, 'secret.json'), `{"secret": "${CANARY}"}\n`);
writeFileSync(path.join(canaryDir, 'secret.txt'), `${CANARY}\n`);

let ws: Workspace;
let streams: StreamRuntime;
let app: FastifyInstance;
let base: string;
let port: number;

beforeAll(async () => {
  ({ ws } = await runProject(CLICKSTREAM, { dataDir: tempDir() }));
  streams = await startStreams(ws, openLog(ws), { start: false });
  app = await createServer({ ws, streams }, {}, [webPlugin(new DashboardHub(await ws.engine.fork(), new Map()))]);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(base).port);
});
afterAll(async () => {
  await app.close();
  await streams.stop();
  streams.log.close();
  await ws.close();
});

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

/** An HTTP request with any headers, Host and Origin included (fetch may not set Host). */
function send(method: string, url: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url, base);
    const req = httpRequest({ host: '127.0.0.1', port, method, path: `${target.pathname}${target.search}`, headers: { host: `127.0.0.1:${port}`, ...options.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not every answer is JSON
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const JSON_BODY = { 'content-type': 'application/json' };

const lab = (sql: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  send('POST', '/api/sql', { headers: { ...JSON_BODY, ...headers }, body: JSON.stringify({ sql, ...extra }) });

/** Hostile spellings of "read a file" or "change something"; $F is the canary file. */
const HOSTILE = [
  // The issue's own: a CTE that lends its name to a reference outside its scope.
  'SELECT * FROM "$F" WHERE 1=(WITH "$F" AS (SELECT 1 a) SELECT a FROM "$F")',
  'WITH x AS (SELECT * FROM kpis) SELECT * FROM x, (WITH "$F" AS (SELECT 1) SELECT * FROM "$F") y, "$F"',
  'WITH "$F" AS MATERIALIZED (SELECT 1) SELECT * FROM "$F"',
  'WITH kpis AS (SELECT * FROM "$F") SELECT * FROM kpis',
  'WITH a AS (SELECT * FROM b), b AS (SELECT * FROM "$F") SELECT * FROM a',
  'WITH RECURSIVE t AS (SELECT 1 n UNION ALL SELECT n + 1 FROM "$F", t WHERE n < 3) SELECT * FROM t',
  'SELECT * FROM kpis WHERE operations = (WITH RECURSIVE r AS (SELECT 1 a UNION SELECT a FROM "$F") SELECT 1)',
  // A file in every clause.
  "FROM '$F'",
  'SELECT * FROM "$F"',
  'SELECT (SELECT secret FROM "$F" LIMIT 1)',
  'SELECT * FROM kpis WHERE EXISTS (FROM "$F")',
  'SELECT * FROM kpis ORDER BY (SELECT count(*) FROM "$F")',
  'SELECT * FROM kpis GROUP BY ALL HAVING (SELECT count(*) FROM "$F") > 0',
  'SELECT * FROM kpis QUALIFY (SELECT count(*) FROM "$F") > 0',
  'SELECT * FROM kpis LIMIT (SELECT count(*) FROM "$F")',
  'SELECT * REPLACE ((SELECT count(*) FROM "$F") AS operations) FROM kpis',
  'SELECT sum(operations) FILTER (WHERE (SELECT count(*) FROM "$F") > 0) FROM kpis',
  'SELECT list_transform([1], x -> (SELECT count(*) FROM "$F"))',
  'SELECT 1 FROM kpis WHERE operations = ANY(SELECT 1 FROM "$F")',
  'SELECT * FROM kpis JOIN "$F" ON true',
  'SELECT * FROM kpis NATURAL JOIN "$F"',
  'SELECT * FROM kpis, LATERAL (SELECT * FROM "$F")',
  'SELECT * FROM (SELECT * FROM "$F") AS kpis',
  'SELECT * FROM kpis UNION ALL SELECT secret, 1, 1, 1, 1 FROM "$F"',
  'SELECT COLUMNS(*) FROM "$F"',
  'UNPIVOT "$F" ON secret INTO NAME k VALUE v',
  'PIVOT "$F" ON secret',
  // DESCRIBE, SUMMARIZE, SHOW and EXPLAIN of a file.
  "DESCRIBE '$F'",
  "DESCRIBE SELECT * FROM '$F'",
  "SUMMARIZE '$F'",
  "SHOW '$F'",
  "EXPLAIN SELECT * FROM '$F'",
  "EXPLAIN ANALYZE SELECT * FROM '$F'",
  // Table functions, under every name.
  "SELECT * FROM read_csv('$F')",
  "SELECT * FROM read_csv_auto('$F')",
  "SELECT * FROM read_csv(['$F'])",
  "SELECT * FROM main.read_csv('$F')",
  "SELECT * FROM sniff_csv('$F')",
  "SELECT * FROM read_text('$F')",
  "SELECT * FROM read_blob('$F')",
  "SELECT * FROM read_json_auto('$F')",
  "SELECT * FROM read_json_objects('$F')",
  "SELECT * FROM read_parquet('$F')",
  "SELECT * FROM parquet_metadata('$F')",
  "SELECT * FROM glob('$DIR/*')",
  "SELECT * FROM query('SELECT * FROM ''$F''')",
  "SELECT * FROM query_table('kpis')",
  "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM ''$F'''))",
  "SELECT * FROM kpis JOIN LATERAL read_csv('$F') ON true",
  "SELECT * FROM kpis WHERE brand IN (SELECT * FROM read_csv_auto('$F'))",
  'SELECT * FROM duckdb_settings()',
  "SELECT * FROM which_secret('s3://bucket/x', 's3')",
  // Scalar functions that read the machine or change state.
  "SELECT read_text('$F')",
  "SELECT getenv('HOME')",
  "SELECT current_setting('home_directory')",
  "SELECT nextval('tributary_sequence')",
  "SELECT write_log('from the lab')",
  // Other schemas and catalogs, quoting and lookalikes.
  'SELECT * FROM tributary.runs',
  'SELECT * FROM "tributary"."runs"',
  'SELECT * FROM memory.main.kpis',
  'SELECT * FROM information_schema.tables',
  'SELECT * FROM "secret.csv"',
  'SELECT * FROM ｋpis', // a fullwidth k
  'SELECT * FROM kpis /* a comment */ JOIN "$F" ON true',
  '-- a comment\nSELECT * FROM "$F"',
  // Statements that write, however they are dressed.
  'EXPLAIN ANALYZE DELETE FROM kpis',
  "EXPLAIN ANALYZE COPY kpis TO '$DIR/copied.csv'",
  'EXPLAIN ANALYZE DROP TABLE tributary.runs',
  'explain/**/analyze DELETE FROM kpis',
  'SELECT * FROM kpis; DELETE FROM kpis',
  "COPY (SELECT 1) TO '$DIR/copied.csv'",
  "EXPORT DATABASE '$DIR/exported'",
  "ATTACH '$DIR/attached.duckdb'",
  "CREATE MACRO m() AS TABLE SELECT * FROM '$F'",
  'SET enable_external_access = true',
  'PRAGMA version',
  'CALL pragma_version()',
  "INSTALL httpfs",
].map((sql) => sql.replaceAll('$F', SECRET).replaceAll('$DIR', canaryDir));

describe('8. SQL confinement: no spelling reaches a file or changes anything', () => {
  it(`refuses ${HOSTILE.length} hostile spellings in the lab, each with a reason, the canary never showing, while the project's tables answer`, async () => {
    for (const sql of [
      'SELECT operations FROM kpis',
      'WITH t AS (SELECT * FROM kpis) SELECT operations FROM t',
      'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT count(*) AS n FROM t',
      'SELECT count(*) AS n FROM events WHERE brand IN (SELECT brand FROM by_department_brand)',
      'DESCRIBE kpis',
      'SUMMARIZE kpis',
      'SHOW TABLES',
      'SELECT * FROM range(3)',
    ]) {
      const answer = await lab(sql);
      expect(answer.status, `${sql}: ${answer.text}`).toBe(200);
    }
    const answered: string[] = [];
    for (const sql of HOSTILE) {
      const answer = await lab(sql);
      if (answer.status !== 400 || !answer.json.error || answer.text.includes(CANARY)) answered.push(`${sql} → ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    expect(answered).toEqual([]);
  });

  it('refused by the one runner the CLI, the shell and the lab share, before anything touches the disk', async () => {
    for (const sql of HOSTILE) {
      const seen: string[] = [];
      await expect(runReadOnly(ws, sql, () => undefined, (rows) => void seen.push(JSON.stringify(rows))), sql).rejects.toThrow();
      expect(seen).toEqual([]);
    }
    // EXPORT DATABASE is refused before it could create its folder; nothing else was written either.
    for (const made of ['exported', 'copied.csv', 'attached.duckdb']) expect(existsSync(path.join(canaryDir, made)), made).toBe(false);
    expect(await ws.engine.queryJson('SELECT count(*)::INTEGER AS n FROM kpis')).toEqual([{ n: 1 }]);
    expect(Number(await ws.engine.scalar('SELECT count(*) FROM tributary.runs'))).toBeGreaterThan(0);
  });
});

describe('9. cross-site requests', () => {
  const event = JSON.stringify({ event_type: 'view' });

  it('bodies that are not JSON or NDJSON are refused with 415, naming the accepted types', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const sql = await send('POST', '/api/sql', { headers: { 'content-type': type }, body: JSON.stringify({ sql: 'SELECT 1' }) });
      expect(sql.status, type).toBe(415);
      expect(sql.text).toMatch(/application\/json/);
      expect(sql.text).toMatch(/application\/x-ndjson/);
      const collector = await send('POST', '/v1/topics/clickstream', { headers: { 'content-type': type }, body: event });
      expect(collector.status, type).toBe(415);
      expect(collector.text).toMatch(/application\/json.*application\/x-ndjson/);
    }
  });

  it('a foreign Origin is refused (403) on queries, reads and the collector', async () => {
    const evil = { origin: 'https://evil.example' };
    expect((await lab('SELECT 1', {}, evil)).status).toBe(403);
    expect((await send('GET', '/api/catalog', { headers: evil })).status).toBe(403);
    expect((await send('POST', '/v1/topics/clickstream', { headers: { ...evil, 'content-type': 'application/x-ndjson' }, body: event })).status).toBe(403);
    // A look-alike of this server's own origin is still another site.
    expect((await lab('SELECT 1', {}, { origin: `http://127.0.0.1:${port}.evil.example` })).status).toBe(403);
    expect((await lab('SELECT 1', {}, { origin: 'null' })).status).toBe(403);
    // This server's own pages, under either loopback name, and programs (no Origin) are served.
    const own = await lab('SELECT operations FROM kpis', {}, { origin: `http://127.0.0.1:${port}` });
    expect(own.status, own.text).toBe(200);
    expect((await send('POST', '/api/sql', { headers: { ...JSON_BODY, host: `localhost:${port}`, origin: `http://localhost:${port}` }, body: JSON.stringify({ sql: 'SELECT 1 AS one' }) })).status).toBe(200);
    expect((await lab('SELECT 1 AS one')).status).toBe(200);
  });

  it('a Host that is not the bound address is refused (421): DNS rebinding cannot read answers', async () => {
    const rebound = await send('POST', '/api/sql', { headers: { ...JSON_BODY, host: `evil.example:${port}` }, body: JSON.stringify({ sql: 'SELECT operations FROM kpis' }) });
    expect(rebound.status).toBe(421);
    expect(rebound.text).not.toMatch(/operations/);
    expect((await send('GET', '/v1/status', { headers: { host: `evil.example:${port}` } })).status).toBe(421);
  });
});

describe('10. `tributary sql` without a server is read-only under the same policy', () => {
  it('refuses EXPLAIN ANALYZE of writes and read_csv, and changes nothing', () => {
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({ name: 'readonly', sources: {}, models: { kpis: { sql: 'SELECT 42 AS operations', materialize: 'table' } } });
`,
    });
    expect(cli(['run', '--project', dir, '--quiet']).code).toBe(0);
    const copied = path.join(dir, 'copied.csv');
    for (const sql of ['EXPLAIN ANALYZE DELETE FROM kpis', `EXPLAIN ANALYZE COPY kpis TO '${copied}'`, 'EXPLAIN ANALYZE DROP TABLE tributary.runs', `SELECT * FROM read_csv('${SECRET}')`]) {
      const run = cli(['sql', sql, '--project', dir]);
      expect(run.code, sql).toBe(1);
      expect(run.stderr, sql).toMatch(/refused/);
      expect(run.stdout + run.stderr).not.toContain(CANARY);
    }
    expect(existsSync(copied)).toBe(false);
    expect(JSON.parse(cli(['sql', 'SELECT operations FROM kpis', '--project', dir, '--format', 'json']).stdout)).toEqual([{ operations: 42 }]);
    const runs = cli(['runs', '--project', dir, '--format', 'json']);
    expect(runs.code).toBe(0);
    expect(JSON.parse(runs.stdout)).toHaveLength(1);
  });
});

describe('11. `up --host 0.0.0.0` without TRIBUTARY_TOKEN', () => {
  it('exits non-zero at once, leaving no server.json and no lock', async () => {
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({ name: 'exposed', sources: {}, models: { kpis: { sql: 'SELECT 1 AS n', materialize: 'table' } } });
`,
    });
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
    delete env.TRIBUTARY_TOKEN;
    const child = spawn(process.execPath, [CLI, 'up', '--project', dir, '--host', '0.0.0.0', '--port', '0'], { cwd: REPO, env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A guard against a server that keeps running, not a timing assertion.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(guard);
    expect(code).not.toBeNull(); // it ended by itself
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without a token/);
    expect(stderr).toMatch(/TRIBUTARY_TOKEN/);
    expect(existsSync(path.join(dir, '.tributary', 'server.json'))).toBe(false);
    // The warehouse is free: another process opens it at once.
    const other = await openProject(dir);
    await other.close();
  });

  it('a port taken by another program, or one that is no port, is named with what to do; the warehouse is left free', async () => {
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({ name: 'crowded', sources: {}, models: { kpis: { sql: 'SELECT 1 AS n', materialize: 'table' } } });
`,
    });
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const busy = cli(['up', '--project', dir, '--port', String(port)]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`port ${port} on 127.0.0.1 is in use by another program`);
      expect(busy.stderr).toMatch(/→ stop that program, or choose another port with --port/);
      expect(existsSync(path.join(dir, '.tributary', 'server.json'))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const wrong = cli(['up', '--project', dir, '--port', '99999']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/expected a port from 0 to 65535 .* got '99999'/);
    const other = await openProject(dir);
    await other.close();
  });

  it('a token short enough to guess is refused before anything listens, naming its variable, never its value; with one long enough, up says it answers other machines', async () => {
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({ name: 'exposed', sources: {}, models: { kpis: { sql: 'SELECT 1 AS n', materialize: 'table' } } });
`,
    });
    const short = cli(['up', '--project', dir, '--host', '0.0.0.0', '--port', '0'], REPO, { TRIBUTARY_TOKEN: 'hunter2' });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/TRIBUTARY_TOKEN is too short to keep anyone out: 7 characters, at least 16 needed\n {2}→ give it a random value, e.g. TRIBUTARY_TOKEN=\$\(openssl rand -hex 16\)/);
    expect(short.stderr).not.toContain('hunter2');
    expect(existsSync(path.join(dir, '.tributary', 'server.json'))).toBe(false);
    // With a token long enough it serves, and says it answers other machines, not only loopback.
    const up = startCommand(process.execPath, [CLI, 'up', '--project', dir, '--host', '0.0.0.0', '--port', '0'], { cwd: REPO, env: { TRIBUTARY_TOKEN: 'a-long-enough-token-5e0c' } });
    try {
      await up.waitFor(/is up at http:\/\/127\.0\.0\.1:\d+ \(project exposed\), and on 0\.0\.0\.0 for other machines \(every request needs TRIBUTARY_TOKEN\)/);
    } finally {
      await up.stop();
    }
  });
});

describe('12. lab limits', () => {
  it('a limit that is not a whole number is a 400 that says so', async () => {
    for (const limit of ['x', '10', 1.5, -1, 0, 1e9, true]) {
      const answer = await lab('SELECT 1', { limit });
      expect(answer.status, String(limit)).toBe(400);
      expect(String(answer.json.error)).toMatch(/limit must be a whole number/);
    }
  });

  it('an answer over the byte cap comes back truncated, with `truncated: true` and a bounded number of rows', async () => {
    const answer = await lab("SELECT i, repeat('x', 10000) AS padding FROM range(10000) t(i)", { limit: 10_000 });
    expect(answer.status).toBe(200);
    const rows = answer.json.rows as unknown[];
    expect(answer.json.truncated).toBe(true);
    // 10,000 rows of 10 KB would be 100 MB; the cap (8 MB) lets well under a thousand through.
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(1_000);
    expect(answer.text.length).toBeLessThan(9 * 1024 * 1024);
  });

  it('two lab queries run at a time; a third is a 429 until one ends or is cancelled', async () => {
    const long = 'SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3';
    const first = lab(long, { id: 'long-1' });
    const second = lab(long, { id: 'long-2' });
    try {
      await expect.poll(async () => (await lab('SELECT 1 AS one', { id: 'third' })).status).toBe(429);
      const refused = await lab('SELECT 1 AS one', { id: 'fourth' });
      expect(refused.status).toBe(429);
      expect(String(refused.json.error)).toMatch(/runs 2 at a time/);
    } finally {
      await send('POST', '/api/sql/long-1/cancel', { headers: JSON_BODY });
      await send('POST', '/api/sql/long-2/cancel', { headers: JSON_BODY });
    }
    expect((await first).status).toBe(400);
    expect((await second).status).toBe(400);
    expect((await lab('SELECT 1 AS one')).status).toBe(200);
  });

  it('the limit holds when the queries share an id, as a hostile page would send them', async () => {
    const long = 'SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3';
    const first = lab(long, { id: 'same' });
    const second = lab(long, { id: 'same' });
    try {
      await expect.poll(async () => (await lab('SELECT 1 AS one', { id: 'other' })).status).toBe(429);
    } finally {
      await send('POST', '/api/sql/same/cancel', { headers: JSON_BODY });
    }
    expect((await first).status).toBe(400);
    expect((await second).status).toBe(400);
  });

  it('a query cancelled as soon as it was sent is cancelled, not left to run into the time limit holding a slot', async () => {
    const running = lab('SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3', { id: 'cancel-at-once' });
    // Cancelled the moment the lab has it: while its SQL is still being checked, say.
    await expect.poll(async () => (await send('POST', '/api/sql/cancel-at-once/cancel', { headers: JSON_BODY })).json.cancelled).toBe(true);
    const answer = await running;
    expect(answer.json, answer.text).toMatchObject({ error: 'the query was cancelled' });
  });
});

describe('15. small server answers', () => {
  it('topic __proto__ is a 404 naming the topics there are', async () => {
    const answer = await send('POST', '/v1/topics/__proto__', { headers: { 'content-type': 'application/x-ndjson' }, body: '{"a": 1}' });
    expect(answer.status).toBe(404);
    expect(String(answer.json.hint)).toMatch(/clickstream/);
  });

  it('/assets/__proto__ is a 404 that does not show where Tributary is installed', async () => {
    for (const asset of ['__proto__', 'constructor', '..%2Fpackage.json', 'hasOwnProperty']) {
      const answer = await send('GET', `/assets/${asset}`);
      expect(answer.status, asset).toBe(404);
      expect(answer.text).not.toContain(REPO);
    }
  });
});
