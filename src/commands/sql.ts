import { runReadOnly } from './query.js';
import { streamRows } from './output.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';


/** One read-only query, every row of its answer streamed out (a limit is only what the query asks). */
export const sqlCommand = defineCommand({
  ...declared.sql,
  async run({ ws, io, signal }, input) {
    const writer = streamRows(input.format, (text) => io.out(text), io.tty);
    await runReadOnly(ws, input.query, (columns) => writer.columns(columns.map((c) => c.name)), (rows) => writer.rows(rows), { signal });
    writer.end();
  },
});
