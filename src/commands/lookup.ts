import { TributaryError } from '../core/errors.js';
import type { Workspace } from '../state/workspace.js';
import { ambiguousKey, lookupIndexOf, noRow, notLookupTable, readRows, type LookupMiss } from '../state/lookup-index.js';
import { renderRows } from './output.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';


function fail(miss: LookupMiss): never {
  throw new TributaryError(miss.error, { hint: miss.hint });
}

/** Without a server: one point query on the warehouse, written out the way the server's index writes it. */
async function pointLookup(ws: Workspace, table: string, key: string): Promise<string> {
  const lookupTables = (await ws.metastore.tables())
    .filter((t) => t.lookup_key && t.store === 'duckdb' && t.kind === 'table')
    .map((t) => ({ name: t.name, key: t.lookup_key! }));
  const declared = lookupTables.find((t) => t.name === table);
  if (!declared) fail(notLookupTable(table, lookupTables));
  // A connection of its own: inside a server the first connection is everyone's.
  const engine = await ws.engine.fork();
  try {
    const rows = await readRows(engine, table, declared.key, key);
    if (rows.length > 1) fail(ambiguousKey(table, declared.key, key, rows.length));
    return rows[0] ?? fail(noRow(table, declared.key, key));
  } finally {
    engine.close();
  }
}

/**
 * One row of a lookup table by its key. Inside the server it is read from the index the server
 * keeps in step with each commit (the same answer as `GET /v1/lookup/<table>/<key>`); run here, by
 * a point query, with the same JSON and the same errors.
 */
export const lookupCommand = defineCommand({
  ...declared.lookup,
  async run({ ws, io, server }, input) {
    const index = server ? lookupIndexOf(ws.metastore) : undefined;
    const row = index ? index.find(input.table, input.key) : await pointLookup(ws, input.table, input.key);
    io.out(input.format === 'json' ? row : renderRows([JSON.parse(row) as Record<string, unknown>], input.format, undefined, io.tty));
  },
});
