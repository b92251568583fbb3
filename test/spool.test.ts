import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spoolInput } from '../src/connectors/inputs/spool.js';
import { Log } from '../src/log/index.js';
import { BatchWriter } from '../src/stream/microbatch.js';
import { CLI, lastStaged, LOYALTY_CUSTOMERS, openProject, REPO, tempDir, writeTree } from './helpers.js';
import { runWorker, type WorkerResult } from './stream-helpers.js';

/**
 * The spool-directory input, end to end through the CLI's `drain` in child processes: the loyalty
 * system's order lines (`customer_id|menu|unix_seconds`, real customer ids) dropped into a folder
 * or appended to a file, typed by the stream's columns, committed exactly once to a lake table, a
 * serving table and a merged total, with malformed lines as dead letters naming file and line.
 * Every expectation is recounted from the files on disk, not from what Tributary reports.
 */

/** mulberry32: a small seeded PRNG, so every run writes the same files. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CUSTOMER_IDS = readFileSync(LOYALTY_CUSTOMERS, 'utf8')
  .trim()
  .split('\n')
  .map((line) => line.split(',')[0]!);
const MENU = ['espresso', 'cappucino', 'mocha', 'latte', 'chocolate', 'greentea'];
const FIELDS = ['customer_id', 'menu', 'unix_seconds'];

/** The speed layer's order lines; seconds only move forward, so every line is unique. */
class Orders {
  private clock = 1_700_000_000;
  constructor(private readonly random: () => number) {}

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }

  line(): string {
    this.clock += 1 + Math.floor(this.random() * 30);
    return `${this.pick(CUSTOMER_IDS)}|${this.pick(MENU)}|${this.clock}`;
  }

  lines(count: number): string[] {
    return Array.from({ length: count }, () => this.line());
  }

  /** What a broken writer leaves: a field missing, one too many, or a customer id that is not a number. */
  malformed(): string {
    const [id, menu, seconds] = this.line().split('|');
    const kind = Math.floor(this.random() * 3);
    if (kind === 0) return `${id}|${menu}`;
    if (kind === 1) return `${id}|${menu}|${seconds}|${this.pick(MENU)}`;
    return `c${id}|${menu}|${seconds}`;
  }
}

const text = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join('');

/** A writer's atomic drop: a hidden temporary file, renamed into place when complete. */
function drop(folder: string, name: string, lines: readonly string[]): void {
  const temporary = path.join(folder, `.${name}.tmp`);
  writeFileSync(temporary, text(lines));
  renameSync(temporary, path.join(folder, name));
}

