import type { ServerPlugin } from './app.js';
import { LookupIndex } from './lookup-index.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Key lookups on serving tables: `GET /v1/lookup/<table>/<key>` answers the row as JSON from the
 * in-memory index (see LookupIndex), and `GET /v1/lookup` lists the lookup tables. The core's
 * hooks (token, Host, Origin) run before these routes like any other.
 *
 * The key is the rest of the path, so it may hold a slash (sent as %2F or as is) and be longer
 * than a route parameter may be; the router decodes it. The answer carries the snapshot the
 * index is in step with (`x-tributary-snapshot`).
 */
export function lookupPlugin(): ServerPlugin {
  return async (app, { ws }) => {
    const index = await LookupIndex.open(ws.metastore, await ws.engine.fork());
    app.addHook('onClose', () => index.close());

    app.get('/v1/lookup', async () => ({ snapshot: Number(index.snapshot), tables: index.status() }));

    // Not async, and nothing built per hit: the row is already the text to send.
    app.get<{ Params: { table: string; '*': string } }>('/v1/lookup/:table/*', (request, reply) => {
      const { table, '*': key } = request.params;
      const row = index.get(table, key);
      if (row !== undefined) {
        reply.header('content-type', JSON_TYPE).header('x-tributary-snapshot', index.snapshot).send(row);
        return;
      }
      const miss = index.miss(table, key);
      reply.code(miss.status).send({ error: miss.error, hint: miss.hint });
    });
  };
}
