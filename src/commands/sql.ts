import { runReadOnly } from './query.js';
import { z } from 'zod';
import { format } from './input.js';
import { streamRows } from './output.js';
import { defineCommand } from './types.js';


/** One read-only query, every row of its answer streamed out (a limit is only what the query asks). */
export const sqlCommand = defineCommand({
  name: 'sql',
  input: z.strictObject({ query: z.string().trim().min(1, 'expected a query'), format }),
  async run({ ws, io, signal }, input) {
    const writer = streamRows(input.format, (text) => io.out(text), io.tty);
    await runReadOnly(ws, input.query, (columns) => writer.columns(columns.map((c) => c.name)), (rows) => writer.rows(rows), { signal });
    writer.end();
  },
});
