import type { FastifyReply, FastifyRequest } from 'fastify';
import { visibilityOf, type RowScope } from '../engine/policy.js';
import type { ServerPlugin } from './app.js';
import { FOR_CLIENTS, principalOf } from './auth.js';
import { LookupIndex, noRow, notLookupTable, outOfDate, type LookupMiss } from '../state/lookup-index.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Whether a row (as the index holds it: JSON text) holds every value of the scope; a value is compared as the API writes it. */
function inScope(row: string, scope: RowScope): boolean {
  const values = new Map(Object.entries(JSON.parse(row) as Record<string, unknown>).map(([column, value]) => [column.toLowerCase(), value]));
  return Object.entries(scope.rows).every(([column, wanted]) => {
    const value = values.get(column.toLowerCase());
    return value !== null && value !== undefined && (typeof value === 'object' ? false : String(value) === String(wanted));
  });
}

/**
 * Key lookups on serving tables: `GET /v1/lookup/<table>/<key>` answers the row as JSON from the
 * in-memory index (see LookupIndex), and `GET /v1/lookup` lists the lookup tables. The core's
 * hooks (token, Host, Origin) run before these routes like any other.
 *
 * The key is the rest of the path, so it may hold a slash (sent as %2F or as is) and be longer
 * than a route parameter may be; the router decodes it. The answer carries the snapshot the
 * index is in step with (`x-tributary-snapshot`).
 *
 * A client token looks up within its row scope: a table it cannot see answers like a table that
 * is no lookup table, and a row outside its scope (or a key other rows make ambiguous) like a key
 * with no row: same status, same body, same headers. It is listed no row counts.
 */
export function lookupPlugin(): ServerPlugin {
  return async (app, { ws }) => {
    const index = await LookupIndex.open(ws.metastore, await ws.engine.fork());
    app.addHook('onClose', () => index.close());
    /** The lookup tables a scope shows, and how. */
    const shownTables = (scope: RowScope) =>
      index.lookupTables().flatMap((t) => {
        const columns = index.columns(t.name);
        const visibility = columns && visibilityOf(t.name, columns, scope);
        return visibility ? [{ ...t, visibility }] : [];
      });
    const refuse = (reply: FastifyReply, miss: LookupMiss) => reply.code(miss.status).send({ error: miss.error, hint: miss.hint });

    app.get('/v1/lookup', FOR_CLIENTS, async (request) => {
      const principal = principalOf(request);
      if (principal.kind === 'admin') return { snapshot: Number(index.snapshot), tables: index.status() };
      return { snapshot: Number(index.snapshot), tables: shownTables(principal.scope).map((t) => ({ table: t.name, key: t.key })) };
    });

    // Not async, and nothing built per hit: the row is already the text to send. Only while a
    // commit readers can see is still being indexed does a lookup wait for it.
    app.get<{ Params: { table: string; '*': string } }>('/v1/lookup/:table/*', FOR_CLIENTS, (request, reply) => {
      const catchingUp = index.behind();
      if (catchingUp) return catchingUp.then(() => (answer(request, reply), reply));
      answer(request, reply);
      return reply;
    });

    const answer = (request: FastifyRequest<{ Params: { table: string; '*': string } }>, reply: FastifyReply): void => {
      const { table, '*': key } = request.params;
      const principal = principalOf(request);
      if (principal.kind === 'client') {
        const tables = shownTables(principal.scope);
        const shown = tables.find((t) => t.name === table);
        if (!shown) return void refuse(reply, notLookupTable(table, tables));
        const row = index.get(table, key, shown.visibility === 'rows' ? (candidate) => inScope(candidate, principal.scope) : undefined);
        if (row !== undefined) return void reply.header('content-type', JSON_TYPE).header('x-tributary-snapshot', index.snapshot).send(row);
        const miss = index.miss(table, key);
        // Why the index is behind is the admin's to read (the server log); to a client it is only behind.
        return void refuse(reply, miss.status === 503 ? outOfDate(table, 'it is being read again') : noRow(table, shown.key, key));
      }
      const row = index.get(table, key);
      if (row !== undefined) {
        reply.header('content-type', JSON_TYPE).header('x-tributary-snapshot', index.snapshot).send(row);
        return;
      }
      refuse(reply, index.miss(table, key));
    };
  };
}
