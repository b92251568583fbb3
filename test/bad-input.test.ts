import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../src/core/errors.js';
import { textLength } from '../src/core/schemas.js';
import { inferSeedColumns } from '../src/dbt/seeds.js';
import { runModels } from '../src/models/index.js';
import { ECOMMERCE_SAMPLE, cli, openProject, runProject, tempDir, writeTree } from './helpers.js';
import { requireService } from './services.js';

/**
 * Each kind of bad input from the issue, on real sample rows: a clear error naming the place, or a
 * quarantined row with its reason and line. Nothing is lost: read = written + quarantined.
 */
const sampleLines = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trim().split('\n');
const HEADER = sampleLines[0]!;
const GOOD = sampleLines.slice(1, 21); // 20 real rows

function project(file = 'data/events.csv', extra = ''): string {
  return `import { defineProject } from 'tributary';
export default defineProject({
  name: 'bad_input',
  sources: {
    clicks: {
      format: 'csv',
      path: '${file}',
      columns: {
        event_time: 'TIMESTAMP', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT',
        category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DECIMAL(12,2)', user_id: 'BIGINT', user_session: 'VARCHAR',
      },
      csv: { timestampFormat: '%Y-%m-%d %H:%M:%S UTC' },
      rules: [{ column: 'event_type', accepted: ['view', 'cart', 'purchase'] }, { column: 'price', min: 0 }],
    },
  },
  models: {
    events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake', partitionBy: { dt: 'CAST(event_time AS DATE)' } },
    ${extra}
  },
});
`;
}

function withLines(lines: string[], file = 'data/events.csv'): string {
  return writeTree({ 'tributary.config.ts': project(file), [file]: `${[HEADER, ...lines].join('\n')}\n` });
}

async function quarantineOf(dir: string) {
  const { ws, results } = await runProject(dir);
  const rows = await ws.metastore.quarantine({ model: 'events' });
  const events = Number(await ws.engine.scalar<bigint>('SELECT count(*) FROM events'));
  ws.close();
  const result = results[0]!;
  expect(result.read).toBe(result.written + result.quarantined);
  expect(result.written).toBe(events);
  return { result, rows };
}

async function failure(dir: string): Promise<TributaryError> {
  const ws = await openProject(dir);
  try {
    await runModels(ws, { quiet: true, log: () => undefined });
  } catch (error) {
    expect(error).toBeInstanceOf(TributaryError);
    const files = await ws.metastore.liveFiles('events');
    expect(files).toEqual([]); // nothing half-written is visible
    return error as TributaryError;
  } finally {
    ws.close();
  }
  throw new Error('the run was expected to fail');
}

