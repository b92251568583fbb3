import path from 'node:path';
import { z } from 'zod';
import type { DeclaredColumn } from '../../core/schemas.js';
import { TributaryError } from '../../core/errors.js';
import { lineReadLimit, listParameter, quoteList, quoteLiteral } from '../../engine/index.js';
import { typeJson, typeJsonFailures } from '../../quality/json.js';
import { resolveFiles } from './files.js';
import { jsonColumns, jsonOptions } from './json-options.js';
import { countLines, UnreadableFile, unreadableFile, type LineCount } from './line-count.js';
import { knownFileLabel, locateRecords, readableCopy, readRejects } from './located.js';
import { defineSource, sourceBase, type LineFingerprint, type RejectedRow, type SourceContext, type SourceScan } from './types.js';

const schema = z.object({ format: z.literal('jsonl'), ...sourceBase, json: jsonOptions.optional() }).strict();

/** Lines are read as text, with no quoting: a line is a record, and a bad one is quarantined, never fatal. */
const LINES = `header = false, delim = '\\x01', quote = '', escape = '', auto_detect = false, strict_mode = true`;
const PLAIN_LINES = { delimiter: '\x01', quote: '', escape: '', header: false };
/** Most failing lines a load finds by their texts in the files' count; more are numbered by the engine. */
const FIND_AT_MOST = 100_000;

/** JSON lines: one object a line, typed exactly by the declared columns. */
export const jsonlSource = defineSource({
  kind: 'jsonl',
  description: 'JSON lines (one object a line; .gz too), typed exactly',
  config: schema,
  async create(config: z.output<typeof schema>, context: SourceContext): Promise<SourceScan> {
    const { files, bytes } = await resolveFiles(context.name, config.path, context.baseDir, context.scratchDir, context.interval);
    const columns = await jsonColumns(context, config.columns, config.json, (engine) =>
      engine.describe(`SELECT * FROM read_json(${quoteList(files)}, format = 'newline_delimited', sample_size = -1, union_by_name = true)`).catch((error: Error) => {
        // Inference reads every line, and the engine's reader stops at the first that is not JSON.
        const malformed = /Malformed JSON in file "(.+?)", at byte \d+ in line \d+: ([^\n]*?)\.?\s*(?:\n|$)/.exec(error.message);
        if (!malformed) throw error;
        throw new TributaryError(`cannot infer the columns: a line of the file is not JSON (${malformed[2]}); nothing was committed`, {
          place: { file: malformed[1] },
          hint: `declare sources.${context.name}.columns: with declared columns a line that is not JSON is quarantined at its line and the rest loads`,
        });
      }),
    );
    return openScan({ config, context, bytes, columns, files, original: new Map(files.map((f) => [f, f])), repairs: 0 });
  },
});

/** What a scan reads: the files found, or after a repair their repaired copies. */
interface JsonlRead {
  config: z.output<typeof schema>;
  context: SourceContext;
  bytes: number;
  columns: DeclaredColumn[];
  /** Files the reader reads (a repaired copy in place of its original). */
  files: string[];
  /** File read → the file people know it by (a repaired copy names its original). */
  original: Map<string, string>;
  /** Repairs before this scan: names its tables apart from the scan it replaces. */
  repairs: number;
}