function project(input: Record<string, unknown>, columns: Record<string, unknown> = {}): string {
  const dir = writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'spool_orders',
  models: {
    orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'ephemeral' },
    spend: { sql: "SELECT customer_id, count(*) AS orders FROM {{ source('orders') }} GROUP BY 1", materialize: 'ephemeral' },
  },
  streams: {
    orders: {
      input: ${JSON.stringify({ kind: 'spool', dir: 'incoming', ...input })},
      binds: 'orders',
      columns: ${JSON.stringify({ customer_id: 'BIGINT', menu: 'VARCHAR', ordered_at: { type: 'TIMESTAMP', key: 'unix_seconds', from: 'epoch_s' }, ...columns })},
      triggerMs: 0,
      sinks: {
        lake: { kind: 'lake', tables: { orders_raw: { model: 'orders' } } },
        serving: { kind: 'duckdb', tables: { orders: { model: 'orders' }, spend: { model: 'spend', materialize: { kind: 'merge', keys: ['customer_id'] } } } },
      },
    },
  },
});
`,
  });
  mkdirSync(path.join(dir, 'incoming'));
  return dir;
}

const DELIMITED = { pattern: 'orders-*.txt', format: { delimiter: '|', fields: FIELDS } };

interface Expected {
  /** Good order lines, sorted. */
  orders: string[];
  /** Dead letters as `reason → raw`, sorted. */
  dead: string[];
  /** Orders per customer id. */
  perCustomer: Record<string, number>;
  /** Lines that are events (good or not). */
  events: number;
}

/**
 * The files' content parsed here, independently: complete lines only, blank lines skipped, three
 * fields or a dead letter naming file and line, a customer id that is not a number refused by its
 * type. `originalName` maps a name on disk back to the name the file was dropped under.
 */
function recount(folders: string[], originalName: (name: string) => string = (name) => name): Expected {
  const expected: Expected = { orders: [], dead: [], perCustomer: {}, events: 0 };
  for (const folder of folders) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder).sort()) {
      if (name.startsWith('.') || !name.startsWith('orders-')) continue;
      const lines = readFileSync(path.join(folder, name), 'utf8').split('\n');
      lines.pop(); // after the last newline: empty, or a line still being written
      lines.forEach((raw, i) => {
        const line = raw.replace(/\r$/, '');
        if (!line.trim()) return;
        expected.events++;
        const fields = line.split('|');
        if (line.includes('\uFFFD')) {
          expected.dead.push(`${originalName(name)}:${i + 1}: not UTF-8 text → ${line}`);
        } else if (fields.length !== 3) {
          expected.dead.push(`${originalName(name)}:${i + 1}: expected 3 fields separated by '|', got ${fields.length} → ${line}`);
        } else if (!/^\d+$/.test(fields[0]!)) {
          const [customer_id, menu, unix_seconds] = fields;
          expected.dead.push(`customer_id: expected BIGINT, got ${customer_id} → ${JSON.stringify({ customer_id, menu, unix_seconds })}`);
        } else {
          expected.orders.push(line);
          expected.perCustomer[fields[0]!] = (expected.perCustomer[fields[0]!] ?? 0) + 1;
        }
      });
    }
  }
  expected.orders.sort();
  expected.dead.sort();
  return expected;
}

/** What the sinks hold, in the same shape. */
async function committed(projectDir: string, dataDir: string) {
  const ws = await openProject(projectDir, { dataDir });
  try {
    const lines = async (table: string) =>
      (await ws.engine.queryJson(`SELECT customer_id || '|' || menu || '|' || CAST(epoch(ordered_at) AS BIGINT) AS line FROM ${table}`)).map((r) => String(r.line)).sort();
    const spend = await ws.engine.queryJson('SELECT customer_id, orders FROM spend');
    const dead = await ws.engine.queryJson(`SELECT reason, raw, partition, "offset" FROM tributary.dead_letters ORDER BY partition, "offset"`);
    const offsets = await ws.engine.queryJson(`SELECT partition, next_offset FROM tributary.stream_offsets WHERE sink = 'serving' ORDER BY partition`);
    return {
      orders: await lines('orders'),
      raw: await lines('orders_raw'),
      perCustomer: Object.fromEntries(spend.map((r) => [String(r.customer_id), Number(r.orders)])),
      dead: dead.map((r) => `${r.reason} → ${r.raw}`).sort(),
      deadRows: dead,
      offsets: offsets.map((r) => [Number(r.partition), Number(r.next_offset)]),
    };
  } finally {
    ws.close();
  }
}

async function expectExactlyOnce(projectDir: string, dataDir: string, expected: Expected): Promise<void> {
  const got = await committed(projectDir, dataDir);
  expect(got.orders.length).toBe(expected.orders.length);
  expect(got.orders).toEqual(expected.orders);
  expect(got.raw).toEqual(expected.orders);
  expect(got.perCustomer).toEqual(expected.perCustomer);
  expect(got.dead).toEqual(expected.dead);
}

function drain(projectDir: string, dataDir: string, options: { failpoint?: string; maxBatch?: number } = {}): WorkerResult {
  const run = runWorker(projectDir, dataDir, options);
  if (!options.failpoint) expect(run.code, run.stderr).toBe(0);
  return run;
}

const registryOf = (dataDir: string) =>
  JSON.parse(readFileSync(path.join(dataDir, 'state', 'stream', 'orders', 'spool-registry.json'), 'utf8')) as {
    lanes: number[];
    files: { name: string; partition: number; state: string }[];
  };

describe('spool-directory input', () => {
  it('reads files as they appear and lines as they are appended, waits for a half-written line, skips hidden files, and makes malformed lines dead letters', async () => {
    const orders = new Orders(mulberry32(17));
    const dir = project({ ...DELIMITED, completed: { action: 'keep', quietSeconds: 3600 } });
    const incoming = path.join(dir, 'incoming');
    const dataDir = tempDir();

    // A dropped file with a blank line, a line with a field missing (line 12) and a customer id
    // that is not a number (line 20); a file a writer appends to, its last line half-written; a
    // writer's hidden temporary file; a file the pattern does not name.
    const first = orders.lines(39);
    first.splice(11, 0, '117|latte');
    first.splice(12, 0, '');
    first.splice(19, 0, 'x17|mocha|1700000123');
    drop(incoming, 'orders-1700000000.txt', first);
    const appended = orders.lines(15);
    const [halfId, halfMenu, halfSeconds] = orders.line().split('|');
    writeFileSync(path.join(incoming, 'orders-1700000600.txt'), `${text(appended)}${halfId}|${halfMenu!.slice(0, 2)}`);
    writeFileSync(path.join(incoming, '.orders-1700001200.txt.tmp'), text(orders.lines(10)));
    writeFileSync(path.join(incoming, 'README.md'), 'order lines land here\n');

    const run = drain(dir, dataDir);
    const expected = recount([incoming]);
    expect(expected.orders.length).toBe(39 + 15);
    expect(run.output!.status[0]).toMatchObject({ events: expected.events, deadLetters: 2, lag: 0 });
    await expectExactlyOnce(dir, dataDir, expected);
    const { deadRows } = await committed(dir, dataDir);
    expect(deadRows).toEqual([
      { reason: "orders-1700000000.txt:12: expected 3 fields separated by '|', got 2", raw: '117|latte', partition: 0, offset: '11' },
      // Refused by its type in the micro-batch: partition and offset (the line index) name the place.
      { reason: 'customer_id: expected BIGINT, got x17', raw: '{"customer_id":"x17","menu":"mocha","unix_seconds":"1700000123"}', partition: 0, offset: '19' },
    ]);

    // The half-written line is finished and more appended; the temporary file is renamed into
    // place; another file arrives, with a field too many on its line 5, and a line in Latin-1
    // appended to it.
    appendFileSync(path.join(incoming, 'orders-1700000600.txt'), `${halfMenu!.slice(2)}|${halfSeconds}\n${text(orders.lines(5))}`);
    renameSync(path.join(incoming, '.orders-1700001200.txt.tmp'), path.join(incoming, 'orders-1700001200.txt'));
    const fourth = orders.lines(19);
    fourth.splice(4, 0, `${CUSTOMER_IDS[3]}|latte|1700000999|espresso`);
    drop(incoming, 'orders-1700001800.txt', fourth);
    appendFileSync(path.join(incoming, 'orders-1700001800.txt'), Buffer.from(`${CUSTOMER_IDS[4]}|café|1700001999\n`, 'latin1'));

    drain(dir, dataDir);
    const all = recount([incoming]);
    expect(all.orders.length).toBe(39 + 15 + 1 + 5 + 10 + 19);
    expect(all.dead).toContain(`orders-1700001800.txt:5: expected 3 fields separated by '|', got 4 → ${fourth[4]}`);
    expect(all.dead).toContain(`orders-1700001800.txt:21: not UTF-8 text → ${CUSTOMER_IDS[4]}|caf\uFFFD|1700001999`);
    await expectExactlyOnce(dir, dataDir, all);
    // Nothing is complete while files may still grow (quietSeconds is an hour): all stay, each on its own lane.
    expect(readdirSync(incoming).sort()).toEqual(['README.md', 'orders-1700000000.txt', 'orders-1700000600.txt', 'orders-1700001200.txt', 'orders-1700001800.txt']);
    expect(registryOf(dataDir).files.map((f) => [f.name, f.partition, f.state])).toEqual([
      ['orders-1700000000.txt', 0, 'active'],
      ['orders-1700000600.txt', 1, 'active'],
      ['orders-1700001200.txt', 2, 'active'],
      ['orders-1700001800.txt', 3, 'active'],
    ]);
  });

  it('renames a completed file once every sink has committed its last line; a file still missing its newline is not complete', async () => {
    const orders = new Orders(mulberry32(29));
    const dir = project({ ...DELIMITED, completed: { action: 'rename', suffix: '.done', quietSeconds: 0 } });
    const incoming = path.join(dir, 'incoming');
    const dataDir = tempDir();
    drop(incoming, 'orders-a.txt', orders.lines(30));
    const half = orders.line();
    writeFileSync(path.join(incoming, 'orders-b.txt'), `${text(orders.lines(10))}${half.slice(0, 5)}`);

    drain(dir, dataDir);
    expect(readdirSync(incoming).sort()).toEqual(['orders-a.txt.done', 'orders-b.txt']);
    const original = (name: string) => name.replace(/(\.\d+)?\.done$/, '');
    await expectExactlyOnce(dir, dataDir, recount([incoming], original));

    // b gets its newline; a new file arrives under the completed file's old name, and another.
    appendFileSync(path.join(incoming, 'orders-b.txt'), `${half.slice(5)}\n`);
    drop(incoming, 'orders-a.txt', orders.lines(12));
    drop(incoming, 'orders-c.txt', orders.lines(8));
    drain(dir, dataDir);
    // The new orders-a.txt does not overwrite the earlier one: its discovery number tells them apart.
    expect(readdirSync(incoming).sort()).toEqual(['orders-a.txt.2.done', 'orders-a.txt.done', 'orders-b.txt.done', 'orders-c.txt.done']);
    const expected = recount([incoming], original);
    expect(expected.orders.length).toBe(30 + 11 + 12 + 8);
    await expectExactlyOnce(dir, dataDir, expected);
    // Lanes are reused: the second orders-a.txt continued lane 0 after the first one's 30 lines.
    expect((await committed(dir, dataDir)).offsets).toEqual([
      [0, 42],
      [1, 11],
      [2, 8],
    ]);
    expect(registryOf(dataDir).files).toEqual([]);
  });

  it('moves completed files into another folder', async () => {
    const orders = new Orders(mulberry32(31));
    // quietSeconds is left at its default, a minute: files last written two minutes ago are quiet.
    const dir = project({ ...DELIMITED, completed: { action: 'move', to: 'archive' } });
    const incoming = path.join(dir, 'incoming');
    const dataDir = tempDir();
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    for (const name of ['orders-1.txt', 'orders-2.txt']) {
      drop(incoming, name, orders.lines(25));
      utimesSync(path.join(incoming, name), twoMinutesAgo, twoMinutesAgo);
    }
    drop(incoming, 'orders-3.txt', orders.lines(5));

    drain(dir, dataDir);
    expect(readdirSync(path.join(dir, 'archive')).sort()).toEqual(['orders-1.txt', 'orders-2.txt']);
    // orders-3.txt was written just now: it may still grow, so it stays (and its lines are in).
    expect(readdirSync(incoming)).toEqual(['orders-3.txt']);
    const expected = recount([incoming, path.join(dir, 'archive')]);
    expect(expected.orders.length).toBe(55);
    await expectExactlyOnce(dir, dataDir, expected);
  });

  it('a move a crash held up never goes over a file that came to its target, and a file that grew meanwhile is read to its end first', async () => {
    const orders = new Orders(mulberry32(37));
    const dir = project({ ...DELIMITED, completed: { action: 'move', to: 'archive', quietSeconds: 0 } });
    const incoming = path.join(dir, 'incoming');
    const archive = path.join(dir, 'archive');
    const dataDir = tempDir();
    /** A drain killed once every line is committed and the file is found complete, before it moves. */
    const crashBeforeMove = (name: string) => {
      const crashed = drain(dir, dataDir, { failpoint: 'spool:before-move@1' });
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      expect(registryOf(dataDir).files.map((f) => [f.name, f.state])).toEqual([[name, 'completing']]);
    };

    // Someone puts a file of the same name where the first file was going.
    drop(incoming, 'orders-1.txt', orders.lines(30));
    crashBeforeMove('orders-1.txt');
    writeFileSync(path.join(archive, 'orders-1.txt'), 'kept by hand\n');
    drain(dir, dataDir);
    expect(readdirSync(archive).sort()).toEqual(['orders-1.txt', 'orders-1.txt.0']);
    expect(readFileSync(path.join(archive, 'orders-1.txt'), 'utf8')).toBe('kept by hand\n');

    // The second file's writer, seeing it still in the folder, appends to it.
    drop(incoming, 'orders-2.txt', orders.lines(20));
    crashBeforeMove('orders-2.txt');
    appendFileSync(path.join(incoming, 'orders-2.txt'), text(orders.lines(12)));
    drain(dir, dataDir);
    expect(readdirSync(archive).sort()).toEqual(['orders-1.txt', 'orders-1.txt.0', 'orders-2.txt']);

    rmSync(path.join(archive, 'orders-1.txt'));
    const expected = recount([archive], (name) => name.replace(/\.0$/, ''));
    expect(expected.orders.length).toBe(30 + 20 + 12);
    await expectExactlyOnce(dir, dataDir, expected);
    expect(registryOf(dataDir).files).toEqual([]);
  });

  it('passes JSON lines as they are; a line that is not an object is a dead letter with file and line', async () => {
    const dir = project({ pattern: '*.jsonl', format: 'jsonl' });
    const incoming = path.join(dir, 'incoming');
    const dataDir = tempDir();
    const rows = [
      '{"customer_id": 117, "menu": "latte", "unix_seconds": 1700000000}',
      ' {"customer_id":"5012","menu":"mocha","unix_seconds":"1700000060"}\r',
      '',
      '117,latte,1700000120',
      '{"customer_id": 118.5, "menu": "greentea", "unix_seconds": 1700000180}',
      '{"customer_id": 2246, "menu": "espresso", "unix_seconds": 1700000240, "store": 3}',
    ];
    drop(incoming, 'orders-1700000000.jsonl', rows);
    drain(dir, dataDir);
    const got = await committed(dir, dataDir);
    expect(got.orders).toEqual(['117|latte|1700000000', '2246|espresso|1700000240', '5012|mocha|1700000060']);
    expect(got.deadRows).toEqual([
      { reason: 'orders-1700000000.jsonl:4: expected one JSON object per line', raw: '117,latte,1700000120', partition: 0, offset: '3' },
      { reason: 'customer_id: expected BIGINT, got 118.5', raw: rows[4], partition: 0, offset: '4' },
    ]);
  });

  it('every line of every file exactly once, and every dead letter once, through kill -9 at failpoints and at moments set by the job’s progress', async () => {
    const random = mulberry32(2024);
    const orders = new Orders(random);
    const dir = project({ ...DELIMITED, completed: { action: 'move', to: 'archive', quietSeconds: 0 } });
    const incoming = path.join(dir, 'incoming');
    const archive = path.join(dir, 'archive');
    const dataDir = tempDir();
    let files = 0;
    /** A file of order lines with the odd malformed or blank line, dropped into place. */
    const dropOne = () => {
      const lines = orders.lines(400 + Math.floor(random() * 800));
      for (let k = 0; k < 4; k++) lines.splice(Math.floor(random() * lines.length), 0, random() < 0.75 ? orders.malformed() : '');
      drop(incoming, `orders-${String(files++).padStart(3, '0')}.txt`, lines);
    };
    /** A file a writer appends to between runs, often leaving its last line half-written. */
    let tail = { name: '', pending: '' };
    const appendToTail = () => {
      if (!tail.name || !existsSync(path.join(incoming, tail.name))) tail = { name: `orders-tail-${files++}.txt`, pending: '' };
      const next = orders.line();
      const cut = random() < 0.5 ? 0 : 1 + Math.floor(random() * (next.length - 1));
      appendFileSync(path.join(incoming, tail.name), `${tail.pending}${text(orders.lines(50 + Math.floor(random() * 150)))}${cut ? next.slice(0, cut) : ''}`);
      tail.pending = cut ? `${next.slice(cut)}\n` : '';
    };
    for (let i = 0; i < 6; i++) dropOne();
    appendToTail();

    // Batches of 400 lines: each run dies at the named instant of a later batch or move.
    const failpoints = [
      'before-sink:lake@3',
      'after-sink:lake@2',
      'before-sink:serving@4',
      'after-sink:serving@2',
      'before-sink:__dead_letters@3',
      'after-sink:__dead_letters@2',
      'spool:before-move@1',
      'spool:after-move@2',
    ];
    for (const failpoint of failpoints) {
      const crashed = drain(dir, dataDir, { failpoint, maxBatch: 400 });
      expect(crashed.signal, `${failpoint}: ${crashed.stderr}`).toBe('SIGKILL');
      dropOne();
      appendToTail();
    }

    // Ten SIGKILLs at moments set by the job's own progress (after its first or second batch
    // committed, as it stages the next), while files keep arriving. A drain that runs out of lines
    // first ends cleanly and does not count; the deadline on the drains is against hangs only.
    for (let kills = 0, drains = 0; kills < 10; drains++) {
      if (drains === 40) throw new Error(`only ${kills} of 40 drains reached their kill moment`);
      const result = await killDuringDrain(dir, dataDir, 1 + Math.floor(random() * 2), dropOne);
      if (result.killed) kills++;
      else expect(result.code, result.stderr).toBe(0);
      dropOne();
      appendToTail();
    }

    // The writer finishes its last line; clean runs until every file is complete and moved.
    appendFileSync(path.join(incoming, tail.name), tail.pending);
    for (let run = 0; run < 3 && readdirSync(incoming).some((name) => !name.startsWith('.')); run++) drain(dir, dataDir, { maxBatch: 400 });
    expect(readdirSync(incoming).filter((name) => !name.startsWith('.'))).toEqual([]);
    const expected = recount([incoming, archive]);
    expect(readdirSync(archive).length).toBe(files);
    expect(expected.orders.length).toBeGreaterThan(20_000);
    expect(expected.dead.length).toBeGreaterThan(50);
    await expectExactlyOnce(dir, dataDir, expected);
    expect(registryOf(dataDir).files).toEqual([]);
    // Each killed drain left its scratch file; the next drain removed them, and a clean one its own.
    expect(readdirSync(path.join(dataDir, 'state', 'stream', 'orders')).filter((f) => f.startsWith('batch-'))).toEqual([]);
  }, 600_000);
});

/**
 * The input on its own, as a job drives it: each read starts where the previous batch ended, and
 * the staged batch is read back from its scratch file (each line the event's JSON object with
 * `__p`, `__o` in front).
 */
async function readDirectly(dir: string, input: Record<string, unknown>, committed: ReadonlyMap<number, number> = new Map()) {
  const log = new Log(path.join(dir, 'log'));
  const stream = await spoolInput.create(spoolInput.config.parse({ kind: 'spool', dir: 'incoming', ...input }), {
    job: 'orders',
    log,
    baseDir: dir,
    stateDir: path.join(dir, 'state'),
  });
  const writer = new BatchWriter();
  const positions = new Map(committed);
  return {
    positions,
    async batch(): Promise<Record<string, unknown>[]> {
      writer.reset();
      await stream.read(positions, 1000, writer);
      const staged = writer.finish(path.join(dir, 'batch.txt'));
      for (const [p, range] of staged.ranges) positions.set(p, range.last + 1);
      const lines = readFileSync(staged.file, 'utf8').split('\n').filter(Boolean);
      return lines.map((line) => {
        const { __ts, ...record } = JSON.parse(line) as Record<string, unknown>;
        return record;
      });
    },
    lag: () => stream.lag(positions),
    close: async () => {
      await stream.close();
      log.close();
    },
  };
}

describe('spool input, read directly', () => {
  it('one reader per folder: a folder another live process reads (here or on another host) is refused with who; a dead reader’s lock is taken over', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'incoming'));
    writeFileSync(path.join(dir, 'incoming', 'orders-1.txt'), '1,latte\n');
    const lock = path.join(dir, 'incoming', '.tributary-reader.lock');
    const format = { format: { delimiter: ',', fields: ['customer_id', 'menu'] } };
    writeFileSync(lock, `${hostname()}\n${process.ppid}`);
    await expect(readDirectly(dir, format)).rejects.toThrow(`spool folder ${path.join(dir, 'incoming')} is read by process ${process.ppid} on ${hostname()}`);
    writeFileSync(lock, `another-host\n${process.pid}`);
    await expect(readDirectly(dir, format)).rejects.toThrow(`is read by process ${process.pid} on another-host`);
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lock, `${hostname()}\n${gone}`);
    const input = await readDirectly(dir, format);
    try {
      expect(readFileSync(lock, 'utf8')).toBe(`${hostname()}\n${process.pid}`);
      expect(await input.batch()).toEqual([{ __p: 0, __o: 0, customer_id: '1', menu: 'latte' }]);
    } finally {
      await input.close();
    }
    expect(existsSync(lock)).toBe(false);
  });

  it('completed files cannot move into the folder they are read from', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'incoming'));
    const input = { format: { delimiter: ',', fields: ['customer_id', 'menu'] } };
    const refusal = `spool folder ${path.join(dir, 'incoming')} is also where its completed files move: they would be read again, as new files`;
    await expect(readDirectly(dir, { ...input, completed: { action: 'move', to: './incoming/' } })).rejects.toThrow(refusal);
    symlinkSync(path.join(dir, 'incoming'), path.join(dir, 'link'));
    await expect(readDirectly(dir, { ...input, completed: { action: 'move', to: 'link' } })).rejects.toThrow(refusal);
    // A subfolder is never read: files may move there.
    const reader = await readDirectly(dir, { ...input, completed: { action: 'move', to: 'incoming/done' } });
    try {
      expect(statSync(path.join(dir, 'incoming', 'done')).isDirectory()).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('splits at a delimiter of several characters and writes each value as JSON text, whatever it holds', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'incoming'));
    // A byte-order mark, Windows line ends, quotes, a backslash, a tab and a lone '|' inside values.
    const content = '\ufeff117||latte||no "foam"\r\n2246||mo|cha||C:\\menu\tlarge\r\n\r\n5||greentea||\r\n';
    writeFileSync(path.join(dir, 'incoming', 'orders-1.txt'), content);
    const input = await readDirectly(dir, { format: { delimiter: '||', fields: ['customer_id', 'menu', 'note'] } });
    try {
      expect(await input.batch()).toEqual([
        { __p: 0, __o: 0, customer_id: '117', menu: 'latte', note: 'no "foam"' },
        { __p: 0, __o: 1, customer_id: '2246', menu: 'mo|cha', note: 'C:\\menu\tlarge' },
        // Line 3 is blank: no event, but it keeps its place, so offsets stay line indexes.
        { __p: 0, __o: 3, customer_id: '5', menu: 'greentea', note: '' },
      ]);
      expect(await input.lag()).toBe(0);
    } finally {
      await input.close();
    }
  });

  it('follows a file its writer rotates to another name, and reads the new file on a lane of its own', async () => {
    const dir = tempDir();
    const incoming = path.join(dir, 'incoming');
    mkdirSync(incoming);
    const orders = new Orders(mulberry32(5));
    const before = orders.lines(3);
    writeFileSync(path.join(incoming, 'orders.log'), text(before));
    const input = await readDirectly(dir, { pattern: '*.log', format: { delimiter: '|', fields: FIELDS } });
    try {
      expect((await input.batch()).map((r) => [r.__p, r.__o])).toEqual([
        [0, 0],
        [0, 1],
        [0, 2],
      ]);
      // Rotation: the file moves out of the pattern's reach and still gets lines; a new one takes its name.
      const after = orders.lines(2);
      renameSync(path.join(incoming, 'orders.log'), path.join(incoming, 'orders.log.1'));
      appendFileSync(path.join(incoming, 'orders.log.1'), text(after));
      const fresh = orders.line();
      writeFileSync(path.join(incoming, 'orders.log'), text([fresh]));
      const unix = (line: string) => line.split('|')[2];
      expect((await input.batch()).map((r) => [r.__p, r.__o, r.unix_seconds])).toEqual([
        [0, 3, unix(after[0]!)],
        [0, 4, unix(after[1]!)],
        [1, 0, unix(fresh)],
      ]);
      expect(await input.lag()).toBe(0);
      const registry = JSON.parse(readFileSync(path.join(dir, 'state', 'spool-registry.json'), 'utf8')) as { files: { name: string; path: string }[] };
      expect(registry.files.map((f) => [f.name, f.path])).toEqual([
        ['orders.log', path.join('incoming', 'orders.log.1')],
        ['orders.log', path.join('incoming', 'orders.log')],
      ]);
    } finally {
      await input.close();
    }
  });

  it('a file deleted while the job is down retires its lane: a new file never starts at offsets a sink may have committed', async () => {
    const dir = tempDir();
    const incoming = path.join(dir, 'incoming');
    mkdirSync(incoming);
    const orders = new Orders(mulberry32(11));
    const format = { format: { delimiter: '|', fields: FIELDS } };
    writeFileSync(path.join(incoming, 'orders-1.txt'), text(orders.lines(3)));
    const before = await readDirectly(dir, format);
    expect(await before.batch()).toHaveLength(3);
    await before.close();

    // Down: the file is deleted and another arrives. The restarted input cannot count the lost
    // file's lines, so lane 0 might hold committed offsets anywhere: the new file takes lane 1.
    rmSync(path.join(incoming, 'orders-1.txt'));
    writeFileSync(path.join(incoming, 'orders-2.txt'), text(orders.lines(4)));
    const after = await readDirectly(dir, format, before.positions);
    try {
      expect((await after.batch()).map((r) => [r.__p, r.__o])).toEqual([
        [1, 0],
        [1, 1],
        [1, 2],
        [1, 3],
      ]);
      const registry = JSON.parse(readFileSync(path.join(dir, 'state', 'spool-registry.json'), 'utf8')) as { lanes: (number | null)[] };
      expect(registry.lanes).toEqual([null, 0]);
    } finally {
      await after.close();
    }
  });
});

/** The Parquet files of the lake table orders_raw: each batch the lake sink commits publishes one. */
function lakeFiles(dataDir: string): string[] {
  const table = path.join(dataDir, 'lake', 'orders_raw');
  return existsSync(table) ? readdirSync(table, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) : [];
}

/**
 * Runs `drain` and SIGKILLs it at a moment set by what it has done, seen from outside: once the
 * lake sink has published `commits` files it had not before (batches committed by this run), a
 * file is dropped into the folder, and the kill lands as the job stages its next batch (its
 * scratch file rewritten), in the middle of the work. A drain that runs out of lines before that
 * moment ends by itself: `killed` is false.
 */
async function killDuringDrain(projectDir: string, dataDir: string, commits: number, dropOne: () => void): Promise<{ killed: boolean; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const args = [CLI, 'drain', '--project', projectDir, '--data-dir', dataDir, '--max-batch', '400'];
  const before = new Set(lakeFiles(dataDir));
  const staged = () => lastStaged(dataDir, 'orders');
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, TRIBUTARY_FAILPOINT: '' } });
  let stderr = '';
  let exited = false;
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('exit', () => (exited = true));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  // Deadlines against hangs only: the moments are conditions.
  await expect.poll(() => exited || lakeFiles(dataDir).filter((f) => !before.has(f)).length >= commits, { interval: 5, timeout: 120_000 }).toBe(true);
  if (!exited) {
    dropOne();
    const stagedAt = staged();
    await expect.poll(() => exited || staged() !== stagedAt, { interval: 5, timeout: 120_000 }).toBe(true);
    child.kill('SIGKILL');
  }
  const { code, signal } = await closed;
  return { killed: signal === 'SIGKILL', code, signal, stderr };
}
