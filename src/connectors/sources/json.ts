import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { capText, RAW_KEEP_CHARS } from '../../catalog/index.js';
import { quoteList } from '../../engine/index.js';
import { typeJson } from '../../quality/json.js';
import { resolveFiles } from './files.js';
import { jsonColumns, jsonOptions } from './json-options.js';
import { numberedInFileOrder } from './located.js';
import { defineSource, type RejectedRow, sourceBase, type SourceContext, type SourceScan } from './types.js';

const schema = z.object({ format: z.literal('json'), ...sourceBase, json: jsonOptions.optional() }).strict();

/** Records in one JSON file: an array holds one per element, anything else is one record. */
function recordsIn(text: string): number {
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed.length : 1;
}

/** Whether a text that is not one JSON document starts with two lines that each are one (JSON lines). */
function holdsJsonLines(text: string): boolean {
  const lines = text.slice(0, 1 << 20).split('\n').filter((line) => line.trim()).slice(0, 2);
  return (
    lines.length === 2 &&
    lines.every((line) => {
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    })
  );
}

/**
 * JSON documents: one object, or an array of objects, per file, pretty-printed or not (the layout
 * of song files in a data lake). Each file is parsed once on its own to count its records
 * independently of the engine; a file that is not JSON is quarantined whole, with the parser's
 * reason, and the others load.
 */
export const jsonSource = defineSource({
  kind: 'json',
  description: 'JSON documents: one object or array of objects per file (.gz too), typed exactly',
  config: schema,
  async create(config: z.output<typeof schema>, context: SourceContext): Promise<SourceScan> {
    const { files: matched, bytes } = await resolveFiles(context.name, config.path, context.baseDir, context.scratchDir, context.interval);
    const setAside: RejectedRow[] = [];
    const files: string[] = [];
    let expected = 0;
    for (const file of matched) {
      let text: string;
      try {
        const raw = readFileSync(file);
        text = (/\.gz$/i.test(file) ? gunzipSync(raw) : raw).toString('utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ERR_STRING_TOO_LONG' || code === 'ERR_FS_FILE_TOO_LARGE' || (error instanceof RangeError && /buffer|string/i.test(error.message))) {
          throw new TributaryError(`the file is too large to read as one JSON document (${(error as Error).message}); a JSON source parses each file whole; nothing was committed`, {
            place: { file },
            hint: `a file of one record a line reads at any size as format 'jsonl' (sources.${context.name}.format); split a larger document into files`,
          });
        }
        throw new TributaryError(`cannot read the file (${(error as Error).message}); nothing was committed`, { place: { file }, hint: 'fetch or copy the file again, then re-run' });
      }
      try {
        expected += recordsIn(text);
        files.push(file);
      } catch (error) {
        const advice = holdsJsonLines(text) ? ` (the file holds a JSON value a line: declare sources.${context.name}.format 'jsonl' to read each line as a record)` : '';
        setAside.push({ file, line: null, record: 1, column: null, reason: `not valid JSON: ${(error as Error).message}${advice}`, raw: capText(text, RAW_KEEP_CHARS) });
      }
    }
    const columns = await jsonColumns(context, config.columns, config.json, (engine) =>
      files.length ? engine.describe(`SELECT * FROM read_json(${quoteList(files)}, format = 'auto', sample_size = -1, union_by_name = true)`) : Promise.resolve([]),
    );
    const read = () => `read_json_objects(${quoteList(files)}, format = 'auto', filename = true, maximum_object_size = ${config.json?.maxRecordBytes ?? 16_000_000})`;
    const objects = (located: boolean) =>
      files.length
        ? located
          ? `(SELECT __scan_file AS __file, __record, json::VARCHAR AS __doc FROM ${numberedInFileOrder(read())})`
          : `(SELECT json::VARCHAR AS __doc FROM ${read()})`
        : `(SELECT ${located ? 'NULL::VARCHAR AS __file, NULL::BIGINT AS __record, ' : ''}NULL::VARCHAR AS __doc WHERE false)`;
    return {
      files: matched,
      bytes,
      columns: columns.map((c) => ({ name: c.name, type: c.type })),
      hasParseError: true,
      // A located record carries its text, for the quarantine to keep the record as it came.
      relation: ({ located } = {}) => typeJson(objects(Boolean(located)), '__doc', columns, located ? ['__file', '__record', '__doc'] : [], config.json),
      rawColumn: '__doc',
      rejects: async () => setAside,
      async reconcile(yielded, rejects) {
        if (yielded + rejects.length !== expected + setAside.length) {
          throw new TributaryError(`counts do not reconcile: the files hold ${expected} JSON records but the reader produced ${yielded}; nothing was committed`, {
            hint: 'report this with the files: each array element or top-level object should be one record',
          });
        }
        return undefined;
      },
      // A JSON file's records have no lines of their own: they are numbered within the file.
      locate: async (_file, records) => new Map(records.map((r) => [r, { line: null, record: r }])),
      close: async () => undefined,
    };
  },
});