describe('bad input', () => {
  it('a missing file is a clear error that names the source and path, and the CLI exits non-zero', async () => {
    const dir = writeTree({ 'tributary.config.ts': project('data/nowhere-*.csv') });
    const error = await failure(dir);
    expect(error.message).toMatch(/source 'clicks' matched no files: .*nowhere-\*\.csv/);
    expect(error.hint).toMatch(/--source NAME=PATH/);
    const run = cli(['run', '--project', dir, '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/matched no files/);
  });

  it('a declared type the engine does not know is named at its column before a file is read; one that would end the statement is refused with the config', async () => {
    const dir = withLines(GOOD);
    const config = path.join(dir, 'tributary.config.ts');
    const declared = readFileSync(config, 'utf8');
    writeFileSync(config, declared.replace("price: 'DECIMAL(12,2)'", "price: 'DECIMAL(50,2)'"));
    const error = await failure(dir);
    expect(error.place).toEqual({ field: 'sources.clicks.columns.price' });
    expect(error.message).toMatch(/^'DECIMAL\(50,2\)' is no type the engine knows \(Binder Error: DECIMAL type width must be between 1 and 38\)$/);
    expect(error.hint).toMatch(/^declare a DuckDB type, e\.g\. BIGINT/);
    writeFileSync(config, declared.replace("price: 'DECIMAL(12,2)'", "price: 'INTEGER); DROP TABLE events; --'"));
    const run = cli(['run', '--project', dir, '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/field sources\.clicks\.columns\.price: expected one DuckDB type such as BIGINT or DECIMAL\(10,2\), with no ;, -- or \/\*/);
  });

  it('a data, lake or project folder that is a file, or lies under one, is named as such with what to do; the file is left as it was', () => {
    const dir = withLines(GOOD);
    const blocker = path.join(tempDir(), 'not-a-folder');
    writeFileSync(blocker, 'a file');
    for (const dataDir of [blocker, path.join(blocker, 'deeper', 'still')]) {
      const run = cli(['run', '--project', dir, '--data-dir', dataDir, '--quiet']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`cannot make the state folder ${path.join(dataDir, 'state')}: ${blocker} is a file, not a folder`);
      expect(run.stderr).toMatch(/→ give --data-dir .* a folder that can be written/);
    }
    const lakeBlocked = tempDir();
    writeFileSync(path.join(lakeBlocked, 'lake'), 'a file');
    const run = cli(['run', '--project', dir, '--data-dir', lakeBlocked, '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot make the lake folder ${path.join(lakeBlocked, 'lake')}: ${path.join(lakeBlocked, 'lake')} is a file, not a folder`);
    const init = cli(['init', path.join(blocker, 'project')]);
    expect(init.code).toBe(1);
    expect(init.stderr).toContain(`cannot make the project folder ${path.join(blocker, 'project')}: ${blocker} is a file, not a folder`);
    expect(readFileSync(blocker, 'utf8')).toBe('a file');
  });

  it('a wrong delimiter is caught at the header, with a hint to set csv.delimiter', async () => {
    const dir = withLines(GOOD.map((l) => l.replaceAll(',', ';')));
    writeFileSync(path.join(dir, 'data/events.csv'), [HEADER.replaceAll(',', ';'), ...GOOD.map((l) => l.replaceAll(',', ';'))].join('\n'));
    const error = await failure(dir);
    expect(error.place).toMatchObject({ file: path.join(dir, 'data/events.csv'), line: 1 });
    expect(error.message).toMatch(/header has 1 column/);
    expect(error.hint).toMatch(/csv\.delimiter/);
  });

  it('a wrong header names the file, line 1, what it found and what was expected', async () => {
    const dir = withLines(GOOD);
    writeFileSync(path.join(dir, 'data/events.csv'), [HEADER.replace('price', 'cost'), ...GOOD].join('\n'));
    const error = await failure(dir);
    expect(error.format()).toMatch(/events\.csv:1: header has 9 column\(s\) \[.*cost.*\], expected \[.*price.*\]/);
  });

  it('a header that repeats a name (any case) or leaves one out is named as such, with the fields, whether the columns are declared or inferred', async () => {
    const declared = withLines(GOOD);
    writeFileSync(path.join(declared, 'data/events.csv'), [HEADER.replace('user_session', 'Brand'), ...GOOD].join('\n'));
    // Inferred, the engine had read the second as brand_1 and the check then blamed columns nobody declared.
    const inferred = writeTree({
      'tributary.config.ts': project().replace(/columns: \{[^}]*\},/, ''),
      'data/events.csv': [HEADER.replace('user_session', 'brand'), ...GOOD].join('\n'),
    });
    for (const [dir, second] of [
      [declared, 'Brand'],
      [inferred, 'brand'],
    ] as const) {
      const error = await failure(dir);
      expect(error.place).toMatchObject({ file: path.join(dir, 'data/events.csv'), line: 1 });
      expect(error.message).toBe(`the header repeats a name: 'brand' (field 6) and '${second}' (field 9); each column needs a name of its own`);
      expect(error.hint).toMatch(/^rename one of them in the file's header/);
    }
    writeFileSync(path.join(inferred, 'data/events.csv'), [HEADER.replace('brand', ' '), ...GOOD].join('\n'));
    const unnamed = await failure(inferred);
    expect(unnamed.message).toBe("the header's field 6 has no name; each column needs a name of its own");
    expect(unnamed.hint).toMatch(/^name it in the file's header \(the engine would call it column5\)/);
  });

  it('an empty file, or a blank line where the header should be, is named as such, not as a wrong delimiter', async () => {
    const dir = withLines(GOOD);
    for (const text of ['', '\uFEFF', `\n${[HEADER, ...GOOD].join('\n')}`]) {
      writeFileSync(path.join(dir, 'data/events.csv'), text);
      const error = await failure(dir);
      expect(error.place).toMatchObject({ file: path.join(dir, 'data/events.csv'), line: 1 });
      expect(error.message).toMatch(/^no header: the file's first line is empty \(or the file is\), expected \[event_time, /);
      expect(error.hint).toMatch(/writer has not finished/);
      expect(error.hint).not.toMatch(/delimiter/);
    }
  });

  it('a UTF-16 file is named as not UTF-8 with how to convert it, not as a wrong header; control characters of a header reach no terminal', async () => {
    const dir = withLines(GOOD);
    const text = `${[HEADER, ...GOOD].join('\n')}\n`;
    const file = path.join(dir, 'data/events.csv');
    for (const [bytes, said] of [
      [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), /byte-order mark of UTF-16 or UTF-32/],
      [Buffer.from(text, 'utf16le'), /UTF-16 or UTF-32 text, or a binary file/],
    ] as const) {
      writeFileSync(file, bytes);
      const error = await failure(dir);
      expect(error.place).toMatchObject({ file, line: 1 });
      expect(error.message).toMatch(/^the file is not UTF-8 text: its first line holds NUL bytes/);
      expect(error.message).toMatch(said);
      expect(error.hint).toMatch(/iconv -f UTF-16 -t UTF-8/);
    }
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/✘ events: the file is not UTF-8 text/);
    // A header that would retitle the terminal is shown, not obeyed, on every line that quotes it.
    writeFileSync(file, [HEADER.replace('price', '\u001b]0;owned\u0007price'), ...GOOD].join('\n'));
    const escaped = cli(['run', '--project', dir]);
    expect(escaped.stderr).toMatch(/✘ events: header has 9 column\(s\) \[.*␛\]0;owned␇price/);
    expect(escaped.stderr).not.toContain('\u001b]');
  });

  it('a truncated .gz fails the run with the file named, and commits nothing', async () => {
    const dir = writeTree({ 'tributary.config.ts': project('data/events.csv.gz'), 'data/.keep': '' });
    const gz = gzipSync(Buffer.from(`${[HEADER, ...sampleLines.slice(1, 3000)].join('\n')}\n`));
    writeFileSync(path.join(dir, 'data/events.csv.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    const error = await failure(dir);
    // The file by its full path, what is wrong with it, that nothing committed, and what to do.
    const said = /events\.csv\.gz: cannot read the \.gz file \(truncated or corrupt\): .*; nothing was committed\n {2}→ fetch or copy the file again, then re-run/;
    expect(error.format()).toMatch(said);
    expect(error.format()).toContain(path.join(dir, 'data/events.csv.gz'));
    const run = cli(['run', '--project', dir, '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(said);
  });

  it('a JSON-lines .gz cut short fails the run with the file named, though the engine alone reads the part before the cut without a word', async () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ id: i, kind: `k${i % 7}` }));
    const gz = gzipSync(`${lines.join('\n')}\n`);
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'bad_input',
  sources: { clicks: { format: 'jsonl', path: 'data/*.jsonl.gz', columns: { id: 'BIGINT', kind: 'VARCHAR' } } },
  models: { events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake' } },
});
`,
      'data/clicks.jsonl.gz': gz.subarray(0, gz.length >> 1),
    });
    const file = path.join(dir, 'data/clicks.jsonl.gz');
    // Why the load counts every file's lines itself: DuckDB's reader stops at the cut and reports nothing.
    const ws = await openProject(dir);
    try {
      const read = await ws.engine.scalar<number>(`SELECT count(*)::INTEGER FROM read_csv('${file}', columns = {'line': 'VARCHAR'}, header = false, delim = '\x01', quote = '', escape = '', auto_detect = false)`);
      expect(read).toBeGreaterThan(0);
      expect(read).toBeLessThan(lines.length);
    } finally {
      ws.close();
    }
    const error = await failure(dir);
    expect(error.format()).toMatch(/clicks\.jsonl\.gz: cannot read the file to its end \(a truncated or corrupt \.gz\?\): unexpected end of file; nothing was committed\n {2}→ fetch or copy the file again, then re-run/);
    expect(error.format()).toContain(file);
  });

  it('a full disk fails the load naming the file and what to do, commits nothing and leaves no staged file filling it', async () => {
    // A disk of 3 MB: a tmpfs, which only root may mount (CI runs as root).
    const disk = tempDir();
    const mounted = await requireService('a 3 MB tmpfs for a full disk (mount -t tmpfs needs root)', async () => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk], { stdio: 'pipe' }));
    if (!mounted) return;
    try {
      // Notes that do not compress: more Parquet than the disk holds.
      const rows = Array.from({ length: 200_000 }, (_, i) => `${i},${createHash('sha1').update(String(i)).digest('hex')}`);
      const dir = writeTree({
        'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'full_disk',
  sources: { notes: { format: 'csv', path: 'data/notes.csv', columns: { id: 'BIGINT', note: 'VARCHAR' } } },
  models: { notes: { sql: "SELECT * FROM {{ source('notes') }}", materialize: 'lake', partitionBy: { bucket: 'id % 8' } } },
});
`,
        'data/notes.csv': `id,note\n${rows.join('\n')}\n`,
      });
      const run = cli(['run', '--project', dir, '--data-dir', disk, '--quiet']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/model 'notes' failed: IO Error: Could not write file "[^"]+\.parquet": No space left on device\n {2}→ the disk is full; it committed nothing and removed what it had written: free space on it \(the disk of the path named, or of the data folder\), or give --data-dir a larger disk/);
      const staged = readdirSync(disk, { recursive: true }).map(String).filter((f) => f.includes('_staging') && f.endsWith('.parquet'));
      expect(staged).toEqual([]);
      const left = cli(['catalog', '--project', dir, '--data-dir', disk, '--format', 'json']);
      expect(JSON.parse(left.stdout)).toEqual([]);
      // The disk full to the last byte: a command that must write to open the state says so, with what to do.
      try {
        writeFileSync(path.join(disk, 'filler'), Buffer.alloc(8 << 20));
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      const query = cli(['run', '--project', dir, '--data-dir', disk, '--quiet']);
      expect(query.code).toBe(1);
      expect(query.stderr).toMatch(/No space left on device\n {2}→ the disk is full: /);
      expect(query.stderr).toMatch(/free space on it \(the disk of the path named, or of the data folder\), or give --data-dir a larger disk, then run the command again/);
    } finally {
      execFileSync('umount', [disk]);
    }
  });

  it('a damaged state database (cut short, or overwritten) is named with what to do; moved aside as told, the next run loads anew', () => {
    const dir = withLines(GOOD);
    expect(cli(['run', '--project', dir, '--quiet']).code).toBe(0);
    const state = path.join(dir, '.tributary', 'warehouse.duckdb');
    const whole = readFileSync(state);
    for (const damaged of [whole.subarray(0, 10_000), Buffer.alloc(5_000, 7)]) {
      writeFileSync(state, damaged);
      const run = cli(['sql', 'SELECT 1', '--project', dir]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${state}: the state database is damaged: IO Error:`);
      expect(run.stderr).toMatch(/; nothing was changed\n {2}→ restore it from a backup, or move it aside \(mv \S+ \S+\.damaged\) and run again: the sources load anew/);
    }
    renameSync(state, `${state}.damaged`);
    const again = cli(['run', '--project', dir, '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/✔ events \(lake\).*read 20, wrote 20, quarantined 0/);
  });

  it('a row with extra columns is quarantined with its line, the rest load', async () => {
    const lines = [...GOOD];
    lines[4] = `${lines[4]},surplus`;
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 6, source: 'clicks' });
    expect(rows[0]!.reason).toBe('TOO MANY COLUMNS: 10 fields where 9 are expected; a value holding the delimiter must be quoted');
    expect(rows[0]!.raw).toContain('surplus');
  });

  it('a model column named like the load\'s own verdict is refused with the model named, before a row is written; renamed, the row that breaks a rule is quarantined', async () => {
    const lines = [...GOOD];
    lines[2] = lines[2]!.replace(/,(view|cart|purchase),/, ',refund,');
    const clashing = project().replace(`sql: "SELECT * FROM {{ source('clicks') }}"`, `sql: "SELECT *, 'ok' AS __verdict FROM {{ source('clicks') }}"`);
    const dir = writeTree({ 'tributary.config.ts': clashing, 'data/events.csv': `${[HEADER, ...lines].join('\n')}\n` });
    const error = await failure(dir);
    expect(error.message).toBe("model 'events' outputs a column named __verdict, a name the load gives its own bookkeeping of the rules");
    expect(error.place).toMatchObject({ field: 'models.events.sql' });
    writeFileSync(path.join(dir, 'tributary.config.ts'), clashing.replace("'ok' AS __verdict", "'ok' AS verdict"));
    const { result, rows } = await quarantineOf(dir);
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 4, column_name: 'event_type' });
  });

  it('a line cut short is quarantined with its line, how many fields it has and how that happens, the rest load', async () => {
    const lines = [...GOOD];
    lines[8] = lines[8]!.split(',').slice(0, 4).join(',');
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 10 });
    expect(rows[0]!.reason).toBe('MISSING COLUMNS: 4 fields where 9 are expected; the line was cut short, or broken in two by a line break in a value that is not quoted');
  });

  it('a quote inside a quoted value that is not doubled is quarantined with its line and how to write it, the rest load', async () => {
    const lines = [...GOOD];
    const fields = lines[5]!.split(',');
    fields[5] = '"acme"s"';
    lines[5] = fields.join(',');
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 7, column_name: 'brand' });
    expect(rows[0]!.reason).toBe('UNQUOTED VALUE: Value with unterminated quote found: a quote inside a quoted value is written twice (""); fix the line and load it again');
  });

  it('a line with a byte that is not UTF-8 (Latin-1) is quarantined with its whole text, the bad byte a replacement character', async () => {
    const dir = withLines(GOOD);
    const file = path.join(dir, 'data/events.csv');
    // Line 8's brand in Latin-1 (é is the single byte E9), then the delimiter: the reader's own text lost both.
    const lines = [HEADER, ...GOOD].map((line) => Buffer.from(line));
    const fields = GOOD[6]!.split(',');
    fields[5] = 'Jos\u0001';
    lines[7] = Buffer.from(fields.join(','));
    lines[7][lines[7].indexOf(0x01)] = 0xe9;
    writeFileSync(file, Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')])));
    const { result, rows } = await quarantineOf(dir);
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 8 });
    expect(rows[0]!.reason).toMatch(/^INVALID ENCODING: the line holds bytes that are not UTF-8 .*; convert the file to UTF-8 \(e\.g\. iconv -f latin1 -t utf-8\) and load it again$/);
    expect(rows[0]!.raw).toBe(lines[7]!.toString('utf8'));
    expect(rows[0]!.raw).toContain('Jos\uFFFD,');
    expect(rows[0]!.raw!.split(',')).toHaveLength(9);
  });

  it('a non-numeric price is quarantined naming the field', async () => {
    const lines = [...GOOD];
    lines[9] = lines[9]!.replace(/,(\d+\.\d+),(\d+),/, ',twelve,$2,');
    expect(lines[9]).toContain('twelve');
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 11, column_name: 'price' });
    expect(rows[0]!.reason).toMatch(/CAST/);
  });

  it('an invalid timestamp is quarantined naming the field', async () => {
    const lines = [...GOOD];
    lines[0] = lines[0]!.replace(/^[^,]+/, '2019-13-45 99:00:00 UTC');
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 2, column_name: 'event_time' });
  });

  it('a 10 MB line is quarantined, not fatal, and the lines around it load', async () => {
    const lines = [...GOOD];
    lines[2] = lines[2]!.replace(',view,', `,${'x'.repeat(10 * 1024 * 1024)},`);
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]!.line).toBe(4);
    expect(rows[0]!.reason).toMatch(/LINE SIZE/);
  });

  it('rows failing declared rules are quarantined with the rule, the value, the file and the line', async () => {
    const lines = [...GOOD];
    lines[3] = lines[3]!.replace(/,(view|cart|purchase),/, ',refund,');
    lines[7] = lines[7]!.replace(/,(\d+\.\d+),(\d+),/, ',-5.00,$2,');
    const dir = withLines(lines);
    const { result, rows } = await quarantineOf(dir);
    expect(result).toMatchObject({ read: 20, written: 18, quarantined: 2 });
    const byLine = new Map(rows.map((r) => [r.line, r]));
    expect(byLine.get(5)).toMatchObject({ column_name: 'event_type', reason: 'event_type: expected one of view, cart, purchase, got refund', file: path.join(dir, 'data/events.csv') });
    expect(byLine.get(9)).toMatchObject({ column_name: 'price', reason: 'price: expected >= 0, got -5.00' });
    expect(byLine.get(9)!.raw).toBe(lines[7]);
    expect(byLine.get(5)).toMatchObject({ raw: lines[3], raw_bytes: Buffer.byteLength(lines[3]!) });
  });

  it('a value that does not fit its type is quarantined as the file has it, not as the type would round it', async () => {
    const lines = [...GOOD];
    lines[4] = lines[4]!.replace(/,(\d+)\.(\d+),(\d+),/, ',$1.$25,$3,');
    expect(lines[4]).toMatch(/,\d+\.\d{3},/);
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 6, column_name: 'price', raw: lines[4] });
    expect(rows[0]!.reason).toBe(`price: expected DECIMAL(12,2), got ${/,(\d+\.\d{3}),/.exec(lines[4]!)![1]}`);
  });

  it('a text longer than its declared VARCHAR(n) is quarantined from CSV and from JSON lines; a dbt seed\'s varchar(n) keeps it, as dbt-duckdb does', async () => {
    const brandOf = (line: string) => line.split(',')[5]!;
    const long = GOOD.filter((line) => brandOf(line).length > 5);
    expect(long.length).toBeGreaterThan(0);
    expect(long.length).toBeLessThan(GOOD.length);
    const csv = writeTree({ 'tributary.config.ts': project().replace("brand: 'VARCHAR'", "brand: 'VARCHAR(5)'"), 'data/events.csv': `${[HEADER, ...GOOD].join('\n')}\n` });
    const fromCsv = await quarantineOf(csv);
    expect(fromCsv.result).toMatchObject({ read: 20, written: 20 - long.length, quarantined: long.length });
    expect(fromCsv.rows.map((r) => r.raw).sort()).toEqual([...long].sort());
    expect(fromCsv.rows[0]!.reason).toBe(`brand: expected VARCHAR(5), got ${brandOf(fromCsv.rows[0]!.raw!)}`);
    expect(fromCsv.rows[0]).toMatchObject({ column_name: 'brand', line: GOOD.indexOf(fromCsv.rows[0]!.raw!) + 2 });

    const objects = GOOD.map((line) => JSON.stringify({ event_type: line.split(',')[1], brand: brandOf(line), user_id: Number(line.split(',')[7]) }));
    const jsonl = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'bad_input',
  sources: { clicks: { format: 'jsonl', path: 'data/events.jsonl', columns: { event_type: 'VARCHAR', brand: 'VARCHAR(5)', user_id: 'BIGINT' } } },
  models: { events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake' } },
});
`,
      'data/events.jsonl': `${objects.join('\n')}\n`,
    });
    const fromJson = await quarantineOf(jsonl);
    expect(fromJson.result).toMatchObject({ read: 20, written: 20 - long.length, quarantined: long.length });
    expect(fromJson.rows.map((r) => r.line).sort((a, b) => a! - b!)).toEqual(long.map((line) => GOOD.indexOf(line) + 1).sort((a, b) => a - b));
    expect(fromJson.rows.every((r) => /^brand: expected VARCHAR\(5\), got \S{6,}$/.test(r.reason))).toBe(true);
    // The loaded values are the strings, not their JSON text (a sized text was once read as JSON, quotes and all).
    const ws = await openProject(jsonl);
    const loaded = await ws.engine.query<{ brand: string }>('SELECT brand FROM events');
    ws.close();
    expect(loaded.map((r) => r.brand).sort()).toEqual(GOOD.map(brandOf).filter((brand) => brand.length <= 5).sort());

    // dbt-duckdb makes the seed's table with the type, and DuckDB keeps no length.
    expect(inferSeedColumns('code,name\nFRA,France\n', { code: 'varchar(2)', name: 'varchr(3)' }, 'seeds/countries.csv')).toEqual({ code: 'VARCHAR', name: 'varchr(3)' });
    // Every spelling of a sized text the engine takes has its length.
    expect(['character varying(5)', 'CHAR VARYING (5)', 'nvarchar(5)', 'NCHAR(5)', 'text(5)', 'bpchar( 5 )'].map(textLength)).toEqual(Array(6).fill(5));
    expect(['VARCHAR', 'DECIMAL(5,2)', "ENUM('a')", 'VARCHAR[]'].map(textLength)).toEqual(Array(4).fill(undefined));
  });

  it('a row failing a rule after a quote that never closes is placed and shown from the repaired read, not from the file as found', async () => {
    const lines = [...GOOD];
    lines[2] = lines[2]!.replace(',view,', ',"view,');
    lines[9] = lines[9]!.replace(/,(view|cart|purchase),/, ',refund,');
    const { result, rows } = await quarantineOf(withLines(lines));
    expect(result).toMatchObject({ read: 20, written: 18, quarantined: 2 });
    expect(rows.map((r) => [r.line, r.raw])).toEqual([
      [4, lines[2]],
      [11, lines[9]],
    ]);
    expect(rows[0]!.reason).toMatch(/unbalanced quote/);
    expect(rows[1]!.reason).toBe('event_type: expected one of view, cart, purchase, got refund');
  });

  it('a failing record of a gzipped CRLF file that spans lines is quarantined as its lines, at its first', async () => {
    const lines = [...GOOD];
    lines[2] = lines[2]!.replace(/,(view|cart|purchase),/, ',"re\r\nfund",');
    const dir = writeTree({ 'tributary.config.ts': project('data/events.csv.gz'), 'data/events.csv.gz': gzipSync(`${[HEADER, ...lines].join('\r\n')}\r\n`) });
    const { result, rows } = await quarantineOf(dir);
    expect(result).toMatchObject({ read: 20, written: 19, quarantined: 1 });
    expect(rows[0]).toMatchObject({ line: 4, column_name: 'event_type', raw: lines[2]!.replace('\r\n', '\n') });
  });

  it('lines after a rejected line keep their true line numbers', async () => {
    const lines = [...GOOD];
    lines[1] = `${lines[1]},surplus`;
    lines[5] = lines[5]!.replace(/,(view|cart|purchase),/, ',refund,');
    const { rows } = await quarantineOf(withLines(lines));
    expect(rows.map((r) => r.line).sort((a, b) => a! - b!)).toEqual([3, 7]);
  });

  it('a model that filters its source: the load accounts for every source row first (read = loaded + quarantined), the model writes what it keeps', async () => {
    const bad = GOOD[0]!.replace(',view,', ',refund,');
    const dir = writeTree({
      'tributary.config.ts': project('data/events.csv').replace(
        `"SELECT * FROM {{ source('clicks') }}"`,
        `"SELECT * FROM {{ source('clicks') }} WHERE event_type <> 'view'"`,
      ),
      'data/events.csv': `${[HEADER, bad, ...GOOD.slice(1)].join('\n')}\n`,
    });
    const { ws, results } = await runProject(dir);
    try {
      const load = results.find((r) => r.materialize === 'source load');
      expect(load).toMatchObject({ model: 'clicks', read: 20, written: 19, quarantined: 1 });
      const kept = GOOD.slice(1).filter((line) => line.split(',')[1] !== 'view').length;
      expect(kept).toBeGreaterThan(0);
      expect(results.find((r) => r.model === 'events')).toMatchObject({ read: null, written: kept });
      expect(Number(await ws.engine.scalar<bigint>('SELECT count(*) FROM events'))).toBe(kept);
      const quarantined = await ws.metastore.quarantine({});
      expect(quarantined.map((q) => [q.line, q.reason])).toEqual([[2, expect.stringMatching(/event_type/)]]);
    } finally {
      await ws.close();
    }
    expect(cli(['run', '--project', dir, '--quiet']).code).toBe(0);
  });
});

/** A project with one stream job, `live`, of these columns (and `rules`), keeping one table as `table` says in a `sink` store. */
function streamProject(columns: string, table: string, rules = '[]', sink = 'duckdb'): string {
  return `import { defineProject } from 'tributary';
export default defineProject({
  name: 'streaming',
  topics: { clicks: { partitions: 1 } },
  models: { totals: { sql: "SELECT count(*) AS n FROM {{ source('clicks') }}", materialize: 'ephemeral' } },
  streams: { live: { input: { kind: 'log', topic: 'clicks' }, binds: 'clicks', columns: ${columns}, rules: ${rules},
    sinks: { serving: { kind: '${sink}', tables: { live_totals: ${table} } } } } },
});
`;
}

/** The sample project with its config edited (`from` replaced by `to`): its config file and the run's failure. */
async function withConfigEdited(from: string, to: string): Promise<{ config: string; error: TributaryError }> {
  const dir = withLines(GOOD);
  const config = path.join(dir, 'tributary.config.ts');
  writeFileSync(config, readFileSync(config, 'utf8').replace(from, to));
  return { config, error: await failure(dir) };
}

/** `tributary drain` of a one-stream project with these columns and rules. */
function drainWithRules(columns: string, rules: string) {
  return cli(['drain', '--project', writeTree({ 'tributary.config.ts': streamProject(columns, `{ model: 'totals', materialize: 'merge' }`, rules) })]);
}

describe('invalid config', () => {
  it('a stream table in the earlier spelling (mode, keys) is refused with the new one', () => {
    const dir = writeTree({
      'tributary.config.ts': streamProject(`{ id: 'BIGINT' }`, `{ model: 'totals', mode: 'merge' }`),
    });
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/streams\.live\.sinks\.serving\.tables\.live_totals/);
    expect(run.stderr).toMatch(/mode moved into materialize: write materialize: 'append', or materialize: \{ kind: 'merge'/);
  });

  it('a stream column of a type the engine does not know is named at its field when the job starts', () => {
    const dir = writeTree({
      'tributary.config.ts': streamProject(`{ id: 'BIGINT', seen: 'TIMESTAMPP' }`, `{ model: 'totals', materialize: 'merge' }`),
    });
    const run = cli(['drain', '--project', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/tributary\.config\.ts field streams\.live\.columns\.seen: 'TIMESTAMPP' is no type the engine knows \(Catalog Error: Type with name TIMESTAMPP does not exist!/);
    expect(run.stderr).toMatch(/→ declare a DuckDB type/);
  });

  it('a rule naming a column the rows do not have is named at its field with the columns there are, for a source and a stream', async () => {
    const { config, error } = await withConfigEdited("rules: [{ column: 'event_type'", "rules: [{ column: 'user_id', notNull: true }, { column: 'evnt_type', notNull: true }, { column: 'event_type'");
    expect(error.place).toEqual({ file: config, field: 'sources.clicks.rules.1.column' });
    expect(error.message).toBe("the rule names column 'evnt_type', which the rows do not have; their columns: event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session");
    const run = drainWithRules(`{ id: 'BIGINT' }`, `[{ column: 'ident', notNull: true }]`);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/field streams\.live\.rules\.0\.column: the rule names column 'ident', which the rows do not have; their columns: id\n {2}→ name one of those columns/);
  });

  it('a rule its column\'s type cannot check (accepted values of another type, a min on text) is named at its field, for a source and a stream', async () => {
    const { config, error } = await withConfigEdited("{ column: 'price', min: 0 }", "{ column: 'price', accepted: ['free', 'paid'] }");
    expect(error.place).toEqual({ file: config, field: 'sources.clicks.rules.1' });
    expect(error.message).toBe(`the rule on column 'price' (DECIMAL(12,2)) cannot be checked: Conversion Error: Could not convert string "free" to DECIMAL(12,2)`);
    expect(error.hint).toMatch(/^accepted values must be values of the column's type/);
    const run = drainWithRules(`{ id: 'BIGINT', name: 'VARCHAR' }`, `[{ column: 'name', min: 3 }]`);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/field streams\.live\.rules\.0: the rule on column 'name' \(VARCHAR\) cannot be checked: Binder Error: Cannot compare values of type VARCHAR and type INTEGER_LITERAL/);
  });

  it('a partition key the engine cannot compute is named at its key with the columns there are, for a model and for a stream before any event', async () => {
    const { config, error } = await withConfigEdited("partitionBy: { dt: 'CAST(event_time AS DATE)' }", "partitionBy: { dt: 'CAST(event_tim AS DATE)' }");
    expect(error.place).toEqual({ file: config, field: 'models.events.partitionBy.dt' });
    expect(error.message).toMatch(/^partition key 'dt' cannot be computed from CAST\(event_tim AS DATE\): Binder Error: Referenced column "event_tim" not found in FROM clause! Candidate bindings: "event_time"/);
    expect(error.hint).toMatch(/^a partition expression reads the table's own columns \(event_time, event_type, product_id, category_id, category_code, brand, price, user_id, user_session\): correct it in partitionBy/);
    const run = cli(['drain', '--project', writeTree({ 'tributary.config.ts': streamProject(`{ id: 'BIGINT', seen: 'TIMESTAMP' }`, `{ model: 'clicks', partitionBy: { hour: 'hourz(seen)' } }`, '[]', 'lake').replace("models: {", "models: { clicks: { sql: \"SELECT * FROM {{ source('clicks') }}\", materialize: 'ephemeral' },") })]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/field streams\.live\.sinks\.serving\.tables\.live_totals\.partitionBy\.hour: partition key 'hour' cannot be computed from hourz\(seen\): Catalog Error: Scalar Function with name hourz does not exist!/);
    expect(run.stderr).toMatch(/→ a partition expression reads the table's own columns \(id, seen\)/);
  });

  it('a config that does not compile is named at its line with the compiler\'s words, where only "Transform failed with 1 error:" was shown', () => {
    const dir = writeTree({ 'tributary.config.ts': project().replace("materialize: 'lake',", "materialize: 'lake',,") });
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(1);
    const line = project().split('\n').findIndex((l) => l.includes("materialize: 'lake',")) + 1;
    expect(run.stderr).toMatch(new RegExp(`tributary\\.config\\.ts:${line}: the config file could not be loaded: Expected identifier but found "," \\(column \\d+\\)\\n {2}→ fix the TypeScript at that line`));
  });

  it('names the file, the key and what was expected', async () => {
    const dir = writeTree({ 'tributary.config.ts': project().replace("format: 'csv'", "format: 'xls'") });
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(path.join(dir, 'tributary.config.ts'));
    expect(run.stderr).toMatch(/sources\.clicks\.format/);
    expect(run.stderr).toMatch(/csv.*jsonl.*parquet/);
  });

  it('an unknown key is an error, not silently ignored', async () => {
    const dir = writeTree({ 'tributary.config.ts': project().replace("materialize: 'lake'", "materialise: 'lake', materialize: 'lake'") });
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/models\.events/);
    expect(run.stderr).toMatch(/materialise/);
  });

  it('a folder without a project says how to make one', () => {
    const dir = writeTree({ 'README.md': 'nothing here' });
    mkdirSync(path.join(dir, 'sub'));
    const run = cli(['run', '--project', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no Tributary project here/);
    expect(run.stderr).toMatch(/tributary init/);
  });
});
