import { cpSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrawlReport, StoreDrift } from '../src/catalog/crawl.js';
import { crawlCommand } from '../src/commands/catalog.js';
import type { CommandIO } from '../src/commands/types.js';
import { openSource, sources } from '../src/connectors/index.js';
import type { SourceConfig } from '../src/config/config.js';
import { createProgress } from '../src/core/progress.js';
import { Engine } from '../src/engine/index.js';
import type { Workspace } from '../src/state/workspace.js';
import { REPO, openProject, runProject, tempDir, writeTree } from './helpers.js';

/**
 * Schema drift in daily store drops, on the retail example's committed sample: every injected
 * case (drops/_manifest.json) is mapped by a declared rule or quarantined with its reason, the
 * counts reconcile with the files, and the crawl reports each case at its store and day. The
 * expected numbers come from the files and the generator's manifest, read here on their own.
 */
const DROPS = path.join(REPO, 'examples', 'retail-sales', 'data', 'sample', 'drops');

interface ManifestCase {
  id: string;
  storeId: number;
  quarantine: boolean;
  rowsAffected: number;
  files: { path: string; dt: string; rows: number; lines?: number[] }[];
}
interface Manifest {
  canonicalColumns: string[];
  cases: ManifestCase[];
  totals: { rows: number; rowsByDt: Record<string, number>; netSalesCentsByDt: Record<string, number> };
}
const manifest = JSON.parse(readFileSync(path.join(DROPS, '_manifest.json'), 'utf8')) as Manifest;

const SALES_COLUMNS = {
  sale_id: 'VARCHAR',
  sold_at: 'TIMESTAMP',
  store_id: 'INTEGER',
  sku: 'VARCHAR',
  quantity: 'INTEGER',
  unit_price: 'DECIMAL(10,2)',
  discount: 'DECIMAL(10,2)',
  customer_id: 'BIGINT',
  payment_type: 'VARCHAR',
};
const REQUIRED = ['sale_id', 'sold_at', 'store_id', 'sku', 'quantity', 'unit_price', 'discount'];
/** The rules the README's drift table asks for, as the platform declares them. */
const DRIFT = {
  renames: { qty: 'quantity' },
  ignore: ['promo_code'],
  defaults: { discount: '0.00' },
  casts: { unit_price: { decimalSeparator: ',' }, discount: { decimalSeparator: ',' }, quantity: { integral: true } },
  delimiter: 'sniff',
};

/** A project loading data/*.csv of four sales columns into one table, with these further source options. */
function renamingProject(options: string): string {
  return `import { defineProject } from 'tributary';
export default defineProject({
  name: 'renaming',
  sources: { sales: { format: 'csv', path: 'data/*.csv', columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER' }, ${options} } },
  models: { sales: { sql: "SELECT * FROM {{ source('sales') }}", materialize: 'table' } },
});
`;
}

