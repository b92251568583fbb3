import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, CLICKSTREAM, REPO, cli, cliAsync, tempDir, writeTree } from './helpers.js';
import { startCommand } from './support/live-command.js';

describe('tributary CLI', () => {
  it('colours its errors only when asked: FORCE_COLOR=0 and NO_COLOR turn them off (picocolors took FORCE_COLOR=0 as on)', () => {
    const nowhere = path.join(tempDir(), 'nowhere');
    expect(cli(['run', '--project', nowhere], undefined, { FORCE_COLOR: '0' }).stderr).toMatch(/^error: .*no Tributary project here/);
    expect(cli(['run', '--project', nowhere], undefined, { FORCE_COLOR: '1', NO_COLOR: '1' }).stderr).toMatch(/^error: /);
    expect(cli(['run', '--project', nowhere], undefined, { FORCE_COLOR: '1' }).stderr).toMatch(/^\x1b\[31merror:\x1b\[39m /);
  });

  it('a usage error exits 2, as shells and CI tell it from a failed run (1); a day the calendar lacks is one', () => {
    const dir = path.join(tempDir(), 'shop');
    expect(cli(['init', dir]).code).toBe(0);
    const noThreads = cli(['run', '--project', dir, '--threads', '0']);
    expect(noThreads.code).toBe(2);
    expect(noThreads.stderr).toMatch(/argument '0' is invalid\. expected a whole number above 0/);
    // Date.parse takes 2024-02-30 as March 1st: the run built a day nobody asked for, under the wrong name.
    const february30 = cli(['run', '--project', dir, '--date', '2024-02-30']);
    expect(february30.code).toBe(2);
    expect(february30.stderr).toMatch(/expected a day of the calendar like 2019-11-05, got '2024-02-30'/);
    expect(cli(['backfill', 'nightly', '--project', dir, '--from', '2023-04-31', '--to', '2023-05-02']).code).toBe(2);
    expect(cli(['nosuch', '--project', dir]).code).toBe(2);
    // What the command itself refuses (its declared input, the same check the server's API makes) is a usage error too.
    const noQuery = cli(['sql', '  ', '--project', dir]);
    expect(noQuery.code).toBe(2);
    expect(noQuery.stderr).toMatch(/sql: query: expected a query/);
    // A --source without its path said nothing at all; a server address that is none was tried as one.
    const noPath = cli(['run', '--project', dir, '--source', 'orders']);
    expect(noPath.code).toBe(2);
    expect(noPath.stderr).toMatch(/argument 'orders' is invalid\. expected NAME=PATH, got 'orders'/);
    const noServer = cli(['runs', '--project', dir, '--server', 'localhost7070']);
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toMatch(/expected the server's address like http:\/\/127\.0\.0\.1:7070, got 'localhost7070'/);
    // --vars is a dbt project's: on another it was ignored, a typo in it unseen.
    const vars = cli(['run', '--project', dir, '--vars', '{until: 2024-03-31}']);
    expect(vars.code).toBe(1);
    expect(vars.stderr).toMatch(/--vars sets a dbt project's vars, and .* has no dbt_project\.yml/);
    expect(cli(['run', '--project', dir, '--date', '2024-02-29', '--quiet']).code).toBe(0);
  });

  it('a second `up` on a project a server already runs is refused, naming where the first one answers', async () => {
    const dir = path.join(tempDir(), 'shop');
    expect(cli(['init', dir]).code).toBe(0);
    const first = startCommand(process.execPath, [CLI, 'up', '--project', dir, '--port', '0'], { cwd: dir });
    try {
      const [, url] = await first.waitFor(/is up at (http:\/\/\S+) /);
      // It failed on DuckDB's file lock, with "run this command against it" as the way out.
      const second = cli(['up', '--project', dir, '--port', '0']);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`a Tributary server already runs this project at ${url}`);
    } finally {
      await first.stop();
    }
  });

  it('a command for a running server goes to it without compiling the config; a copy of the folder is another project', async () => {
    const dir = path.join(tempDir(), 'shop');
    expect(cli(['init', dir]).code).toBe(0);
    expect(cli(['run', '--project', dir, '--quiet']).code).toBe(0);
    const up = startCommand(process.execPath, [CLI, 'up', '--project', dir, '--port', '0'], { cwd: dir });
    try {
      await up.waitFor(/is up at (http:\/\/\S+) /);
      // The server works on the config it started with: a command sent to it never read the file
      // (compiling it was most of a sent command's CPU, taken from the server's streams).
      const config = path.join(dir, 'tributary.config.ts');
      const text = readFileSync(config, 'utf8');
      writeFileSync(config, `${text}\nthis is not TypeScript(`);
      const modules = path.join(tempDir(), 'modules.txt');
      const sent = cli(['runs', '--project', dir], REPO, { NODE_OPTIONS: `--import=${pathToFileURL(path.join(REPO, 'test/support/module-log.mjs')).href}`, MODULE_LOG: modules });
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
      expect(sent.stdout).toMatch(/orders/);
      // Nor did it load what only a command run here needs: the config's compiler, the engine,
      // the commands' code (its start-up CPU was taken from the server's streams too).
      const loaded = readFileSync(modules, 'utf8').trim().split('\n');
      expect(loaded.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
      expect(loaded.filter((url) => /\/dist\/(config\/project|engine\/engine|commands\/index|models|connectors|state)\/|node_modules\/(tsx|@duckdb)\//.test(url))).toEqual([]);
      writeFileSync(config, text);
      // A copy made while the server ran carries its record, but the server serves the original.
      const copy = path.join(tempDir(), 'copy');
      cpSync(dir, copy, { recursive: true, filter: (from) => !from.startsWith(path.join(dir, '.tributary')) });
      mkdirSync(path.join(copy, '.tributary'));
      cpSync(path.join(dir, '.tributary', 'server.json'), path.join(copy, '.tributary', 'server.json'));
      const own = cli(['runs', '--project', copy]);
      expect(own.code).toBe(0);
      expect(own.stdout).toContain('(0 rows)');
      // A target other than the server's is still refused by name.
      const other = cli(['runs', '--project', dir, '--target', 'prod']);
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/no target named 'prod'/);
      // A failure on the server names its file and line as the same command run here does.
      writeFileSync(path.join(dir, 'data', 'orders2.csv'), 'order_id,when,customer,amount\n1,2024-01-01,a,1\n');
      const failed = cli(['run', '--project', dir, '--quiet']);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/error: \S*\/data\/orders2\.csv:1: header has 4 column\(s\) \[order_id, when, customer, amount\]/);
      expect(failed.stderr).toContain('→ make the file');
    } finally {
      await up.stop();
    }
  });

  it('a server record found in a folder sends nothing elsewhere: another machine, no folder or another folder, and the command runs here', () => {
    const dir = path.join(tempDir(), 'shop');
    expect(cli(['init', dir]).code).toBe(0);
    mkdirSync(path.join(dir, '.tributary'), { recursive: true });
    const planted = (record: Record<string, unknown>) =>
      writeFileSync(path.join(dir, '.tributary', 'server.json'), JSON.stringify({ pid: process.pid, target: 'default', defaultTarget: 'default', ...record }));
    // A documentation address (TEST-NET-3): were the command sent there, it would fail to connect.
    const records = [
      { url: 'http://203.0.113.7:7070', dir: realpathSync(dir) },
      { url: 'http://127.0.0.1:9' },
      { url: 'http://127.0.0.1:9', dir: '/elsewhere' },
      // Not a record `up` writes: no target.
      { url: 'http://127.0.0.1:9', dir: realpathSync(dir), target: null },
    ];
    for (const record of records) {
      planted(record);
      const runs = cli(['runs', '--project', dir], undefined, { TRIBUTARY_TOKEN: 'a-token-that-stays-on-this-machine' });
      expect(runs.stderr, JSON.stringify(record)).toBe('');
      expect(runs.code).toBe(0);
      expect(runs.stdout).toContain('(0 rows)');
    }
  });

  it('a record of a server killed without removing it, its process number now another program’s, is named with what to do', async () => {
    const dir = path.join(tempDir(), 'shop');
    expect(cli(['init', dir]).code).toBe(0);
    // A port nothing listens on any more.
    const listener = createServer().listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const { port } = listener.address() as AddressInfo;
    await new Promise((done) => listener.close(done));
    const record = path.join(dir, '.tributary', 'server.json');
    mkdirSync(path.dirname(record), { recursive: true });
    writeFileSync(record, JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid, target: 'default', dir: realpathSync(dir), defaultTarget: 'default' }));
    const runs = cli(['runs', '--project', dir]);
    expect(runs.code).toBe(1);
    expect(runs.stderr).toContain(`cannot reach http://127.0.0.1:${port}/api/commands`);
    expect(runs.stderr).toContain(`the address comes from ${record}, which a server writes while it runs`);
    expect(runs.stderr).toMatch(/remove the file and run again/);
  });

  it('a server that cuts the connection before a command ends is named, with what to do, not `aborted`', async () => {
    // Answers the first frame of the command's output, then goes away as a killed server does.
    const server = createHttpServer((request, response) => {
      // The request read whole first: a socket closed with unread bytes is reset, and the frame lost.
      request.resume().on('end', () => {
        response.writeHead(200, { 'content-type': 'application/x-ndjson' });
        response.write(`${JSON.stringify({ out: 'first line' })}\n`, () => response.socket?.destroy());
      });
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const dir = path.join(tempDir(), 'shop');
      expect(cli(['init', dir]).code).toBe(0);
      const runs = await cliAsync(['runs', '--project', dir, '--server', url]);
      expect(runs.stdout).toBe('first line\n');
      expect(runs.stderr).toContain(`the connection to ${url}/api/commands closed before the answer ended`);
      expect(runs.stderr).toContain('the server stopped or restarted: look at its log, then run the command again');
      expect(runs.code).toBe(1);
    } finally {
      server.close();
    }
  });

  it('init scaffolds a project that runs, quarantines its bad row and answers SQL, in a folder whose name has a space', () => {
    const dir = path.join(tempDir(), 'my shop');
    const init = cli(['init', dir]);
    expect(init.code).toBe(0);
    expect(existsSync(path.join(dir, 'tributary.config.ts'))).toBe(true);
    // The next steps it prints can be pasted into a shell.
    expect(init.stdout).toContain(`Next: cd '${dir}' && npm install`);

    const run = cli(['run', '--project', dir, '--quiet']);
    expect(run.stderr).toMatch(/✔ orders \(lake\).*read 5, wrote 4, quarantined 1/);
    expect(run.code).toBe(0);

    const sql = cli(['sql', 'SELECT day::VARCHAR AS day, orders, revenue::VARCHAR AS revenue FROM daily_revenue ORDER BY day', '--project', dir, '--format', 'json']);
    expect(sql.code).toBe(0);
    expect(JSON.parse(sql.stdout)).toEqual([
      // BIGINT and DECIMAL come as strings in JSON so no digit is lost.
      { day: '2024-05-01', orders: '2', revenue: '24.90' },
      { day: '2024-05-02', orders: '1', revenue: '42.10' },
      { day: '2024-05-03', orders: '1', revenue: '12.50' },
    ]);

    const q = cli(['quarantine', '--project', dir, '--format', 'json']);
    expect(JSON.parse(q.stdout)).toMatchObject([{ model: 'orders', line: 5, column_name: 'amount', reason: 'amount: expected >= 0, got -3.00' }]);
    // A mistyped run, model or table is said to be one, not answered with an empty, clean-looking result.
    expect(cli(['quarantine', '--project', dir, '--run', '20240101000000-nosuch']).stderr).toMatch(/no run '20240101000000-nosuch'\n  → `tributary runs` lists the runs/);
    expect(cli(['quarantine', '--project', dir, '--model', 'order']).stderr).toMatch(/no run of 'order' is recorded/);
    const compactTypo = cli(['compact', 'order', '--project', dir]);
    expect(compactTypo.code).toBe(1);
    expect(compactTypo.stderr).toMatch(/no table 'order' in the catalog/);

    const csv = cli(['sql', 'SELECT customer, amount FROM orders ORDER BY order_id LIMIT 2', '--project', dir, '--format', 'csv']);
    expect(csv.stdout.trim()).toBe('customer,amount\nada,19.90\ngrace,5.00');

    const catalog = cli(['catalog', 'orders', '--project', dir]);
    expect(catalog.stdout).toMatch(/dt=2024-05-01/);
    // The lineage section names each edge: the source feeds the lake model, which feeds the table.
    expect(catalog.stdout).toMatch(/^lineage:$/m);
    expect(catalog.stdout).toMatch(/^ {2}orders \(source\) → orders$/m);
    expect(catalog.stdout).toMatch(/^ {2}orders \(model\) → daily_revenue$/m);

    const runs = cli(['runs', '--project', dir]);
    expect(runs.stdout).toMatch(/success/);

    // Other engines read exactly the committed files: Iceberg metadata beside the table, and what registers it.
    const athena = cli(['catalog', 'orders', '--export', 'athena', '--location', 's3://shop-lake/orders', '--project', dir]);
    expect(athena.code, athena.stderr).toBe(0);
    const metadata = /"metadata_location":"s3:\/\/shop-lake\/orders\/metadata\/([^"]+\.metadata\.json)"/.exec(athena.stdout);
    expect(athena.stdout).toContain("aws glue create-table --database-name 'default' --table-input '{\"Name\":\"orders\"");
    expect(metadata, athena.stdout).not.toBeNull();
    const document = JSON.parse(readFileSync(path.join(dir, 'lake', 'orders', 'metadata', metadata![1]!), 'utf8')) as { location: string; snapshots: { 'manifest-list': string }[] };
    expect(document.location).toBe('s3://shop-lake/orders');
    expect(document.snapshots[0]!['manifest-list']).toMatch(/^s3:\/\/shop-lake\/orders\/metadata\/snap-/);
    const trino = cli(['catalog', 'orders', '--export', 'trino', '--table-format', 'symlink', '--project', dir]);
    expect(trino.code, trino.stderr).toBe(0);
    expect(trino.stdout).toMatch(/INPUTFORMAT 'org\.apache\.hadoop\.hive\.ql\.io\.SymlinkTextInputFormat'/);
    expect(trino.stdout).toMatch(/PARTITION \(`dt` = '2024-05-01'\) LOCATION '[^']+\/_symlink\/[^']+\/dt=2024-05-01'/);
    const misplaced = cli(['catalog', 'orders', '--snapshot', '1', '--project', dir]);
    expect(misplaced.code).toBe(1);
    expect(misplaced.stderr).toMatch(/--snapshot goes with --export/);
    const notLake = cli(['catalog', 'daily_revenue', '--export', 'spark', '--project', dir]);
    expect(notLake.code).toBe(1);
    expect(notLake.stderr).toMatch(/not a lake table/);
  });

  it('ad-hoc SQL is read-only: writes are refused with a reason', () => {
    const dir = path.join(tempDir(), 'ro');
    cli(['init', dir]);
    cli(['run', '--project', dir, '--quiet']);
    for (const statement of ['DELETE FROM daily_revenue', "INSERT INTO daily_revenue VALUES ('2024-01-01', 1, 1)", 'DROP TABLE daily_revenue', "COPY daily_revenue TO '/tmp/x.csv'"]) {
      const result = cli(['sql', statement, '--project', dir]);
      expect(result.code, statement).toBe(1);
      expect(result.stderr).toMatch(/refused: an? \w+ statement would change data/);
    }
    const still = cli(['sql', 'SELECT count(*) AS n FROM daily_revenue', '--project', dir, '--format', 'json']);
    expect(JSON.parse(still.stdout)).toEqual([{ n: '3' }]);
  });

  it('a table answer shows its first 1,000 rows and says there are more, cutting values a screen cannot hold; CSV gives every row and value whole', () => {
    const dir = path.join(tempDir(), 'big');
    cli(['init', dir]);
    const query = "SELECT i, repeat('x', 310) || i::VARCHAR AS long FROM range(1500) t(i)";
    const table = cli(['sql', query, '--project', dir]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines.at(-2)).toBe('(the first 1,000 rows of more: add a LIMIT, or ask for every row with --format csv or --format json)');
    expect(lines.at(-1)).toBe('(values longer than 300 characters end in …; --format csv or --format json gives them whole)');
    expect(lines.filter((l) => /^│ \d+ +│ x{300}… +│$/.test(l))).toHaveLength(1000);
    expect(table.stdout).toMatch(/│ 999 +│/);
    expect(table.stdout).not.toMatch(/│ 1000 +│/);
    const exact = cli(['sql', `${query} LIMIT 1000`, '--project', dir]);
    expect(exact.stdout.trimEnd().split('\n').at(-2)).toBe('(1,000 rows)');
    const csv = cli(['sql', query, '--project', dir, '--format', 'csv']);
    const rows = csv.stdout.trimEnd().split('\n');
    expect(csv.code, csv.stderr).toBe(0);
    expect(rows).toHaveLength(1501);
    expect(rows.at(-1)).toBe(`1499,${'x'.repeat(310)}1499`);
  });

  it('crawl infers and registers dropped files with their partitions and reports schema drift', () => {
    const project = path.join(tempDir(), 'p');
    cli(['init', project]);
    const drops = writeTree({
      'dt=2024-06-01/store_1.csv': 'store_id,sku,qty,price\n1,LEGO-1,2,9.99\n2,LEGO-2,1,19.99\n',
      'dt=2024-06-01/store_2.csv': 'store_id,sku,qty,price\n3,LEGO-1,5,9.99\n',
      'dt=2024-06-02/store_1.csv': 'store_id,sku,qty,price,promo\n1,LEGO-3,1,4.99,SPRING\n',
    });
    const first = cli(['crawl', drops, '--table', 'sales', '--project', project]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/sales: 3 csv file\(s\), 4 rows, 2 partition\(s\) by dt/);
    expect(first.stdout).toMatch(/schema drift at dt=2024-06-02: added promo VARCHAR/);
    const sum = cli(['sql', 'SELECT sum(qty) AS q, count(promo) AS p, count(DISTINCT dt) AS d FROM sales', '--project', project, '--format', 'json']);
    expect(JSON.parse(sum.stdout)).toEqual([{ q: '9', p: '1', d: '2' }]);
    const listed = cli(['catalog', '--project', project]);
    expect(listed.stdout).toMatch(/sales\s*│\s*external/);
    // A name SQL could reach only quoted, and no ref() at all, is refused before anything is read.
    const odd = cli(['crawl', drops, '--table', 'sales; 2', '--project', project]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain("table: expected a table name of letters, digits and _, not starting with a digit, got 'sales; 2'");
    expect(cli(['catalog', '--project', project]).stdout).not.toMatch(/sales; 2/);
  });

  it('produce --into-log, drain and sql run the stream path from the command line', () => {
    const dataDir = tempDir();
    const produced = cli(['produce', 'sample', '--into-log', '--project', CLICKSTREAM, '--data-dir', dataDir, '--count', '500', '--rate', '5000']);
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toMatch(/500 events appended to clickstream/);
    const drained = cli(['drain', '--project', CLICKSTREAM, '--data-dir', dataDir, '--json']);
    expect(drained.code, drained.stderr).toBe(0);
    expect(JSON.parse(drained.stdout).results.clickstream_live.events).toBe(500);
    const kpis = cli(['sql', 'SELECT operations FROM live_kpis', '--project', CLICKSTREAM, '--data-dir', dataDir, '--format', 'json']);
    expect(JSON.parse(kpis.stdout)).toEqual([{ operations: '500' }]);
  });

  it('drain of a project without a stream job fails instead of succeeding with nothing written', () => {
    const drained = cli(['drain', '--project', path.join(REPO, 'examples', 'sparkify'), '--data-dir', tempDir()]);
    expect(drained.code).not.toBe(0);
    expect(drained.stderr).toMatch(/has no stream job to drain/);
  });

  it('the compact_live job makes each partition of the stream-written table one file, every row kept', () => {
    const dataDir = tempDir();
    // Three drains, three commits: a file for each hour partition a drain's events fall in (the
    // drains may straddle an hour on the clock, so a partition may hold fewer than three).
    for (let round = 0; round < 3; round++) {
      expect(cli(['produce', 'sample', '--into-log', '--project', CLICKSTREAM, '--data-dir', dataDir, '--count', '200', '--rate', '5000']).code).toBe(0);
      expect(cli(['drain', '--project', CLICKSTREAM, '--data-dir', dataDir]).code).toBe(0);
    }
    const shape = () => {
      const rows = JSON.parse(
        cli(['sql', 'SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT (dt, hour)) AS partitions FROM events_raw', '--project', CLICKSTREAM, '--data-dir', dataDir, '--format', 'json']).stdout,
      )[0] as { n: string; ids: string; partitions: string };
      const tables = JSON.parse(cli(['catalog', '--project', CLICKSTREAM, '--data-dir', dataDir, '--format', 'json']).stdout) as { table: string; files: number | string }[];
      return { ...rows, files: String(tables.find((t) => t.table === 'events_raw')!.files) };
    };
    const before = shape();
    expect(before).toMatchObject({ n: '600', ids: '600' });
    expect(Number(before.files)).toBeGreaterThanOrEqual(3);
    expect(Number(before.files)).toBeGreaterThan(Number(before.partitions));
    const triggered = cli(['trigger', 'compact_live', '--project', CLICKSTREAM, '--data-dir', dataDir]);
    expect(triggered.code, triggered.stderr).toBe(0);
    expect(triggered.stderr).toMatch(/events_raw: \d+ partition\(s\) compacted, \d+ → \d+ files/);
    const after = shape();
    expect(after).toEqual({ ...before, files: before.partitions });
  });

  it('generate writes a CSV with the real file’s header and the requested rows', () => {
    const out = path.join(tempDir(), 'nov.csv');
    const run = cli(['generate', 'ecommerce', '--project', CLICKSTREAM, '--rows', '20000', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session');
    expect(lines).toHaveLength(20_001);
    expect(lines[1]).toMatch(/^2019-11-01 \d\d:\d\d:\d\d UTC,(view|cart|purchase),/);
  });

  it('generate refuses a --set option its generator does not read, before writing (ignored, it wrote the full 9 GB file)', () => {
    const out = path.join(tempDir(), 'nov.csv');
    const run = cli(['generate', 'ecommerce', '--project', CLICKSTREAM, '--set', 'rows=20000', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("generator 'ecommerce' has no option 'rows'");
    expect(run.stderr).toContain('its --set options: sample (the real rows the data is learned from');
    expect(run.stderr).toContain('how much it writes is --size');
    expect(existsSync(out)).toBe(false);
    const sample = cli(['generate', 'ecommerce', '--project', CLICKSTREAM, '--set', `sample=${path.join(CLICKSTREAM, 'data', '2019-Nov-sample.csv')}`, '--rows', '10', '--out', out]);
    expect(sample.code, sample.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(11);
  });
});
