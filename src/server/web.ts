import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import { modelColumns, type ModelColumn } from '../commands/index.js';
import type { Dashboard } from '../config/config.js';
import { TributaryError } from '../core/errors.js';
import { PACKAGE_ROOT } from '../core/package.js';
import { clientType, type RowScope } from '../engine/policy.js';
import type { Workspace } from '../state/workspace.js';
import { jsonObject } from './json-bytes.js';
import type { ServerPlugin } from './app.js';
import { FOR_CLIENTS, principalOf } from './auth.js';
import { DashboardHub, type FilterValues, type LiveEvent, type TileScope } from './dashboards.js';
import { SqlLab } from './lab.js';

/** A table's column in the catalog: for a model's table, where it comes from (upstream `table.column`s) and what it holds. */
interface CatalogColumn extends Omit<ModelColumn, 'column' | 'how'> {
  name: string;
  type: string;
  how: ModelColumn['how'] | null;
}

/** Built by `npm run build` (on install); the server only reads it. */
const WEB_DIR = path.join(PACKAGE_ROOT, 'dist', 'web');
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

/** A client's tile queries go through the read-only policy with its scope; a tile reading at a snapshot is refused (the hub defines no snapshot views). */
function tileScope(ws: Workspace, key: string, scope: RowScope): TileScope {
  return {
    key,
    async confine(sql) {
      const checked = await ws.policy.check(sql, scope);
      if (checked.timeTravel.length) throw new TributaryError('time travel is not available in tiles');
      return checked.sql;
    },
  };
}

/**
 * The web UI and its API: dashboards (computed once per group of viewers and pushed live over
 * Server-Sent Events), the SQL lab, the catalog, streams and runs. A client token gets its
 * dashboards and the lab, confined to its rows, and the catalog of the tables it can query.
 */
