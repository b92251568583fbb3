import { runReadOnly } from './query.js';
import { streamRows } from './output.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';


/** One read-only query: as CSV or JSON every row of its answer, streamed out; as a table (for people) its first rows. */
export const sqlCommand = defineCommand({
  ...declared.sql,
  async run({ ws, io, signal }, input) {
    const writer = streamRows(input.format, (text) => io.out(text), io.tty);
    const outcome = await runReadOnly(ws, input.query, (columns) => writer.columns(columns.map((c) => c.name)), (rows) => writer.rows(rows), { signal, maxRows: writer.maxRows });
    writer.end(outcome.truncated);
  },
});