function openScan(read: JsonlRead): SourceScan {
  const { config, context, bytes, columns, files, original } = read;
  const maxBytes = config.json?.maxRecordBytes ?? 16_000_000;
  const suffix = `${context.runId}_${read.repairs}`.replace(/[^a-z0-9]/gi, '_');
  const rejectsTable = `tributary_rejects_${suffix}`;
  const scansTable = `tributary_reject_scans_${suffix}`;
  const foundTable = `tributary_found_${suffix}`;
  const known = (file: string) => original.get(file) ?? file;
  const label = knownFileLabel(original);
  // The independent count of every file's lines, made once, after the scan: given the
  // fingerprints of the lines that failed, the same read of the files finds them.
  let counting: Promise<{ c: LineCount[] } | { error: Error }> | undefined;
  const count = (wanted?: ReadonlyMap<string, readonly LineFingerprint[]>) =>
    (counting ??= countLines(files, wanted).then(
      (c) => ({ c }),
      (error: Error) => ({ error }),
    ));
  let scanned = false;
  // The reader's one column is the line itself, a name of Tributary's: a refused line names no field.
  const rejects = async () => (scanned ? (await readRejects(context.engine, rejectsTable, scansTable, label, `sources.${context.name}.json.maxRecordBytes`)).map((r) => ({ ...r, column: null })) : []);
  const readLinesOf = (from: readonly string[], options: string) =>
    `read_csv(${quoteList(from)}, columns = {'__line': 'VARCHAR'}, ${LINES}, ${lineReadLimit(maxBytes)}, ${options})`;
  const lines = (located: boolean, only?: readonly string[]) => {
    if (located) {
      // A record is a line: each file is numbered as one thread reads it, by a streaming window
      // (no sort, nothing held), and the files are read side by side.
      const numbered = files
        .filter((file) => !only || only.includes(file))
        .map((file) => `SELECT ${quoteLiteral(known(file))} AS __file, row_number() OVER () AS __record, __line FROM ${readLinesOf([file], 'parallel = false, ignore_errors = true')}`);
      return numbered.length ? `(${numbered.join('\n UNION ALL ')})` : `(SELECT NULL::VARCHAR AS __file, NULL::BIGINT AS __record, NULL::VARCHAR AS __line WHERE false)`;
    }
    scanned = true;
    return `(SELECT __line, filename AS __file FROM ${readLinesOf(files, `filename = true, store_rejects = true, rejects_table = '${rejectsTable}', rejects_scan = '${scansTable}'`)})`;
  };
  return {
    files,
    bytes,
    columns: columns.map((c) => ({ name: c.name, type: c.type })),
    hasParseError: true,
    labelsFiles: true,
    // A located read is for finding the records that fail: it reads what the verdict needs from
    // every record and the rest only from those.
    relation: ({ located, files: only } = {}) =>
      located
        ? typeJsonFailures(lines(true, only), '__line', columns, ['__file', '__record', '__line'], config.json ?? {}, config.rules ?? [], 'skip')
        : typeJson(lines(false), '__line', columns, ['__file', '__line'], config.json, 'skip'),
    rawColumn: '__line',
    async find(wanted) {
      // Many failing lines are the engine's to number: their texts would all cross over here.
      if ([...wanted.values()].flat().reduce((n, w) => n + w.count, 0) > FIND_AT_MOST) return undefined;
      const outcome = await count(wanted);
      // An unreadable file fails the load when it reconciles, with its name.
      if ('error' in outcome) return undefined;
      const refused = await rejects();
      const rows: { file: string; record: number; text: string }[] = [];
      for (const counted of outcome.c) {
        const asked = wanted.get(counted.file);
        if (!asked) continue;
        const found = counted.found ?? [];
        if (found.length !== asked.reduce((n, w) => n + w.count, 0)) return undefined;
        // A located read numbers records past the lines the reader refused, as `locate` expects.
        const name = known(counted.file);
        const refusedLines = refused.filter((r) => r.file === name && r.line !== null).map((r) => r.line!);
        for (const { line, text } of found) rows.push({ file: name, record: line - refusedLines.filter((l) => l < line).length, text });
      }
      await context.engine.run(
        `CREATE OR REPLACE TEMP TABLE ${foundTable} AS
         SELECT unnest($1::JSON::VARCHAR[]) AS __file, unnest($2::JSON::BIGINT[]) AS __record, unnest($3::JSON::VARCHAR[]) AS __line`,
        [listParameter(rows.map((r) => r.file)), listParameter(rows.map((r) => r.record)), listParameter(rows.map((r) => r.text))],
      );
      return typeJson(foundTable, '__line', columns, ['__file', '__record', '__line'], config.json ?? {}, 'skip');
    },
    rejects,
    async reconcile(yielded, rejects) {
      const outcome = await count();
      if ('error' in outcome) {
        const file = outcome.error instanceof UnreadableFile ? outcome.error.file : undefined;
        throw unreadableFile(file && known(file), outcome.error);
      }
      // The reader yields a blank line too, as NULL; the load skips it.
      const physical = outcome.c.reduce((s, f) => s + f.lines + f.blank, 0);
      if (physical !== yielded + rejects.length) {
        throw new TributaryError(`counts do not reconcile: the files hold ${physical} lines but the reader produced ${yielded + rejects.length} records; nothing was committed`, {
          place: { file: known(files[0]!) },
          hint: 'report this with the file: every line of a JSON-lines file should be one record',
        });
      }
      return undefined;
    },
    async recover(error) {
      // DuckDB's strict reader stops at the first line whose ending differs from the file's first,
      // and at a carriage return that ends no line. The files are read again with LF endings, the
      // lines holding a stray carriage return blanked and set aside.
      if (!/state machine reached an invalid state/i.test(error.message)) return undefined;
      const unified: string[] = [];
      const names = new Map(original);
      const setAside: RejectedRow[] = [];
      for (const file of files) {
        const name = known(file);
        const copy = await readableCopy(file, name, (step) => path.join(context.scratchDir, `${step}-${read.repairs}-${unified.length}-${path.basename(file).replace(/\.gz$/i, '')}`), PLAIN_LINES);
        unified.push(copy.read);
        if (copy.read === file) continue;
        names.set(copy.read, name);
        if (copy.crlf && copy.lf) {
          context.log(`source '${context.name}': ${name} mixes line endings (${copy.crlf.toLocaleString('en-US')} CRLF, ${copy.lf.toLocaleString('en-US')} LF); reading it with LF endings`);
        }
        for (const { line, text } of copy.stray) {
          setAside.push({
            file: name,
            line,
            column: null,
            reason: 'a carriage return that ends no line (JSON writes one inside a string as \\r): the reader cannot read past it; this line was set aside and the lines after it were read',
            raw: text,
          });
        }
      }
      if (unified.every((file, i) => file === files[i])) return undefined;
      if (setAside.length) {
        const first = setAside[0]!;
        context.log(`source '${context.name}': ${setAside.length} line(s) with a stray carriage return set aside, e.g. ${first.file}:${first.line}; reading the rest again`);
      }
      return { scan: openScan({ ...read, files: unified, original: names, repairs: read.repairs + 1 }), setAside };
    },
    locate: async (file, records, rejects) =>
      // The reader yields every line as a record, a blank one as NULL: record n is line n, past refused lines.
      locateRecords({ read: files.find((f) => known(f) === file) ?? file, known: file, records, rejects, counted: undefined, multiLine: undefined, dialect: PLAIN_LINES, everyLineARecord: true }),
    async close() {
      await context.engine.run(`DROP TABLE IF EXISTS ${rejectsTable}; DROP TABLE IF EXISTS ${scansTable}; DROP TABLE IF EXISTS ${foundTable}`);
    },
  };
}