export function webPlugin(hub: DashboardHub): ServerPlugin {
  return async (app, { ws, streams }) => {
    const lab = new SqlLab(ws);
    /**
     * The dashboard a request may open, and the scope it is computed in. To a client, a dashboard
     * it is not given is answered exactly like one that does not exist.
     */
    const dashboardFor = (request: FastifyRequest, name: string): { dashboard: Dashboard; scope: TileScope | undefined } => {
      const principal = principalOf(request);
      if (principal.kind === 'admin') return { dashboard: hub.get(name), scope: undefined };
      if (!principal.dashboards.has(name)) {
        throw new TributaryError(`no dashboard '${name}'`, { hint: `dashboards: ${[...principal.dashboards].join(', ') || '(none)'}` });
      }
      return { dashboard: hub.get(name), scope: tileScope(ws, principal.scopeKey, principal.scope) };
    };
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
    // The page itself holds no data: every client may load it; what it shows comes from the API.
    for (const route of ['/', '/dashboards/*', '/lab', '/catalog', '/catalog/*', '/streams', '/jobs', '/jobs/*']) {
      app.get(route, FOR_CLIENTS, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page()));
    }
    app.get<{ Params: { file: string } }>('/assets/:file', FOR_CLIENTS, async (request, reply) => {
      const type = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
      if (!type) return reply.code(404).send({ error: 'no such asset' });
      return reply.type(type).send(readFileSync(path.join(WEB_DIR, request.params.file)));
    });

    app.get('/api/project', FOR_CLIENTS, async (request) => {
      const principal = principalOf(request);
      const client = principal.kind === 'client' ? principal : undefined;
      return {
        name: ws.project.config.name,
        description: ws.project.config.description ?? null,
        // The UI shows a client its dashboards and the lab; examples are the admin's and may read any table.
        client: client?.name ?? null,
        dashboards: [...hub.dashboards].filter(([name]) => !client || client.dashboards.has(name)).map(([name, d]) => ({ name, title: d.title })),
        streams: client ? [] : streams.jobs.map((j) => j.name),
        labExamples: client ? [] : (ws.project.config.lab?.examples ?? []),
      };
    });

    app.get<{ Params: { name: string } }>('/api/dashboards/:name', FOR_CLIENTS, async (request) => {
      const { dashboard, scope } = dashboardFor(request, request.params.name);
      const options: Record<string, string[]> = {};
      for (const f of dashboard.filters) if (f.kind === 'select') options[f.id] = await hub.options(request.params.name, f.id, scope);
      if (!scope) return { name: request.params.name, ...dashboard, options };
      // A client gets the layout, not the queries: they are the admin's and may name what the client cannot see.
      return {
        name: request.params.name,
        ...dashboard,
        filters: dashboard.filters.map(({ options: _sql, ...filter }) => filter),
        tabs: dashboard.tabs.map((tab) => ({ ...tab, tiles: tab.tiles.map(({ sql: _sql, ...tile }) => tile) })),
        options,
      };
    });

    app.get<{ Params: { name: string }; Querystring: Record<string, string> }>('/api/dashboards/:name/tiles', FOR_CLIENTS, async (request) => {
      const { dashboard, scope } = dashboardFor(request, request.params.name);
      return hub.compute(request.params.name, filtersFrom(request.query, dashboard), undefined, scope);
    });

    app.get<{ Params: { name: string }; Querystring: Record<string, string> }>('/api/dashboards/:name/live', FOR_CLIENTS, (request, reply) => {
      const { dashboard, scope } = dashboardFor(request, request.params.name);
      const filters = filtersFrom(request.query, dashboard);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const send = (event: LiveEvent) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      res.write(`event: ready\ndata: {}\n\n`);
      const unsubscribe = hub.subscribe(request.params.name, filters, send, scope);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });
    });

    app.get('/api/hub', async () => ({ queries: hub.queries, commits: hub.commits, viewers: hub.viewers }));

    app.post<{ Body: string }>('/api/sql', FOR_CLIENTS, async (request, reply) => {
      const body = jsonObject<{ sql?: unknown; limit?: unknown; id?: unknown }>(request.body);
      if (!body) return reply.code(400).send({ error: 'expected a JSON body {"sql": "..."}', hint: 'send {"sql": "SELECT …", "limit": 1000}' });
      if (typeof body.sql !== 'string' || !body.sql.trim()) return reply.code(400).send({ error: 'no SQL to run', hint: 'type a query first' });
      const limit = body.limit ?? 1000;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > lab.limits.maxRows) {
        return reply.code(400).send({ error: `limit must be a whole number from 1 to ${lab.limits.maxRows}, got ${JSON.stringify(limit)}`, hint: 'for every row of a large answer, use `tributary sql --format csv`' });
      }
      return lab.run(body.sql, typeof body.id === 'string' ? body.id : randomUUID(), limit, principalOf(request));
    });
    app.post<{ Params: { id: string } }>('/api/sql/:id/cancel', FOR_CLIENTS, async (request) => ({ cancelled: lab.cancel(request.params.id, principalOf(request)) }));

    app.get('/api/catalog', FOR_CLIENTS, async (request) => {
      const principal = principalOf(request);
      if (principal.kind === 'client') {
        // What the lab needs to complete names: the tables the client can query and their columns; no counts, files or lineage.
        const visible = await ws.policy.visible(principal.scope);
        return { tables: [...visible].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, t]) => ({ name, columns: t.columns.map((c) => ({ name: c.name, type: clientType(c.type) })) })), lineage: [] };
      }
      const tables = await ws.metastore.tables();
      // A model's columns say where each comes from; a project that does not compile still shows its tables.
      const models = await modelColumns(ws).catch((error: unknown) => {
        request.log.warn({ err: error }, 'column lineage is not available');
        return new Map<string, { columns: ModelColumn[] }>();
      });
      const byTable = new Map<string, CatalogColumn[]>();
      for (const c of await ws.metastore.allColumns()) {
        const origin = models.get(c.table_name)?.columns.find((m) => m.column.toLowerCase() === c.name.toLowerCase());
        const column = { name: c.name, type: c.type, description: origin?.description ?? null, derived_from: origin?.derived_from ?? [], how: origin?.how ?? null };
        byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), column]);
      }
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
