import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { CrawlReport } from '../src/catalog/crawl.js';
import { crawlCommand } from '../src/commands/catalog.js';
import { queryFailure } from '../src/commands/query.js';
import { openSource, sources } from '../src/connectors/index.js';
import { countLines } from '../src/connectors/sources/line-count.js';
import type { SourceConfig } from '../src/config/config.js';
import type { TributaryError } from '../src/core/errors.js';
import { createProgress } from '../src/core/progress.js';
import { Engine } from '../src/engine/index.js';
import { ECOMMERCE_SAMPLE, SPARKIFY_DATA, cli, runProject, tempDir, writeTree } from './helpers.js';

const sample = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trim().split('\n');

function config(source: string, model = "SELECT * FROM {{ source('src') }}", materialize = 'table'): string {
  return `import { defineProject } from 'tributary';
export default defineProject({
  name: 'sources',
  sources: { src: ${source} },
  models: { loaded: { sql: ${JSON.stringify(model)}, materialize: '${materialize}' } },
});
`;
}

/** Builds a zip archive with stored (uncompressed) entries, as any zip tool can write. */
function zip(entries: Record<string, Buffer>): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBuf = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const centralSize = centrals.reduce((s, b) => s + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

describe('file sources', () => {
  it('infers a schema from the whole file, reports it, and keeps 64-bit ids exact', async () => {
    // The one odd value sits at the very end, past any sampling window.
    const lines = ['id,amount,code', ...Array.from({ length: 30_000 }, (_, i) => `${2053013555631882655n + BigInt(i)},${i},${i}`), '9,1.5,X12'];
    const dir = writeTree({ 'tributary.config.ts': config(`{ format: 'csv', path: 'data/*.csv' }`), 'data/a.csv': lines.join('\n') });
    const logged: string[] = [];
    const { ws } = await runProject(dir, { log: (m) => logged.push(m) });
    expect(logged.join('\n')).toMatch(/inferred from every row of 1 file\(s\): id BIGINT, amount DOUBLE, code VARCHAR/);
    const columns = (await ws.metastore.table('loaded'))!.columns;
    expect(columns).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'amount', type: 'DOUBLE' },
      { name: 'code', type: 'VARCHAR' },
    ]);
    const max = await ws.engine.query<{ id: bigint }>('SELECT max(id) AS id FROM loaded');
    expect(max[0]!.id).toBe(2053013555631882655n + 29_999n);
    ws.close();
  });

  it('reads gzipped CSV and globs over several files', async () => {
    const header = sample[0]!;
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'csv', path: 'data/part-*.csv*', csv: { timestampFormat: '%Y-%m-%d %H:%M:%S UTC' } }`),
      'data/part-1.csv.gz': gzipSync(Buffer.from([header, ...sample.slice(1, 5001)].join('\n'))),
      'data/part-2.csv': [header, ...sample.slice(5001)].join('\n'),
    });
    const { ws, results } = await runProject(dir);
    expect(results[0]).toMatchObject({ read: 10_034, written: 10_034, quarantined: 0 });
    ws.close();
  });

  it("a project in a folder whose name holds glob characters (it's a [test]/shop*{1}) finds its files: by its own paths, by --source relative to the shell, and by crawl", async () => {
    const folder = "it's a [test]/shop*{1}";
    const root = writeTree({
      [`${folder}/tributary.config.ts`]: config(`{ format: 'csv', path: 'in/*.csv', columns: { id: 'BIGINT', kind: 'VARCHAR' } }`),
      [`${folder}/in/a.csv`]: 'id,kind\n1,a\n2,b\n',
      [`${folder}/other [x]/b.csv`]: 'id,kind\n3,c\n',
    });
    const project = path.join(root, folder);
    const { ws, results } = await runProject(project);
    expect(results[0]).toMatchObject({ read: 2, written: 2, quarantined: 0 });
    ws.close();
    const own = cli(['run', '--project', project, '--quiet'], project);
    expect(own.code, own.stderr).toBe(0);
    const run = cli(['run', '--project', project, '--source', 'src=other [x]/*.csv', '--quiet'], project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/✔ loaded \(table\).*read 1, wrote 1/);
    const loaded = cli(['sql', 'SELECT list(id ORDER BY id) AS ids FROM loaded', '--project', project, '--format', 'json'], project);
    expect(JSON.parse(loaded.stdout)).toEqual([{ ids: ['3'] }]);
    const crawled = cli(['crawl', 'other [x]', '--table', 'other', '--project', project], project);
    expect(crawled.code, crawled.stderr).toBe(0);
    expect(crawled.stdout + crawled.stderr).toMatch(/kind/);
  });

  it('refuses a column named like a partition folder of every file, which the reader would fill from the folder; loads it renamed', async () => {
    const files = (column: string) => ({
      'data/dt=2024-01-01/a.csv': `id,${column},amount\n9223372036854775807,2024-01-01,1.50\n`,
      'data/dt=2024-01-02/a.csv': `id,${column},amount\n3,2024-01-01,2.50\n`,
    });
    const source = (column: string) => `{ format: 'csv', path: 'data/dt=*/*.csv', columns: { id: 'BIGINT', ${column}: 'DATE', amount: 'DECIMAL(10,2)' } }`;
    const clash = writeTree({ 'tributary.config.ts': config(source('dt')), ...files('dt') });
    const refused = await runProject(clash).then(
      () => undefined,
      (error: TributaryError) => error,
    );
    expect(refused?.message).toMatch(/column 'dt' of source 'src' is also a partition folder of every file's path \(dt=… in .*dt=2024-01-01\/a\.csv\): the reader would give it the folder's value, not the file's/);
    expect(refused?.hint).toMatch(/rename the column in the files' header and in sources\.src\.columns \(e\.g\. dt_in_file\)/);
    const renamed = writeTree({ 'tributary.config.ts': config(source('day')), ...files('day') });
    const { ws, results } = await runProject(renamed);
    try {
      expect(results[0]).toMatchObject({ read: 2, written: 2, quarantined: 0 });
      // The file's own day (both 2024-01-01), the folder's beside it.
      const rows = await ws.engine.queryJson<{ id: string; day: string; dt: string }>('SELECT id::VARCHAR AS id, day::VARCHAR AS day, dt::VARCHAR AS dt FROM loaded ORDER BY dt');
      expect(rows).toEqual([
        { id: '9223372036854775807', day: '2024-01-01', dt: '2024-01-01' },
        { id: '3', day: '2024-01-01', dt: '2024-01-02' },
      ]);
    } finally {
      await ws.close();
    }
  });

  it('reads the files that fit one small buffer in a read_csv of their own and the rest as before; each call quarantines its bad lines', async () => {
    const [header, ...lines] = sample;
    const columns = `{ event_time: 'VARCHAR', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT', category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DECIMAL(10,2)', user_id: 'BIGINT', user_session: 'VARCHAR' }`;
    const bad = (line: string) => line.replace(/,([0-9.]+),(\d+),([^,]+)$/, ',not a price,$2,$3');
    // Twenty small drops; the sample twice over (2.7 MB, past the small buffer of 2 MB); a gzipped drop, whose size on disk says nothing of what it holds.
    const small = Array.from({ length: 20 }, (_, i) => lines.slice(i * 50, i * 50 + 50));
    small[3]![2] = bad(small[3]![2]!);
    const large = [...lines, ...lines];
    large[15_000] = `${large[15_000]!},one field too many`;
    const packed = lines.slice(1000, 1100);
    const tree: Record<string, string | Buffer> = {
      'tributary.config.ts': config(`{ format: 'csv', path: ['data/k=*/*.csv', 'data/k=*/*.csv.gz'], columns: ${columns} }`),
      'data/k=abc/large.csv': `${[header, ...large].join('\n')}\n`,
      'data/k=2/packed.csv.gz': gzipSync(`${[header, ...packed].join('\n')}\n`),
    };
    small.forEach((part, i) => (tree[`data/k=1/drop_${String(i).padStart(2, '0')}.csv`] = `${[header, ...part].join('\n')}\n`));
    const dir = writeTree(tree);
    expect(readFileSync(path.join(dir, 'data/k=abc/large.csv')).length).toBeGreaterThan(2_000_001);

    const engine = await Engine.open();
    const scan = await openSource(sources, { format: 'csv', path: path.join(dir, 'data/k=*/*.csv*'), columns: Object.fromEntries(header!.split(',').map((c) => [c, 'VARCHAR'])) } as SourceConfig, { name: 'src', engine, baseDir: dir, scratchDir: tempDir(), runId: 'split', log: () => undefined });
    try {
      const sql = scan.relation();
      const calls = sql.split('read_csv(').slice(1);
      expect(calls).toHaveLength(2);
      const [fitting, rest] = calls;
      expect(fitting).toMatch(/buffer_size = 2097153/);
      expect(fitting!.match(/drop_\d\d\.csv/g)).toHaveLength(20);
      expect(fitting).not.toMatch(/large\.csv|packed/);
      expect(rest).not.toMatch(/buffer_size|drop_/);
      expect(rest).toMatch(/packed\.csv\.gz.*large\.csv/);
      // The partition column is typed over both calls as one read types it: k=1, k=2 and k=abc are VARCHAR.
      const types = await engine.describe(`SELECT * FROM ${sql}`);
      expect(types.find((c) => c.name === 'k')?.type).toBe('VARCHAR');
      expect(await engine.describe(`SELECT * FROM ${scan.relation({ shapeOnly: true })}`)).toEqual(types);
    } finally {
      await scan.close();
      engine.close();
    }

    const { ws, results } = await runProject(dir);
    try {
      const all = [...small.flat(), ...large, ...packed];
      expect(results[0]).toMatchObject({ read: all.length, written: all.length - 2, quarantined: 2 });
      const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
      expect(quarantined.map((q) => [path.relative(dir, q.file ?? ''), q.line, q.column_name]).sort()).toEqual([
        ['data/k=1/drop_03.csv', 4, 'price'],
        ['data/k=abc/large.csv', 15_002, null],
      ]);
      // What was written is every other line, to the cent (computed here from the lines).
      const good = all.filter((line) => !line.includes('not a price') && !line.includes('one field too many'));
      const cents = good.reduce((sum, line) => sum + Math.round(Number(line.split(',')[6]) * 100), 0);
      const [loaded] = await ws.engine.queryJson<{ n: string; cents: string }>('SELECT count(*)::VARCHAR AS n, (sum(price) * 100)::BIGINT::VARCHAR AS cents FROM loaded');
      expect(loaded).toEqual({ n: String(good.length), cents: String(cents) });
      // The crawl reads the same files in the same two calls: every line counted, the refused one named at its store.
      const out: string[] = [];
      await crawlCommand.run({ ws, io: { out: (t) => out.push(t), err: (t) => out.push(t), progress: (label) => createProgress({ label, quiet: true }), tty: false } }, { path: path.join(dir, 'data'), table: 'raw', format: 'json' });
      const report = JSON.parse(out.join('\n')) as CrawlReport;
      expect(report).toMatchObject({ files: 22, rows: all.length });
      // Its columns are described over one file of each partition value, as the view reads every file: k=abc makes k text.
      expect(report.columns.find((c) => c.name === 'k')?.type).toBe('VARCHAR');
      expect(report.columns).toEqual(await ws.engine.describe('SELECT * FROM raw'));
      const refused = report.storeDrift!.filter((d) => d.change === 'refused rows');
      expect(refused.map((d) => [d.store, d.rows])).toEqual([['large', 1]]);
      expect(refused[0]!.detail).toMatch(/^line 15002: Expected Number of Columns: 9 Found: 10\b/);
      // The table registered answers every line: the refused one read without the field past the header (a query of it failed).
      const [raw] = await ws.engine.queryJson<{ n: number; extra: number }>(`SELECT count(*)::DOUBLE AS n, count(*) FILTER (WHERE user_session = '${large[15_000]!.split(',')[8]}')::DOUBLE AS extra FROM raw`);
      expect(raw).toEqual({ n: all.length, extra: expect.any(Number) as number });
      expect(raw!.extra).toBeGreaterThan(0);
    } finally {
      await ws.close();
    }
  });

  it('loads a model that names its columns (the rewrite reaches the source by name) from many files, into a table and into the lake', async () => {
    const [header, ...lines] = sample;
    const columns = `{ event_time: 'VARCHAR', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT', category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DECIMAL(10,2)', user_id: 'BIGINT', user_session: 'VARCHAR' }`;
    const parts = Array.from({ length: 5 }, (_, i) => lines.slice(i * 200, i * 200 + 200));
    parts[2]![7] = parts[2]![7]!.replace(/,([0-9.]+),(\d+),([^,]+)$/, ',not a price,$2,$3');
    const good = parts.flat().filter((line) => !line.includes('not a price'));
    for (const materialize of ['table', 'lake']) {
      const tree: Record<string, string> = { 'tributary.config.ts': config(`{ format: 'csv', path: 'data/*.csv', columns: ${columns} }`, "SELECT event_type, upper(brand) AS brand, price, user_id FROM {{ source('src') }}", materialize) };
      parts.forEach((part, i) => (tree[`data/part_${i}.csv`] = `${[header, ...part].join('\n')}\n`));
      const { ws, results } = await runProject(writeTree(tree));
      try {
        expect(results[0], materialize).toMatchObject({ read: 1000, written: 999, quarantined: 1 });
        const [bad] = await ws.metastore.quarantine({ model: 'loaded' });
        expect(bad).toMatchObject({ line: 9, column_name: 'price' });
        const [row] = await ws.engine.queryJson<{ n: string; cents: string; users: string }>('SELECT count(*)::VARCHAR AS n, (sum(price) * 100)::BIGINT::VARCHAR AS cents, sum(user_id)::VARCHAR AS users FROM loaded');
        expect(row, materialize).toEqual({
          n: String(good.length),
          cents: String(good.reduce((sum, line) => sum + Math.round(Number(line.split(',')[6]) * 100), 0)),
          users: String(good.reduce((sum, line) => sum + BigInt(line.split(',')[7]!), 0n)),
        });
      } finally {
        await ws.close();
      }
    }
  });

  it('a query of a crawled table over a line that no longer fits its columns names the file, line, column and value, with what to do (it said "CSV Error on Line: 4" and "fix the SQL")', async () => {
    const [header, ...lines] = sample;
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'csv', path: 'drops/*.csv' }`),
      'drops/day_1.csv': `${[header, ...lines.slice(0, 300)].join('\n')}\n`,
      'drops/day_2.csv': `${[header, ...lines.slice(300, 600)].join('\n')}\n`,
    });
    const crawl = cli(['crawl', path.join(dir, 'drops'), '--table', 'raw', '--project', dir]);
    expect(crawl.code, crawl.stderr).toBe(0);
    expect(cli(['sql', 'SELECT sum(price)::VARCHAR AS total FROM raw', '--project', dir, '--format', 'json']).stdout).toMatch(/"total":/);
    // The store rewrites a drop after the crawl: line 9 (the header is line 1) now has a price the column cannot hold.
    const changed = lines.slice(300, 600);
    changed[7] = changed[7]!.replace(/,([0-9.]+),(\d+),([^,]+)$/, ',12.x,$2,$3');
    writeFileSync(path.join(dir, 'drops/day_2.csv'), `${[header, ...changed].join('\n')}\n`);
    const query = cli(['sql', 'SELECT sum(price) FROM raw', '--project', dir]);
    expect(query.code).not.toBe(0);
    expect(query.stderr).toMatch(/^error: drops\/day_2\.csv:9: Error when converting column "price"\. Could not convert string "12\.x" to 'DOUBLE'/m);
    expect(query.stderr).toMatch(/→ .*fix or remove the line, or crawl its folder again \(`tributary crawl`\)/);
    expect(query.stderr).not.toMatch(/fix the SQL|auto-detected/);
    // A crawled file deleted after the crawl is named, with the crawl to run again.
    writeFileSync(path.join(dir, 'drops/day_3.csv'), `${[header, ...lines.slice(600, 650)].join('\n')}\n`);
    expect(cli(['crawl', path.join(dir, 'drops'), '--table', 'raw', '--project', dir]).code).toBe(0);
    rmSync(path.join(dir, 'drops/day_3.csv'));
    const gone = cli(['sql', 'SELECT count(*) FROM raw', '--project', dir]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/^error: drops\/day_3\.csv: a file the table reads is gone$/m);
    expect(gone.stderr).toMatch(/→ .*crawl the folder again \(`tributary crawl`\)/);
    writeFileSync(path.join(dir, 'drops/day_3.csv'), `${[header, ...lines.slice(600, 650)].join('\n')}\n`);
    // A cast the query asks for keeps a value's newline in sight, not cut at it.
    const cast = cli(['sql', "SELECT CAST('12' || chr(10) || 'x' AS INTEGER)", '--project', dir]);
    expect(cast.stderr).toMatch(/^error: Conversion Error: Could not convert string '12\\nx' to INT32$/m);
    expect(cast.stderr).toMatch(/→ .*TRY_CAST/);
    // A JSON-lines file cut mid-record names where the reader stopped, with the same advice.
    writeFileSync(path.join(dir, 'events.jsonl'), '{"a":1}\n{"a":2\n{"a":3}\n');
    const engine = await Engine.open();
    const stopped = await engine.query(`SELECT * FROM read_json('${path.join(dir, 'events.jsonl')}', format = 'newline_delimited', columns = {a: 'BIGINT'})`).then(
      () => undefined,
      (error: Error) => queryFailure(error.message, { projectDir: dir, scoped: false }),
    );
    engine.close();
    expect(stopped?.message).toMatch(/^events\.jsonl:3: malformed JSON where the reader stopped: unexpected character$/);
    expect(stopped?.hint).toMatch(/fix or remove the line/);
    // A client with a row-scoped token is told no file or line: the line may hold rows outside its scope.
    const scoped = queryFailure(`Conversion Error: CSV Error on Line: 9\nOriginal Line: ${changed[7]}\nError when converting column "price".\n\n  file = ${path.join(dir, 'drops/day_2.csv')}\n`, { projectDir: dir, scoped: true });
    expect(scoped.message).not.toMatch(/day_2|12\.x|line 9/);
    expect(scoped.hint).toMatch(/tributary sql/);
  });

  it('reads .zip archives of CSV files', async () => {
    const header = sample[0]!;
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'csv', path: 'data/*.zip', csv: { timestampFormat: '%Y-%m-%d %H:%M:%S UTC' } }`),
      'data/drop.zip': zip({
        'a.csv': Buffer.from([header, ...sample.slice(1, 101)].join('\n')),
        'nested/b.csv': Buffer.from([header, ...sample.slice(101, 151)].join('\n')),
        'README.txt.bak': Buffer.from('ignored'),
      }),
    });
    const { ws, results } = await runProject(dir);
    expect(results[0]).toMatchObject({ read: 150, written: 150 });
    ws.close();
  });

  it('reads the real Sparkify JSON logs with a declared schema, quarantining a bad line with its line number', async () => {
    const logs = path.join(SPARKIFY_DATA, 'log_data', '2018', '11');
    const day = readFileSync(path.join(logs, '2018-11-01-events.json'), 'utf8').trimEnd().split('\n');
    const broken = [...day.slice(0, 3), '{"artist": "cut off', ...day.slice(3)];
    const dir = writeTree({
      'tributary.config.ts': config(
        `{ format: 'jsonl', path: 'logs/*.json', columns: { artist: 'VARCHAR', userId: 'VARCHAR', page: 'VARCHAR', ts: 'BIGINT', sessionId: 'BIGINT', length: 'DOUBLE', userAgent: 'VARCHAR' } }`,
      ),
      'logs/day.json': `${broken.join('\n')}\n`,
    });
    const { ws, results } = await runProject(dir);
    expect(results[0]).toMatchObject({ read: day.length + 1, written: day.length, quarantined: 1 });
    const [bad] = await ws.metastore.quarantine({ model: 'loaded' });
    expect(bad).toMatchObject({ line: 4 });
    expect(bad!.reason).toBe('not valid JSON: {"artist": "cut off');
    const ts = await ws.engine.query<{ ts: bigint }>('SELECT min(ts) AS ts FROM loaded');
    expect(ts[0]!.ts).toBeGreaterThan(1_500_000_000_000n); // epoch milliseconds, kept whole
    const agents = await ws.engine.queryJson<{ n: string }>(`SELECT count(*) AS n FROM loaded WHERE userAgent LIKE '"%'`);
    expect(Number(agents[0]!.n)).toBeGreaterThan(0); // the literal quotes survive
    ws.close();
  });

  it('names the physical line of rows quarantined deep in large files, CSV and JSON lines, across two files', async () => {
    // The real sample with a rule broken on lines far past the reader's first vectors.
    const rows = sample.slice(1);
    const long = [sample[0]!, ...rows, ...rows, ...rows];
    const badLines = new Set([2, 2049, 4000, 9500, 17_777, 25_001, long.length]);
    const header = sample[0]!.split(',');
    const edited = long.map((line, i) => (badLines.has(i + 1) ? line.replace(/^([^,]*),[a-z]+,/, '$1,bogus,') : line));
    const asJson = edited.slice(1).map((line) => JSON.stringify(Object.fromEntries(line.split(',').map((v, i) => [header[i], v.replace(/^"(.*)"$/, '$1')]))));
    const columns = `{ event_time: 'VARCHAR', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT', category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DOUBLE', user_id: 'BIGINT', user_session: 'VARCHAR' }`;
    const rules = `[{ column: 'event_type', accepted: ['view', 'cart', 'purchase', 'remove_from_cart'] }]`;
    for (const [format, files] of [
      ['csv', { 'in/a.csv': `${sample.join('\n')}\n`, 'in/b.csv': `${edited.join('\n')}\n` }],
      ['jsonl', { 'in/a.jsonl': `${sample.slice(1).map((l) => JSON.stringify(Object.fromEntries(l.split(',').map((v, i) => [header[i], v.replace(/^"(.*)"$/, '$1')])))).join('\n')}\n`, 'in/b.jsonl': `${asJson.join('\n')}\n` }],
    ] as const) {
      const dir = writeTree({
        'tributary.config.ts': config(`{ format: '${format}', path: 'in/*.${format}', columns: ${columns}, rules: ${rules} }`),
        ...files,
      });
      const { ws } = await runProject(dir);
      const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
      // A JSON-lines file has no header: its line numbers are one less than the CSV's.
      const expected = [...badLines].map((line) => (format === 'csv' ? line : line - 1)).filter((line) => line > (format === 'csv' ? 1 : 0));
      expect(quarantined.map((q) => [path.basename(q.file!), q.line]).sort((a, b) => Number(a[1]) - Number(b[1])), format).toEqual(expected.map((line) => [`b.${format}`, line]));
      for (const q of quarantined) expect(q.raw, format).toContain('bogus');
      await ws.close();
    }
  });

  it('locates failing JSON lines in the gzipped files that hold them, the clean file between them loaded as it is', async () => {
    const line = (n: number) => JSON.stringify({ id: n, kind: n % 2 ? 'a' : 'b' });
    const lines = (from: number) => Array.from({ length: 3000 }, (_, i) => line(from + i));
    const first = lines(0);
    first[1499] = '{"id": 1499, "kind": "a"'; // cut off
    const third = lines(6000);
    third[9] = JSON.stringify({ id: 6009, kind: 'z' }); // breaks the rule
    third[2999] = JSON.stringify({ kind: 'a' }); // no id
    const dir = writeTree({
      'tributary.config.ts': config(
        `{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT', kind: 'VARCHAR' }, rules: [{ column: 'id', notNull: true }, { column: 'kind', accepted: ['a', 'b'] }] }`,
      ),
      'in/1.jsonl.gz': gzipSync(`${first.join('\n')}\n`),
      'in/2.jsonl.gz': gzipSync(`${lines(3000).join('\n')}\n`),
      'in/3.jsonl.gz': gzipSync(`${third.join('\n')}\n`),
    });
    const { ws, results } = await runProject(dir);
    expect(results[0]).toMatchObject({ read: 9000, written: 8997, quarantined: 3 });
    const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
    expect(quarantined.map((q) => [path.basename(q.file!), q.line, q.column_name]).sort()).toEqual([
      ['1.jsonl.gz', 1500, null],
      ['3.jsonl.gz', 10, 'kind'],
      ['3.jsonl.gz', 3000, 'id'],
    ]);
    const ids = await ws.engine.queryJson<{ n: string; low: string; high: string }>('SELECT count(*) AS n, min(id) AS low, max(id) AS high FROM loaded WHERE id BETWEEN 3000 AND 5999');
    expect(ids[0]).toEqual({ n: '3000', low: '3000', high: '5999' });
    await ws.close();
  });

  it('a line holding a NUL or terminal escapes is quarantined with its text shown, and never reaches the terminal as control characters', async () => {
    const line = (n: number) => JSON.stringify({ id: n, kind: 'a' });
    // A NUL byte makes the line invalid JSON; ESC and CR are inside a string, escaped: valid, but the rule refuses the value.
    const nul = Buffer.from('{"id": 2, "kind": "a\0b"}');
    const escapes = JSON.stringify({ id: 3, kind: '\u001b[2J\u001b]0;owned\u0007\rc' });
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl', columns: { id: 'BIGINT', kind: 'VARCHAR' }, rules: [{ column: 'kind', accepted: ['a'] }] }`),
      'in/a.jsonl': Buffer.concat([Buffer.from(`${line(1)}\n`), nul, Buffer.from(`\n${escapes}\n${line(4)}\n`)]),
    });
    const run = cli(['run', '--project', dir, '--data-dir', path.join(dir, 'data')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/2 row\(s\) quarantined, e\.g\. .*a\.jsonl:2 not valid JSON: \{"id": 2, "kind": "a␀b"\}/);
    const shown = cli(['quarantine', '--project', dir, '--data-dir', path.join(dir, 'data')]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('a␀b');
    expect(shown.stdout).toContain('␛[2J␛]0;owned␇␍c');
    for (const output of [run.stdout, run.stderr, shown.stdout, shown.stderr]) expect(output).not.toMatch(/[\x00\x07\x1b\r]/);
    // The catalog keeps the escaped line as it came, and the NUL as its picture (neither a SQL text nor PostgreSQL's can hold one).
    const { ws } = await runProject(dir, { dataDir: path.join(dir, 'again') });
    const rows = await ws.metastore.quarantine({ model: 'loaded' });
    expect(rows.map((r) => [r.line, r.raw]).sort()).toEqual([
      [2, '{"id": 2, "kind": "a␀b"}'],
      [3, escapes],
    ]);
    await ws.close();
  });

  it('a CSV line holding a carriage return that ends no line (a stray byte, binary data) is set aside at its line with its text, in LF, CRLF and gzipped files; one inside quotes is a value\'s; the other lines load', async () => {
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'csv', path: 'in/*', columns: { id: 'BIGINT', name: 'VARCHAR' }, maxQuarantined: 5 }`),
      'in/a.csv': 'id,name\n1,ann\n2,bo\rb\n3,"c\rc"\n4,dan\n',
      'in/b.csv': 'id,name\r\n5,eve\r\n6,f\ry\r\n7,gil\r\n',
      'in/c.csv.gz': gzipSync('id,name\n8,hal\n\r9,ida\n10,jo\n'),
    });
    const { ws, results } = await runProject(dir);
    expect(results.find((r) => r.model === 'loaded')).toMatchObject({ read: 10, written: 7, quarantined: 3 });
    expect(await ws.engine.query('SELECT id::INTEGER AS id, name FROM loaded ORDER BY id')).toEqual([
      { id: 1, name: 'ann' },
      { id: 3, name: 'c\rc' },
      { id: 4, name: 'dan' },
      { id: 5, name: 'eve' },
      { id: 7, name: 'gil' },
      { id: 8, name: 'hal' },
      { id: 10, name: 'jo' },
    ]);
    const rows = await ws.metastore.quarantine({ model: 'loaded' });
    expect(rows.map((r) => [path.basename(r.file!), r.line, r.raw]).sort()).toEqual([
      ['a.csv', 3, '2,bo\rb'],
      ['b.csv', 3, '6,f\ry'],
      ['c.csv.gz', 3, '\r9,ida'],
    ]);
    expect(rows[0]!.reason).toMatch(/^a carriage return that ends no line, outside quotes/);
    await ws.close();
    // With no columns declared, the schema cannot be inferred past such a byte: the file is named, with what to declare.
    writeFileSync(path.join(dir, 'tributary.config.ts'), config(`{ format: 'csv', path: 'in/*' }`));
    const run = cli(['run', '--project', dir, '--data-dir', path.join(dir, 'data2')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/in\/a\.csv: cannot infer the columns of this file: the CSV sniffer found no dialect that reads it whole; nothing was committed\n {2}→ declare sources\.src\.columns/);
    expect(run.stderr).not.toContain('strict_mode');
  });

  it('identical failing JSON lines, three in one file and one in another, are each quarantined at their own line, into the lake and into a table', async () => {
    const line = (n: number) => JSON.stringify({ id: n, kind: 'a' });
    const bad = '{"id": "seven", "kind": "a"}';
    const body = Array.from({ length: 2000 }, (_, i) => line(i));
    for (const at of [10, 11, 1500]) body[at] = bad;
    const other = Array.from({ length: 500 }, (_, i) => line(5000 + i));
    other[499] = bad;
    for (const materialize of ['lake', 'table']) {
      const dir = writeTree({
        'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT', kind: 'VARCHAR' } }`, undefined, materialize),
        'in/1.jsonl.gz': gzipSync(`${body.join('\r\n')}\r\n`),
        // The last line has no line ending.
        'in/2.jsonl.gz': gzipSync(other.join('\n')),
      });
      const { ws, results } = await runProject(dir);
      expect(results[0], materialize).toMatchObject({ read: 2500, written: 2496, quarantined: 4 });
      const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
      expect(quarantined.map((q) => [path.basename(q.file!), q.line, q.column_name, q.reason]).sort(), materialize).toEqual([
        ['1.jsonl.gz', 11, 'id', 'id: expected BIGINT, got seven'],
        ['1.jsonl.gz', 12, 'id', 'id: expected BIGINT, got seven'],
        ['1.jsonl.gz', 1501, 'id', 'id: expected BIGINT, got seven'],
        ['2.jsonl.gz', 500, 'id', 'id: expected BIGINT, got seven'],
      ]);
      await ws.close();
    }
  });

  it('more failing JSON lines than the line count looks for by text (110,000 of 130,000): the engine numbers them, each at its own line', async () => {
    const good = (n: number) => JSON.stringify({ id: n, kind: 'a' });
    const bad = (n: number) => JSON.stringify({ id: `x${n}`, kind: 'a' });
    // Six of every seven lines fail.
    const body = (from: number, count: number) => Array.from({ length: count }, (_, i) => ((from + i) % 7 === 0 ? good(from + i) : bad(from + i)));
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT', kind: 'VARCHAR' }, maxQuarantined: '90%' }`),
      'in/1.jsonl.gz': gzipSync(`${body(0, 70_000).join('\n')}\n`),
      'in/2.jsonl.gz': gzipSync(`${body(70_000, 60_000).join('\n')}\n`),
    });
    const { ws, results } = await runProject(dir);
    try {
      const goodIds = Array.from({ length: 130_000 }, (_, n) => n).filter((n) => n % 7 === 0);
      expect(results[0]).toMatchObject({ read: 130_000, written: goodIds.length, quarantined: 130_000 - goodIds.length });
      const lines = await ws.engine.queryJson<{ file: string; lines: number[] }>(
        `SELECT regexp_extract(file, '[^/]+$') AS file, list(line::INTEGER ORDER BY line) AS lines FROM tributary.quarantine WHERE model = 'loaded' GROUP BY 1 ORDER BY 1`,
      );
      const failing = (from: number, count: number) => Array.from({ length: count }, (_, i) => i + 1).filter((line) => (from + line - 1) % 7 !== 0);
      expect(lines).toEqual([
        { file: '1.jsonl.gz', lines: failing(0, 70_000) },
        { file: '2.jsonl.gz', lines: failing(70_000, 60_000) },
      ]);
      const raw = await ws.engine.queryJson<{ line: number; raw: string; expected: string }>(
        `SELECT line, raw, '{"id":"x' || ((CASE WHEN file LIKE '%2.jsonl.gz' THEN 70000 ELSE 0 END) + line - 1) || '","kind":"a"}' AS expected FROM tributary.quarantine WHERE raw IS DISTINCT FROM expected LIMIT 3`,
      );
      expect(raw).toEqual([]);
      const loaded = await ws.engine.queryJson<{ ids: number[] }>('SELECT list(id::INTEGER ORDER BY id) AS ids FROM loaded');
      expect(loaded[0]!.ids).toEqual(goodIds);
    } finally {
      await ws.close();
    }
  });

  it('a day of JSON lines loaded from files that hold three: the other days are skipped, the day\'s failing line quarantined at its line with its text', async () => {
    const line = (n: number) => JSON.stringify({ id: n, kind: 'a', ts: `2024-01-0${1 + (n % 3)}T10:00:00Z` });
    const body = Array.from({ length: 900 }, (_, n) => line(n));
    body[400] = JSON.stringify({ id: 'four hundred', kind: 'a', ts: '2024-01-02T10:00:00Z' });
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'sources',
  sources: { src: { format: 'jsonl', path: 'in/*.jsonl', columns: { id: 'BIGINT', kind: 'VARCHAR', ts: 'TIMESTAMP' } } },
  models: { loaded: { sql: "SELECT * FROM {{ source('src') }}", materialize: 'lake', partitionBy: { dt: 'CAST(ts AS DATE)' } } },
});
`,
      'in/days.jsonl': `${body.join('\n')}\n`,
    });
    const { ws, results } = await runProject(dir, { date: '2024-01-02' });
    try {
      expect(results[0]).toMatchObject({ read: 900, written: 299, quarantined: 1, skipped: 600 });
      const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
      expect(quarantined.map((q) => [path.basename(q.file!), q.line, q.column_name, q.raw])).toEqual([['days.jsonl', 401, 'id', body[400]]]);
      const kinds = await ws.engine.queryJson<{ n: string }>(`SELECT count(*) AS n FROM loaded WHERE dt = DATE '2024-01-02' AND kind = 'a'`);
      expect(kinds).toEqual([{ n: '299' }]);
    } finally {
      await ws.close();
    }
  });

  it('gzipped JSON lines: blank lines are no rows (LF, CRLF, at the end), and a missing last line ending, a file of two gzip members and a refused overlong line all reconcile', async () => {
    const line = (n: number) => JSON.stringify({ id: n, kind: 'a' });
    const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => line(from + i));
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT', kind: 'VARCHAR' }, json: { maxRecordBytes: 2000 } }`),
      // Blank lines, LF: two in the middle, one at the end; the line after the two is not JSON.
      'in/1.jsonl.gz': gzipSync(`${lines(0, 100).join('\n')}\n\n\n{"id": 100,\n${lines(101, 99).join('\n')}\n\n`),
      // CRLF with a blank line, and no line ending after the last line.
      'in/2.jsonl.gz': gzipSync(`${lines(200, 100).join('\r\n')}\r\n\r\n${lines(300, 100).join('\r\n')}`),
      // Two gzip members, as `cat a.gz b.gz` makes.
      'in/3.jsonl.gz': Buffer.concat([gzipSync(`${lines(400, 100).join('\n')}\n`), gzipSync(`${lines(500, 100).join('\n')}\n`)]),
      // A line longer than the reader takes: refused, with its line.
      'in/4.jsonl.gz': gzipSync(`${lines(600, 50).join('\n')}\n${JSON.stringify({ id: 650, kind: 'x'.repeat(5000) })}\n${lines(651, 49).join('\n')}\n`),
    });
    const { ws, results } = await runProject(dir);
    // Blank lines are no rows: 700 lines of records, one not JSON, one refused; each at its physical line.
    expect(results[0]).toMatchObject({ read: 700, written: 698, quarantined: 2 });
    const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
    expect(quarantined.map((q) => [path.basename(q.file!), q.line]).sort()).toEqual([
      ['1.jsonl.gz', 103],
      ['4.jsonl.gz', 51],
    ]);
    // The refused line's reason says how long it is and which setting takes it.
    expect(quarantined.find((q) => q.file!.endsWith('4.jsonl.gz'))!.reason).toBe(
      `LINE SIZE OVER MAXIMUM: the line is ${Buffer.byteLength(JSON.stringify({ id: 650, kind: 'x'.repeat(5000) })).toLocaleString('en-US')} bytes, over the 2,000 the reader takes; to load it, set sources.src.json.maxRecordBytes to 1000000 or more`,
    );
    const ids = await ws.engine.queryJson<{ n: string; distinct: string }>('SELECT count(*) AS n, count(DISTINCT id) AS distinct FROM loaded WHERE id IS NOT NULL');
    expect(ids[0]).toEqual({ n: '698', distinct: '698' });
    await ws.close();
  });

  it('a JSON line with a byte that is not UTF-8 (Latin-1) is refused at its line with its whole text, naming no field (the reader\'s column is the line)', async () => {
    const line = (n: number) => JSON.stringify({ id: n, kind: 'a' });
    const latin1 = Buffer.concat([Buffer.from('{"id": 5, "kind": "Jos'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const text = Buffer.concat([Buffer.from(`${[0, 1, 2, 3, 4].map(line).join('\n')}\n`), latin1, Buffer.from(`\n${[6, 7].map(line).join('\n')}\n`)]);
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*', columns: { id: 'BIGINT', kind: 'VARCHAR' } }`),
      'in/plain.jsonl': text,
      'in/packed.jsonl.gz': gzipSync(text),
    });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 16, written: 14, quarantined: 2 });
      const quarantined = await ws.metastore.quarantine({ model: 'loaded' });
      expect(quarantined.map((q) => [path.basename(q.file!), q.line, q.column_name, q.raw]).sort()).toEqual([
        ['packed.jsonl.gz', 6, null, '{"id": 5, "kind": "Jos\uFFFD"}'],
        ['plain.jsonl', 6, null, '{"id": 5, "kind": "Jos\uFFFD"}'],
      ]);
      expect(quarantined[0]!.reason).toMatch(/INVALID ENCODING/);
    } finally {
      await ws.close();
    }
  });

  it('a JSON-lines file mixing LF and CRLF loads every line, read with LF endings', async () => {
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT' } }`),
      'in/mixed.jsonl.gz': gzipSync('{"id": 1}\n{"id": 2}\r\n{"id": 3}\n{"id": "four"}\r\n'),
    });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 4, written: 3, quarantined: 1 });
      expect(await ws.engine.query('SELECT id::INTEGER AS id FROM loaded ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      // The failing line is named by the file as found, not by the copy read.
      const rows = await ws.metastore.quarantine({ model: 'loaded' });
      expect(rows.map((r) => [r.file, r.line, r.raw])).toEqual([[path.join(dir, 'in', 'mixed.jsonl.gz'), 4, '{"id": "four"}']]);
    } finally {
      await ws.close();
    }
  });

  it('a JSON object naming a key twice is read with its first value, as the README says', async () => {
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl', columns: { id: 'BIGINT', kind: 'VARCHAR' } }`),
      'in/twice.jsonl': '{"id": 1, "kind": "first", "kind": "last"}\n{"id": 2, "id": 3, "kind": "one"}\n',
    });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 2, written: 2, quarantined: 0 });
      expect(await ws.engine.query('SELECT id::INTEGER AS id, kind FROM loaded ORDER BY id')).toEqual([
        { id: 1, kind: 'first' },
        { id: 2, kind: 'one' },
      ]);
    } finally {
      await ws.close();
    }
  });

  it('a gzipped file mixing LF and CRLF that is cut short fails naming the file, CSV and JSON lines alike, where the repair met a raw zlib error', async () => {
    const cut = (lines: string[]) => {
      const whole = gzipSync(lines.map((line, i) => `${line}${i % 2 ? '\r\n' : '\n'}`).join(''));
      return whole.subarray(0, whole.length >> 1);
    };
    const rows = Array.from({ length: 100_000 }, (_, i) => i);
    for (const [source, file, bytes] of [
      [`{ format: 'jsonl', path: 'in/*', columns: { id: 'BIGINT' } }`, 'cut.jsonl.gz', cut(rows.map((i) => JSON.stringify({ id: i })))],
      [`{ format: 'csv', path: 'in/*', columns: { id: 'BIGINT' } }`, 'cut.csv.gz', cut(['id', ...rows.map(String)])],
    ] as const) {
      const dir = writeTree({ 'tributary.config.ts': config(source), [`in/${file}`]: bytes });
      const error = await runProject(dir).then(
        () => undefined,
        (e: TributaryError) => e,
      );
      expect(error?.format()).toMatch(new RegExp(`in/${file.replace(/\./g, '\\.')}: cannot read the file to its end \\(a truncated or corrupt \\.gz\\?\\): unexpected end of file; nothing was committed\\n {2}→ fetch or copy the file again`));
    }
  });

  it('a JSON-lines file whose columns are inferred and which holds a line that is not JSON is named, with the columns to declare', async () => {
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*' }`),
      'in/a.jsonl': '{"id": 1}\n{"id": 2, "n": "a\rb"}\n',
    });
    const error = await runProject(dir).then(
      () => undefined,
      (e: TributaryError) => e,
    );
    expect(error?.format()).toMatch(/in\/a\.jsonl: cannot infer the columns: a line of the file is not JSON \(unexpected control character in string\); nothing was committed\n {2}→ declare sources\.src\.columns/);
    expect(error?.message).not.toContain('DESCRIBE');
  });

  it('a JSON line holding a raw carriage return is set aside at its file and line with its text; the other lines load', async () => {
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*', columns: { id: 'BIGINT', n: 'VARCHAR' } }`),
      'in/cr.jsonl.gz': gzipSync('{"id": 1}\n{"id": 2, "n": "a\rb"}\n{"id": 3}\n{"id": 4, "n": "c\rd"}\n{"id": "five"}\n'),
      'in/crlf.jsonl': '{"id": 6}\r\n{"id": 7, "n": "\\r is how"}\r\n\r{"id": 8}\r\n',
      'in/clean.jsonl': '{"id": 9}\n',
    });
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 9, written: 5, quarantined: 4 });
      expect(await ws.engine.query('SELECT id::INTEGER AS id, n FROM loaded ORDER BY id')).toEqual([
        { id: 1, n: null },
        { id: 3, n: null },
        { id: 6, n: null },
        { id: 7, n: '\r is how' },
        { id: 9, n: null },
      ]);
      const rows = await ws.metastore.quarantine({ model: 'loaded' });
      expect(rows.map((r) => [path.relative(dir, r.file!), r.line, r.raw]).sort()).toEqual([
        ['in/cr.jsonl.gz', 2, '{"id": 2, "n": "a\rb"}'],
        ['in/cr.jsonl.gz', 4, '{"id": 4, "n": "c\rd"}'],
        ['in/cr.jsonl.gz', 5, '{"id": "five"}'],
        ['in/crlf.jsonl', 3, '\r{"id": 8}'],
      ]);
      expect(rows.find((r) => r.line === 2)!.reason).toMatch(/^a carriage return that ends no line \(JSON writes one inside a string as \\r\)/);
    } finally {
      await ws.close();
    }
  });

  it('a gzipped JSON-lines file cut short fails the load naming the file, though the engine reads it without complaint', async () => {
    const whole = gzipSync(`${Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ id: i })).join('\n')}\n`);
    const dir = writeTree({
      'tributary.config.ts': config(`{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT' } }`),
      'in/whole.jsonl.gz': whole,
      'in/cut.jsonl.gz': whole.subarray(0, Math.floor(whole.length / 2)),
    });
    const error = await runProject(dir).then(
      () => undefined,
      (e: TributaryError) => e,
    );
    expect(error?.format()).toMatch(/cut\.jsonl\.gz: cannot read the file to its end \(a truncated or corrupt \.gz\?\): .*; nothing was committed\n {2}→ fetch or copy the file again/);
  });

  it('a plain file named .gz, JSON lines or CSV with a header or none, is named as no gzip at all, not as one cut short to fetch again', async () => {
    const lines = `${Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: i })).join('\n')}\n`;
    for (const [source, name, text] of [
      [`{ format: 'jsonl', path: 'in/*.jsonl.gz', columns: { id: 'BIGINT' } }`, 'plain.jsonl.gz', lines],
      [`{ format: 'csv', path: 'in/*.csv.gz', columns: { id: 'BIGINT' } }`, 'plain.csv.gz', 'id\n1\n2\n'],
      // No header to read first: the engine meets the file.
      [`{ format: 'csv', path: 'in/*.csv.gz', csv: { header: false }, columns: { id: 'BIGINT' } }`, 'plain.csv.gz', '1\n2\n'],
    ] as const) {
      const dir = writeTree({ 'tributary.config.ts': config(source), [`in/${name}`]: text, [`in/good${name.slice(5)}`]: gzipSync(text) });
      const error = await runProject(dir).then(
        () => undefined,
        (e: TributaryError) => e,
      );
      expect(error?.format(), name).toContain(
        `${path.join(dir, 'in', name)}: the file is named .gz but is not gzip (it does not start with gzip's bytes 1f 8b); nothing was committed\n  → if it is plain text, rename it without .gz; otherwise compress it (gzip -c FILE > FILE.gz)`,
      );
    }
  });

  it('reads Parquet and enforces a declared schema', async () => {
    const dir = tempDir();
    const engine = await Engine.open();
    await engine.run(`COPY (SELECT range AS id, range * 1.5 AS amount FROM range(1000)) TO '${path.join(dir, 'in.parquet')}' (FORMAT parquet)`);
    engine.closeAll();
    writeFileSync(
      path.join(dir, 'tributary.config.ts'),
      config(`{ format: 'parquet', path: 'in.parquet', columns: { id: 'BIGINT', amount: 'DECIMAL(10,2)' }, rules: [{ column: 'id', max: 989 }] }`),
    );
    const { ws, results } = await runProject(dir);
    expect(results[0]).toMatchObject({ read: 1000, written: 990, quarantined: 10 });
    const q = await ws.metastore.quarantine({ model: 'loaded', limit: 100 });
    // Parquet has no lines: a quarantined row is located by its record number within the file.
    expect(q.every((r) => r.line === null)).toBe(true);
    expect(q.map((r) => r.record).sort((a, b) => a! - b!)).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000]);
    expect((await ws.metastore.table('loaded'))!.columns[1]).toEqual({ name: 'amount', type: 'DECIMAL(10,2)' });
    ws.close();
  });

  it('types a Parquet value exactly or quarantines it with the record as stored: 1.5 is no INTEGER, a timestamp no DATE', async () => {
    const dir = tempDir();
    const engine = await Engine.open();
    await engine.run(`COPY (SELECT * FROM (VALUES
        (1, 2.0::DOUBLE, '7', TIMESTAMP '2024-03-01 00:00', 0.1::FLOAT, 12.5::DECIMAL(9,1)),
        (2, 1.5::DOUBLE, '2.5', TIMESTAMP '2024-03-01 10:00', 12.345::FLOAT, 1.5),
        (3, 1e20::DOUBLE, '2024-03-01', NULL, NULL, NULL)
      ) t(id, quantity, code, shipped, price, discount)) TO '${path.join(dir, 'in.parquet')}' (FORMAT parquet)`);
    engine.closeAll();
    writeFileSync(
      path.join(dir, 'tributary.config.ts'),
      config(`{ format: 'parquet', path: 'in.parquet', columns: { id: 'BIGINT', quantity: 'INTEGER', code: 'INTEGER', shipped: 'DATE', price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)' } }`),
    );
    const { ws, results } = await runProject(dir);
    try {
      expect(results[0]).toMatchObject({ read: 3, written: 1, quarantined: 2 });
      expect(await ws.engine.queryJson('SELECT * FROM loaded')).toEqual([{ id: '1', quantity: 2, code: 7, shipped: '2024-03-01', price: '0.10', discount: '12.50' }]);
      const q = await ws.metastore.quarantine({ model: 'loaded' });
      expect(q.map((r) => [r.record, r.reason])).toEqual([
        [2, 'quantity: expected INTEGER, got 1.5; code: expected INTEGER, got 2.5; shipped: expected DATE, got 2024-03-01 10:00:00; price: expected DECIMAL(10,2), got 12.345'],
        [3, 'quantity: expected INTEGER, got 1e+20; code: expected INTEGER, got 2024-03-01'],
      ]);
      // The record as the file stores it, the failing values in place (the typed row has NULL there).
      expect(JSON.parse(q[0]!.raw!)).toMatchObject({ id: 2, quantity: 1.5, code: '2.5', shipped: '2024-03-01 10:00:00', discount: 1.5 });
    } finally {
      await ws.close();
    }
  });

  it('refuses a Parquet file that lacks a declared column, naming it and the file’s columns (read by name, it loaded as NULL with no reason)', async () => {
    const dir = tempDir();
    const engine = await Engine.open();
    await engine.run(`COPY (SELECT 1 AS id, 2.5 AS amount) TO '${path.join(dir, 'a.parquet')}' (FORMAT parquet)`);
    // Another table's file: a nested column whose fields must not pass for top-level columns, and a renamed one.
    await engine.run(`COPY (SELECT 2 AS id, {'amount': 1, 'deep': {'x': 1}} AS detail, 3.5 AS total) TO '${path.join(dir, 'b.parquet')}' (FORMAT parquet)`);
    engine.closeAll();
    writeFileSync(path.join(dir, 'tributary.config.ts'), config(`{ format: 'parquet', path: '*.parquet', columns: { id: 'BIGINT', amount: 'DECIMAL(10,2)' } }`));
    const error = await runProject(dir).then(
      () => undefined,
      (e: TributaryError) => e,
    );
    expect(error?.place).toMatchObject({ file: path.join(dir, 'b.parquet'), field: 'sources.src.columns' });
    expect(error?.message).toBe("the file has no column 'amount' of sources.src.columns; its columns: id, detail, total");
  });

  it('a file that is not Parquet (a CSV named .parquet, a file cut short while written) is named, with what to do', async () => {
    const dir = tempDir();
    const engine = await Engine.open();
    await engine.run(`COPY (SELECT range AS id FROM range(1000)) TO '${path.join(dir, 'whole.parquet')}' (FORMAT parquet)`);
    engine.closeAll();
    const whole = readFileSync(path.join(dir, 'whole.parquet'));
    writeFileSync(path.join(dir, 'tributary.config.ts'), config(`{ format: 'parquet', path: 'in/*.parquet' }`));
    for (const [name, bytes, said] of [
      ['orders.parquet', Buffer.from('order_id,amount\n1,2.50\n'), /No magic bytes found at end of file/],
      ['cut.parquet', whole.subarray(0, 10), /too small to be a Parquet file/],
      ['half.parquet', whole.subarray(0, whole.length >> 1), /No magic bytes found at end of file/],
    ] as const) {
      rmSync(path.join(dir, 'in'), { recursive: true, force: true });
      mkdirSync(path.join(dir, 'in'));
      writeFileSync(path.join(dir, 'in', 'whole.parquet'), whole);
      writeFileSync(path.join(dir, 'in', name), bytes);
      const error = await runProject(dir).then(
        () => undefined,
        (e: TributaryError) => e,
      );
      expect(error?.place, name).toMatchObject({ file: path.join(dir, 'in', name) });
      expect(error?.message, name).toMatch(/^the file is not Parquet: /);
      expect(error?.message, name).toMatch(said);
      expect(error?.hint, name).toMatch(/make sources\.src\.path match only whole Parquet files, or declare the format the files have/);
    }
  });
});

describe('the independent line count', () => {
  it('counts thousands of files a few at a time, each file its own count, in the order given', async () => {
    // A day of store drops is thousands of files; opening them all at once ran out of file handles.
    const dir = tempDir();
    const files = Array.from({ length: 3000 }, (_, i) => {
      const file = path.join(dir, `store_${i}.csv`);
      writeFileSync(file, `a,b\n${'1,2\n'.repeat(i % 7)}`);
      return file;
    });
    const counts = await countLines(files);
    expect(counts.map((c) => c.file)).toEqual(files);
    expect(counts.map((c) => c.lines)).toEqual(files.map((_, i) => 1 + (i % 7)));
  });
});
