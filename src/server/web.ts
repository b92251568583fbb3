import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '../core/config.js';
import { TributaryError } from '../core/errors.js';
import type { ServerPlugin } from './app.js';
import { DashboardHub, type FilterValues, type LiveEvent } from './dashboards.js';
import { SqlLab } from './lab.js';

/** Built by `npm run build` (on install); the server only reads it. */
const WEB_DIR = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'web');
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

function filtersFrom(query: Record<string, string | undefined>, dashboard: Dashboard): FilterValues {
  const out: FilterValues = {};
  for (const f of dashboard.filters) {
    const value = query[f.id];
    out[f.id] = value === undefined || value === '' ? null : value;
  }
  return out;
}

/**
 * The web UI and its API: dashboards (computed once per group of viewers and pushed live over
 * Server-Sent Events), the SQL lab, the catalog, streams and runs.
 */
export function webPlugin(hub: DashboardHub): ServerPlugin {
  return async (app, { ws, streams }) => {
    const lab = new SqlLab(ws);
    // Any commit (a stream batch, a batch run, a scheduled job) pushes the tiles that read what changed.
    ws.metastore.onCommit((committed) => {
      if (committed.tables.length) hub.tablesChanged(committed.tables);
    });

    const page = () => {
      const file = path.join(WEB_DIR, 'index.html');
      if (!existsSync(file)) {
        throw new TributaryError('the web UI is not built', { hint: 'run `npm run build` in the Tributary folder (npm install does it)' });
      }
      return readFileSync(file, 'utf8');
    };
    for (const route of ['/', '/dashboards/*', '/lab', '/catalog', '/catalog/*', '/streams', '/jobs', '/jobs/*']) {
      app.get(route, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page()));
    }
    app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
      const type = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
      if (!type) return reply.code(404).send({ error: 'no such asset' });
      return reply.type(type).send(readFileSync(path.join(WEB_DIR, request.params.file)));
    });

    app.get('/api/project', async () => ({
      name: ws.project.config.name,
      description: ws.project.config.description ?? null,
      dashboards: [...hub.dashboards].map(([name, d]) => ({ name, title: d.title })),
      streams: streams.jobs.map((j) => j.name),
      labExamples: ws.project.config.lab?.examples ?? [],
    }));

    app.get<{ Params: { name: string } }>('/api/dashboards/:name', async (request) => {
      const dashboard = hub.get(request.params.name);
      const options: Record<string, string[]> = {};
      for (const f of dashboard.filters) if (f.kind === 'select') options[f.id] = await hub.options(request.params.name, f.id);
      return { name: request.params.name, ...dashboard, options };
    });

    app.get<{ Params: { name: string }; Querystring: Record<string, string> }>('/api/dashboards/:name/tiles', async (request) => {
      const dashboard = hub.get(request.params.name);
      return hub.compute(request.params.name, filtersFrom(request.query, dashboard));
    });

    app.get<{ Params: { name: string }; Querystring: Record<string, string> }>('/api/dashboards/:name/live', (request, reply) => {
      const dashboard = hub.get(request.params.name);
      const filters = filtersFrom(request.query, dashboard);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const send = (event: LiveEvent) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      res.write(`event: ready\ndata: {}\n\n`);
      const unsubscribe = hub.subscribe(request.params.name, filters, send);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });
    });

    app.get('/api/hub', async () => ({ queries: hub.queries, commits: hub.commits, viewers: hub.viewers }));

    app.post<{ Body: string }>('/api/sql', async (request, reply) => {
      let body: { sql?: unknown; limit?: unknown; id?: unknown };
      try {
        body = JSON.parse(request.body) as typeof body;
      } catch {
        return reply.code(400).send({ error: 'expected a JSON body {"sql": "..."}', hint: 'send {"sql": "SELECT …", "limit": 1000}' });
      }
      if (typeof body.sql !== 'string' || !body.sql.trim()) return reply.code(400).send({ error: 'no SQL to run', hint: 'type a query first' });
      const limit = body.limit ?? 1000;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > lab.limits.maxRows) {
        return reply.code(400).send({ error: `limit must be a whole number from 1 to ${lab.limits.maxRows}, got ${JSON.stringify(limit)}`, hint: 'for every row of a large answer, use `tributary sql --format csv`' });
      }
      return lab.run(body.sql, typeof body.id === 'string' ? body.id : randomUUID(), limit);
    });
    app.post<{ Params: { id: string } }>('/api/sql/:id/cancel', async (request) => ({ cancelled: lab.cancel(request.params.id) }));

    app.get('/api/catalog', async () => {
      const tables = await ws.metastore.tables();
      const byTable = new Map<string, { name: string; type: string }[]>();
      for (const c of await ws.metastore.allColumns()) byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), { name: c.name, type: c.type }]);
      return { tables: tables.map((t) => ({ ...t, columns: byTable.get(t.name) ?? [] })), lineage: await ws.metastore.lineage() };
    });
    app.get<{ Params: { table: string } }>('/api/catalog/:table', async (request, reply) => {
      const info = await ws.metastore.table(request.params.table);
      if (!info) return reply.code(404).send({ error: `no table '${request.params.table}' in the catalog` });
      const partitions = info.partition_by.length ? await ws.metastore.partitions(request.params.table) : [];
      return { ...info, partitions, versions: await ws.metastore.schemaVersions(request.params.table) };
    });
    app.get('/api/quality', async () => {
      const counts = await ws.metastore.qualityCounts();
      return {
        quarantine: await ws.metastore.quarantine({ limit: 200 }),
        deadLetters: await ws.metastore.deadLetters({ limit: 200 }),
        counts: { quarantined: counts.quarantined, dead_letters: Object.values(counts.deadLetters).reduce((a, b) => a + b, 0), byOrigin: counts.deadLetters },
      };
    });
    app.get('/api/runs', async () => ({ runs: await ws.metastore.runs({ limit: 100 }) }));
  };
}