function salesProject(drops: string, drift: object | undefined = DRIFT): string {
  const source = {
    format: 'csv',
    path: path.join(drops, 'dt=*', 'store_*.csv'),
    columns: SALES_COLUMNS,
    rules: REQUIRED.map((column) => ({ column, notNull: true })),
    ...(drift ? { drift } : {}),
  };
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'drift',
  sources: { store_drops: ${JSON.stringify(source)} },
  models: { sales_lines: { sql: "SELECT * FROM {{ source('store_drops') }}", materialize: 'table' } },
});
`,
  });
}

/** The sample's drop files, by path relative to drops/ ('dt=2024-12-06/store_17.csv'). */
function dropFiles(root = DROPS): string[] {
  return readdirSync(root)
    .filter((d) => d.startsWith('dt='))
    .flatMap((d) => readdirSync(path.join(root, d)).map((f) => `${d}/${f}`))
    .sort();
}

/** A CSV line split on its delimiter, quotes honoured (the sample quotes no delimiter inside a value but the decimal comma). */
function fields(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let value = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === delimiter && !quoted) {
      out.push(value);
      value = '';
    } else value += ch;
  }
  out.push(value);
  return out;
}

/** One file read the way the README's mapping rules say, independently of Tributary: rows by canonical column. */
function readDrop(file: string): { records: number; rows: Record<string, string>[] } {
  const text = readFileSync(path.join(DROPS, file), 'utf8');
  const [head, ...lines] = text.split('\n').filter((l) => l !== '');
  const delimiter = head!.includes(';') ? ';' : ',';
  const names = fields(head!, delimiter).map((n) => (n === 'qty' ? 'quantity' : n));
  const rows = lines.map((line) => Object.fromEntries(fields(line, delimiter).map((v, i) => [names[i] ?? `extra_${i}`, v])));
  return { records: lines.length, rows };
}

const cents = (text: string | undefined) => (text === undefined ? 0 : Math.round(Number(text.replace(',', '.')) * 100));

function io(): CommandIO & { text: string[] } {
  const text: string[] = [];
  return { text, out: (t) => text.push(t), err: (t) => text.push(t), progress: (label) => createProgress({ label, quiet: true }), tty: false };
}

describe('schema drift in the retail sample drops', () => {
  let ws: Workspace;
  let result: { read: number | null; written: number; quarantined: number };
  const log: string[] = [];

  beforeAll(async () => {
    const run = await runProject(salesProject(DROPS), { dataDir: tempDir(), log: (m) => log.push(m) });
    ws = run.ws;
    result = run.results[0]!;
  });
  afterAll(async () => ws?.close());

  it('reconciles: every line of every file is loaded or quarantined with its reason', async () => {
    const records = dropFiles().reduce((n, f) => n + readDrop(f).records, 0);
    const damaged = manifest.cases.filter((c) => c.quarantine).flatMap((c) => c.files.flatMap((f) => f.lines!.map((line) => ({ id: c.id, file: f.path.replace(/^drops\//, ''), line }))));
    expect(records).toBe(manifest.totals.rows);
    expect(result).toMatchObject({ read: records, written: records - damaged.length, quarantined: damaged.length });
    expect([result.read, result.written, result.quarantined]).toEqual([5175, 5169, 6]);

    const quarantined = (await ws.metastore.quarantine({ limit: 100 })).map((q) => ({ file: path.relative(DROPS, q.file!), line: q.line, reason: q.reason }));
    const reasons: Record<string, RegExp> = {
      missing_sku: /^sku: expected a value \(not null\), got NULL$/,
      missing_quantity: /^quantity: expected a value \(not null\), got NULL$/,
      truncated_last_line: /^MISSING COLUMNS: 4 fields where 9 are expected/,
    };
    expect(quarantined.map(({ file, line }) => `${file}:${line}`).sort()).toEqual(damaged.map(({ file, line }) => `${file}:${line}`).sort());
    for (const d of damaged) expect(quarantined.find((q) => q.file === d.file && q.line === d.line)!.reason, d.id).toMatch(reasons[d.id]!);
  });

  it('maps each drifted file by its declared rule: values equal the files read by the README’s rules', async () => {
    for (const c of manifest.cases.filter((x) => !x.quarantine)) {
      for (const f of c.files) {
        const { rows } = readDrop(f.path.replace(/^drops\//, ''));
        const [loaded] = await ws.engine.queryJson<{ n: number; quantity: number; price: number; discount: number }>(
          `SELECT count(*)::DOUBLE AS n, sum(quantity)::DOUBLE AS quantity, (sum(unit_price) * 100)::DOUBLE AS price, (sum(discount) * 100)::DOUBLE AS discount
           FROM sales_lines WHERE store_id = ${c.storeId} AND dt = DATE '${f.dt}'`,
        );
        expect(loaded, `${c.id} ${f.path}`).toEqual({
          n: f.rows,
          quantity: rows.reduce((s, r) => s + Number(r['quantity']), 0),
          price: rows.reduce((s, r) => s + cents(r['unit_price']), 0),
          // dropped_column: the default 0.00 (the file's 3.60 of discounts were never exported).
          discount: rows.reduce((s, r) => s + cents(r['discount']), 0),
        });
      }
    }
    // The generator's own totals: net sales per day over the loaded lines.
    const byDay = await ws.engine.queryJson<{ dt: string; net: number }>(
      `SELECT dt::VARCHAR AS dt, (sum(quantity * unit_price - discount) * 100)::DOUBLE AS net FROM sales_lines GROUP BY dt ORDER BY dt`,
    );
    expect(Object.fromEntries(byDay.map((d) => [d.dt, d.net]))).toEqual(manifest.totals.netSalesCentsByDt);
  });

  it('logs every mapping applied, with the file and the rule', () => {
    const rule: Record<string, RegExp> = {
      renamed_column: /qty read as quantity \(renames\)/,
      added_column: /promo_code ignored \(ignore\)/,
      dropped_column: /discount absent, set to 0\.00 \(defaults\)/,
      decimal_comma: /unit_price with a decimal comma.*\(line 2; casts\).*discount with a decimal comma/,
      quantity_as_decimal: /quantity written as a decimal, e\.g\. '\d\.0' \(line 2; casts\)/,
      semicolon_delimiter: /delimiter ';' \(sniffed\)/,
    };
    const mapped = manifest.cases.filter((c) => !c.quarantine).flatMap((c) => c.files.map((f) => ({ id: c.id, file: path.join(DROPS, f.path.replace(/^drops\//, '')) })));
    expect(log).toContain(`source 'store_drops': schema drift mapped in ${mapped.length} of ${dropFiles().length} file(s) by sources.store_drops.drift:`);
    for (const m of mapped) expect(log.find((l) => l.includes(m.file)), m.file).toMatch(rule[m.id]!);
  });

  it('crawl reports each drift case at its store and day, as a table and as JSON', async () => {
    const json = io();
    await crawlCommand.run({ ws, io: json }, { path: DROPS, table: 'sales_raw', format: 'json' });
    const report = JSON.parse(json.text.join('\n')) as CrawlReport;
    expect(report).toMatchObject({ files: dropFiles().length, rows: manifest.totals.rows, partitions: 3, partitionBy: ['dt'] });
    expect(report.reference).toMatchObject({ delimiter: ',', header: manifest.canonicalColumns });

    const expected: Record<string, { change: StoreDrift['change']; column: string | null }[]> = {
      renamed_column: [{ change: 'renamed', column: 'quantity' }],
      added_column: [{ change: 'added', column: 'promo_code' }],
      dropped_column: [{ change: 'removed', column: 'discount' }],
      decimal_comma: [
        { change: 'retyped', column: 'unit_price' },
        { change: 'retyped', column: 'discount' },
      ],
      quantity_as_decimal: [{ change: 'retyped', column: 'quantity' }],
      semicolon_delimiter: [{ change: 'delimiter', column: null }],
      missing_sku: [{ change: 'empty values', column: 'sku' }],
      missing_quantity: [{ change: 'empty values', column: 'quantity' }],
      truncated_last_line: [{ change: 'refused rows', column: null }],
    };
    const findings = manifest.cases.flatMap((c) =>
      c.files.flatMap((f) =>
        expected[c.id]!.map((e) => ({ partition: `dt=${f.dt}`, store: `store_${c.storeId}`, change: e.change, column: e.column, rows: c.quarantine ? f.lines!.length : f.rows })),
      ),
    );
    const key = (d: { partition: string; store: string; change: string; column: string | null }) => `${d.partition} ${d.store} ${d.change} ${d.column ?? ''}`;
    expect(report.storeDrift!.map(key).sort()).toEqual(findings.map(key).sort());
    for (const f of findings) expect(report.storeDrift!.find((d) => key(d) === key(f))!.rows, key(f)).toBe(f.rows);
    expect(report.storeDrift!.find((d) => d.change === 'refused rows')!.detail).toMatch(/^line 7: Expected Number of Columns: 9 Found: 4/);
    expect(report.storeDrift!.find((d) => d.change === 'retyped' && d.column === 'unit_price')!.detail).toMatch(/^VARCHAR instead of DOUBLE, e\.g\. '\d+,\d\d'$/);

    const parts = await ws.metastore.partitions('sales_raw');
    expect(parts.map((p) => [p.partition['dt'], p.rows])).toEqual(Object.entries(manifest.totals.rowsByDt));
    // The raw table keeps every column any file has (promo_code, qty) and every row.
    const [raw] = await ws.engine.queryJson<{ n: number; promo: number; qty: number }>(`SELECT count(*)::DOUBLE AS n, count(promo_code)::DOUBLE AS promo, count(qty)::DOUBLE AS qty FROM sales_raw`);
    expect(raw).toEqual({ n: manifest.totals.rows, promo: expect.any(Number) as number, qty: 97 });

    const table = io();
    await crawlCommand.run({ ws, io: table }, { path: DROPS, table: 'sales_raw', format: 'table' });
    const shown = table.text.join('\n');
    expect(shown).toMatch(new RegExp(`drift by store and day: ${findings.length} finding\\(s\\) in \\d+ of 1404 file\\(s\\)`));
    expect(shown).toMatch(/dt=2024-12-07 *│ store_2235 *│ renamed *│ quantity *│ exported as qty/);
  });
});

describe('schema drift between crawls', () => {
  it('stays in the catalog: a schema version per change, and each crawl’s findings with its snapshot', async () => {
    const drops = tempDir();
    for (const file of ['dt=2024-12-06/store_17.csv', 'dt=2024-12-06/store_31.csv', 'dt=2024-12-07/store_17.csv']) cpSync(path.join(DROPS, file), path.join(drops, file));
    const ws = await openProject(salesProject(drops), { dataDir: tempDir() });
    try {
      const first = io();
      await crawlCommand.run({ ws, io: first }, { path: drops, table: 'sales_raw', format: 'json' });
      expect((JSON.parse(first.text.join('')) as CrawlReport).storeDrift!.map((d) => `${d.store} ${d.change} ${d.column}`)).toEqual(['store_31 empty values sku']);
      // A new day arrives from a store whose export renamed a column.
      cpSync(path.join(DROPS, 'dt=2024-12-07/store_2235.csv'), path.join(drops, 'dt=2024-12-07/store_2235.csv'));
      const second = io();
      await crawlCommand.run({ ws, io: second }, { path: drops, table: 'sales_raw', format: 'json', store: 'store_(\\d+)' });
      const report = JSON.parse(second.text.join('')) as CrawlReport;
      expect(report.sinceLastCrawl?.added.map((c) => c.name)).toEqual(['qty']);
      expect(report.storeDrift!.map((d) => `${d.partition} ${d.store} ${d.change} ${d.column}`)).toContain('dt=2024-12-07 2235 renamed quantity');
      expect((await ws.metastore.schemaVersions('sales_raw')).length).toBe(2);
      const notes = await ws.engine.queryJson<{ snapshot_id: number; change: string }>(
        `SELECT snapshot_id::DOUBLE AS snapshot_id, change FROM tributary.snapshot_changes WHERE table_name = 'sales_raw' AND change LIKE 'drift %' ORDER BY snapshot_id, change`,
      );
      expect(notes.map((n) => n.change)).toEqual([
        expect.stringMatching(/^drift dt=2024-12-06 store_31: empty values sku/),
        expect.stringMatching(/^drift dt=2024-12-06 31: empty values sku/),
        'drift dt=2024-12-07 2235: renamed quantity (exported as qty (same position, 5))',
      ]);
      expect(notes[0]!.snapshot_id).toBeLessThan(notes[2]!.snapshot_id);
    } finally {
      await ws.close();
    }
  });
});

describe('drift mapping on the load path', () => {
  const header = 'sale_id,sold_at,store_id,sku,quantity,unit_price,discount,customer_id,payment_type';
  const line = (i: number, price: string) => `0017-20241206-${String(i).padStart(6, '0')},2024-12-06 09:33:25,17,SKU${100000 + i},1,${price},0.00,,card`;

  it('keeps conforming files on the typed reader: the same SQL as without drift rules', async () => {
    const engine = await Engine.open();
    try {
      const open = async (drift: object | undefined) => {
        const config = { format: 'csv', path: path.join(DROPS, 'dt=2024-12-06', 'store_1*.csv'), columns: SALES_COLUMNS, ...(drift ? { drift } : {}) } as SourceConfig;
        const scan = await openSource(sources, config, { name: 'drops', engine, baseDir: REPO, scratchDir: tempDir(), runId: 'same', log: () => undefined });
        const relation = { sql: scan.relation(), hasParseError: scan.hasParseError };
        await scan.close();
        return relation;
      };
      const plain = await open(undefined);
      // One typed read of the files, no mapped layout beside it.
      expect(plain.sql.match(/read_csv\(/g)).toHaveLength(1);
      expect(await open(DRIFT)).toEqual(plain);
    } finally {
      engine.close();
    }
  });

  it('binds the shape of every layout from a file of each partition value: the same columns and types as the read of every file', async () => {
    const engine = await Engine.open();
    try {
      const config = { format: 'csv', path: path.join(DROPS, 'dt=*', 'store_*.csv'), columns: SALES_COLUMNS, drift: DRIFT } as SourceConfig;
      const files = async (relation: string) => Number((await engine.query<{ n: bigint }>(`SELECT count(DISTINCT __file) AS n FROM ${relation}`))[0]!.n);
      const scan = await openSource(sources, config, { name: 'drops', engine, baseDir: REPO, scratchDir: tempDir(), runId: 'shape', log: () => undefined });
      try {
        const whole = scan.relation();
        const shape = scan.relation({ shapeOnly: true });
        expect(await engine.describe(`SELECT * FROM ${shape}`)).toEqual(await engine.describe(`SELECT * FROM ${whole}`));
        // The sample's conforming files and each drifted layout (a rename, a delimiter, a decimal
        // comma…), each read over a file of each of its days (dt=2024-12-06 to 08) at the most.
        const layouts = (whole.match(/read_csv\(/g) ?? []).length;
        expect(layouts).toBeGreaterThan(2);
        expect(await files(shape)).toBeGreaterThanOrEqual(layouts);
        expect(await files(shape)).toBeLessThanOrEqual(layouts * 3);
        expect(await files(whole)).toBeGreaterThan(1000);
      } finally {
        await scan.close();
      }
      // A partition column is typed by its values: k=1 and k=2 as BIGINT, with k=abc as VARCHAR.
      const tree = writeTree({ 'k=1/a.csv': 'n\n1\n', 'k=2/a.csv': 'n\n2\n', 'k=2/b.csv': 'n\n3\n', 'k=abc/a.csv': 'n\n4\n', 'other/a.csv': 'n\n5\n' });
      const mixed = await openSource(sources, { format: 'csv', path: path.join(tree, 'k=*', '*.csv'), columns: { n: 'INTEGER' } } as SourceConfig, { name: 'mixed', engine, baseDir: REPO, scratchDir: tempDir(), runId: 'mixed', log: () => undefined });
      try {
        const types = await engine.describe(`SELECT * FROM ${mixed.relation({ shapeOnly: true })}`);
        expect(types).toEqual(await engine.describe(`SELECT * FROM ${mixed.relation()}`));
        expect(types.find((c) => c.name === 'k')?.type).toBe('VARCHAR');
        expect(await files(mixed.relation({ shapeOnly: true }))).toBe(3);
      } finally {
        await mixed.close();
      }
      // A partition column exists only when every file has its key: with a file outside k=…, none.
      const partly = await openSource(sources, { format: 'csv', path: [path.join(tree, 'k=*', '*.csv'), path.join(tree, 'other', '*.csv')], columns: { n: 'INTEGER' } } as SourceConfig, { name: 'partly', engine, baseDir: REPO, scratchDir: tempDir(), runId: 'partly', log: () => undefined });
      try {
        const types = await engine.describe(`SELECT * FROM ${partly.relation({ shapeOnly: true })}`);
        expect(types).toEqual(await engine.describe(`SELECT * FROM ${partly.relation()}`));
        expect(types.map((c) => c.name)).not.toContain('k');
      } finally {
        await partly.close();
      }
    } finally {
      engine.close();
    }
  });

  it('reads a file through the mapping when a cast value first appears past the sampled lines, and loads it exactly', async () => {
    // 1,200 plain lines (~100 kB) put the decimal comma beyond the header sample.
    const lines = Array.from({ length: 1200 }, (_, i) => line(i + 1, '7.97'));
    lines.push(line(1201, '"12,99"'));
    const drops = writeTree({ 'dt=2024-12-06/store_17.csv': `${header}\n${lines.join('\n')}\n` });
    const log: string[] = [];
    const { ws, results } = await runProject(salesProject(drops, { casts: { unit_price: { decimalSeparator: ',' } } }), { dataDir: tempDir(), log: (m) => log.push(m) });
    try {
      expect(results[0]).toMatchObject({ read: 1201, written: 1201, quarantined: 0 });
      expect(log.join('\n')).toMatch(/the typed reader refused values a declared cast reads in 1 file\(s\), e\.g\. .*store_17\.csv:1202 .*; reading them through the mapping/);
      const [sum] = await ws.engine.queryJson<{ total: string }>(`SELECT sum(unit_price)::VARCHAR AS total FROM sales_lines`);
      expect(sum!.total).toBe('9576.99'); // 1,200 × 7.97 + 12.99
    } finally {
      await ws.close();
    }
  });

  it('repairs mapped files as it repairs the others: a runaway quote in a ;-file, mixed line endings in a renamed one', async () => {
    const project = writeTree({
      'data/store_1.csv': 'sale_id,store_id,sku,quantity\n1-1,1,SKU1,2\n',
      'data/store_2.csv': 'sale_id;store_id;sku;quantity\n2-1;2;"SKU1;3\n2-2;2;SKU3;1\n2-3;2;SKU4;1\n',
      'data/store_3.csv': 'sale_id,store_id,sku,qty\r\n3-1,3,SKU1,3\r\n3-2,3,SKU2,1\n3-3,3,SKU3,1\n',
      'tributary.config.ts': renamingProject(`drift: { renames: { qty: 'quantity' }, delimiter: 'sniff' }`),
    });
    const { ws, results } = await runProject(project, { dataDir: tempDir() });
    try {
      expect(results[0]).toMatchObject({ read: 7, written: 6, quarantined: 1 });
      const [q] = await ws.metastore.quarantine();
      expect({ file: path.basename(q!.file!), line: q!.line, column: q!.column_name, raw: q!.raw }).toEqual({ file: 'store_2.csv', line: 2, column: 'sku', raw: '2-1;2;"SKU1;3' });
      const rows = await ws.engine.queryJson<{ sale_id: string; quantity: number }>(`SELECT sale_id, quantity FROM sales ORDER BY sale_id`);
      expect(rows.map((r) => `${r.sale_id}:${r.quantity}`)).toEqual(['1-1:2', '2-2:1', '2-3:1', '3-1:3', '3-2:1', '3-3:1']);
    } finally {
      await ws.close();
    }
  });

  it('quarantines an unmappable file line by line feed: a carriage return in its header or a row starts no line', async () => {
    const project = writeTree({
      'data/store_1.csv': 'sale_id,store_id,sku,quantity\n1-1,1,SKU1,2\n',
      'data/store_3.csv': 'sale_id,store_id,sku,q\rty\r\n3-1,3,SKU\r1,3\r\n\r\n3-2,3,SKU2,1',
      'tributary.config.ts': renamingProject(`drift: { renames: { qty: 'quantity' } }, maxQuarantined: 5`),
    });
    const { ws, results } = await runProject(project, { dataDir: tempDir() });
    try {
      expect(results[0]).toMatchObject({ read: 3, written: 1, quarantined: 2 });
      const rows = await ws.metastore.quarantine();
      expect(rows.map((q) => [path.basename(q.file!), q.line, q.raw]).sort()).toEqual([
        ['store_3.csv', 2, '3-1,3,SKU\r1,3'],
        ['store_3.csv', 4, '3-2,3,SKU2,1'],
      ]);
      expect(rows[0]!.reason).toMatch(/^the header \[sale_id, store_id, sku, q\rty\] cannot be mapped onto the declared columns/);
    } finally {
      await ws.close();
    }
  });

  it('names an unmappable .gz file that is cut short, where zlib’s bare "unexpected end of file" failed the model', async () => {
    const lines = ['sale_id,store_id,sku,weird', ...Array.from({ length: 100_000 }, (_, i) => `3-${i},3,SKU,1`)];
    const whole = gzipSync(`${lines.join('\n')}\n`);
    const project = writeTree({
      'data/store_1.csv': 'sale_id,store_id,sku,quantity\n1-1,1,SKU1,2\n',
      'data/store_3.csv.gz': whole.subarray(0, whole.length >> 1),
      'tributary.config.ts': renamingProject(`drift: { renames: { qty: 'quantity' } }`).replace("path: 'data/*.csv'", "path: 'data/*'"),
    });
    await expect(runProject(project, { dataDir: tempDir() })).rejects.toThrow(/^cannot read the file to its end \(a truncated or corrupt \.gz\?\): unexpected end of file; nothing was committed$/);
  });

  it('refuses a default that is not a value of its column’s type, before reading a file', async () => {
    const drops = writeTree({ 'dt=2024-12-06/store_17.csv': `${header}\n${line(1, '7.97')}\n` });
    await expect(runProject(salesProject(drops, { defaults: { discount: 'none' } }), { dataDir: tempDir() })).rejects.toThrow(
      /the default for discount is not a value of its type \(discount: expected DECIMAL\(10,2\), got none\)/,
    );
  });
});
