import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { logInput } from '../src/connectors/inputs/log.js';
import type { RecordSink } from '../src/connectors/inputs/types.js';
import { Log, hashKey, hotKeyPartitioner } from '../src/log/index.js';
import { REPO, tempDir } from './helpers.js';
import { requireService } from './services.js';

const values = (n: number, tag = 'v') => Array.from({ length: n }, (_, i) => ({ key: `key-${i % 13}`, value: JSON.stringify({ tag, i }) }));

function readAll(log: Log, topic: string): string[] {
  const t = log.topic(topic);
  const out: string[] = [];
  for (const p of t.partitions) {
    let offset = p.startOffset;
    for (;;) {
      const records = p.read(offset, 1 << 20);
      if (!records.length) break;
      out.push(...records.map((r) => r.value.toString()));
      offset = records[records.length - 1]!.offset + 1;
    }
  }
  return out;
}

describe('embedded log', () => {
  it('appends in batches, keeps per-key order in one partition, and reads back every record after reopening', () => {
    const root = tempDir();
    const log = new Log(root);
    const topic = log.topic('events', { partitions: 3, segmentBytes: 16 * 1024 });
    for (let b = 0; b < 20; b++) topic.append(values(500, `b${b}`));
    expect(topic.endOffsets().reduce((a, b) => a + b, 0)).toBe(10_000);
    // Small segments: the data spans many files, and reads cross them.
    expect(readdirSync(path.join(root, 'events', '0')).filter((f) => f.endsWith('.log')).length).toBeGreaterThan(3);
    const byKey = new Map<string, number>();
    for (const p of topic.partitions) {
      for (const r of p.read(0, 64 << 20)) {
        const key = r.key!.toString();
        expect(hashKey(key) % 3).toBe(p.id);
        byKey.set(key, (byKey.get(key) ?? 0) + 1);
      }
    }
    expect([...byKey.values()].reduce((a, b) => a + b, 0)).toBe(10_000);
    log.close();
    const reopened = new Log(root);
    expect(readAll(reopened, 'events').length).toBe(10_000);
    expect(reopened.topic('events').endOffsets()).toEqual(topic.endOffsets());
    reopened.close();
  });

  it('a record can be read from any offset, including mid-segment after reopening', () => {
    const root = tempDir();
    let log = new Log(root);
    log.topic('t', { partitions: 1, segmentBytes: 256 * 1024 }).append(values(20_000));
    log.close();
    log = new Log(root);
    const p = log.topic('t').partitions[0]!;
    for (const offset of [0, 1, 4095, 4096, 12_345, 19_999]) {
      const [first] = p.read(offset, 1024);
      expect(first!.offset).toBe(offset);
      expect(JSON.parse(first!.value.toString()).i).toBe(offset);
    }
    log.close();
  });

  it('cuts a torn tail left by a crash and carries on from the last whole record', () => {
    const root = tempDir();
    let log = new Log(root);
    log.topic('t', { partitions: 1 }).append(values(100));
    log.close();
    const segment = path.join(root, 't', '0', `${'0'.repeat(20)}.log`);
    const whole = statSync(segment).size;
    appendFileSync(segment, Buffer.from([200, 0, 0, 0, 1, 2, 3])); // a record cut short
    log = new Log(root);
    const topic = log.topic('t');
    expect(topic.recoveredBytes).toBe(7);
    expect(statSync(segment).size).toBe(whole);
    expect(topic.endOffsets()).toEqual([100]);
    topic.append(values(1, 'after'));
    expect(JSON.parse(topic.read(0, 100, 1 << 20)[0]!.value.toString()).tag).toBe('after');
    log.close();
  });

  it('a torn append is cut whole (it was never acknowledged); the appends before it stay', () => {
    const root = tempDir();
    let log = new Log(root);
    log.topic('t', { partitions: 1 }).append(values(10));
    log.topic('t').append(values(5, 'torn'));
    log.close();
    const segment = path.join(root, 't', '0', `${'0'.repeat(20)}.log`);
    truncateSync(segment, statSync(segment).size - 3); // the last append loses its end
    log = new Log(root);
    expect(log.topic('t').endOffsets()).toEqual([10]);
    expect(readAll(log, 't').some((v) => v.includes('torn'))).toBe(false);
    log.close();
  });

  it('an append whose bytes changed on disk (bad checksum) is cut with everything after it', () => {
    const root = tempDir();
    let log = new Log(root);
    log.topic('t', { partitions: 1 }).append(values(10));
    log.topic('t').append(values(10, 'second'));
    log.topic('t').append(values(10, 'third'));
    log.close();
    const segment = path.join(root, 't', '0', `${'0'.repeat(20)}.log`);
    const bytes = readFileSync(segment);
    const at = bytes.indexOf('"second"');
    bytes[at + 1] = 'S'.charCodeAt(0);
    writeFileSync(segment, bytes);
    log = new Log(root);
    expect(log.topic('t').endOffsets()).toEqual([10]);
    log.close();
  });

  it('reads and recovers a segment written before appends were framed, record by record, and appends frames after it', () => {
    const root = tempDir();
    let log = new Log(root);
    log.topic('t', { partitions: 1 });
    log.close();
    // Records as the log wrote them before frames: u32 body length, u32 CRC-32 of the body, body.
    const unframed = (offset: number, value: string) => {
      const body = Buffer.alloc(20 + Buffer.byteLength(value));
      body.writeUInt32LE(offset, 0);
      body.writeDoubleLE(1_700_000_000_000, 8);
      body.writeInt32LE(-1, 16);
      body.write(value, 20);
      const header = Buffer.alloc(8);
      header.writeUInt32LE(body.length, 0);
      header.writeUInt32LE(crc32(body), 4);
      return Buffer.concat([header, body]);
    };
    const segment = path.join(root, 't', '0', `${'0'.repeat(20)}.log`);
    writeFileSync(segment, Buffer.concat([...Array.from({ length: 3 }, (_, i) => unframed(i, JSON.stringify({ old: i }))), Buffer.from([50, 0, 0, 0, 1])]));
    log = new Log(root);
    const topic = log.topic('t');
    expect(topic.recoveredBytes).toBe(5);
    expect(topic.endOffsets()).toEqual([3]);
    topic.append(values(2, 'framed'));
    log.close();
    log = new Log(root);
    expect(readAll(log, 't').map((v) => JSON.parse(v) as Record<string, unknown>)).toEqual([{ old: 0 }, { old: 1 }, { old: 2 }, { tag: 'framed', i: 0 }, { tag: 'framed', i: 1 }]);
    log.close();
  });

  it('recovers an append larger than the chunk it reads a segment by', () => {
    const root = tempDir();
    let log = new Log(root);
    const big = 'x'.repeat(4000);
    log.topic('t', { partitions: 1, segmentBytes: 64 << 20 }).append(Array.from({ length: 3000 }, (_, i) => ({ value: JSON.stringify({ i, big }) })));
    log.close();
    log = new Log(root);
    const topic = log.topic('t');
    expect(topic.recoveredBytes).toBe(0);
    expect(topic.endOffsets()).toEqual([3000]);
    expect(readAll(log, 't')).toHaveLength(3000);
    log.close();
  });

  it('a disk that fills up mid-append: the append fails whole, across partitions, and every acknowledged record is read back, after space is freed and after reopening', async () => {
    // A disk of 2 MB: a tmpfs, which only root may mount (CI runs as root).
    const disk = tempDir();
    const mounted = await requireService('a 2 MB tmpfs for a full disk (mount -t tmpfs needs root)', async () => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk], { stdio: 'pipe' }));
    if (!mounted) return;
    const opened: Log[] = [];
    try {
      const log = new Log(path.join(disk, 'log'));
      opened.push(log);
      const topic = log.topic('events', { partitions: 4 });
      // Most of the disk taken by something else, so the log meets its end within a few appends.
      writeFileSync(path.join(disk, 'filler'), Buffer.alloc(1_600_000));
      const acknowledged: string[] = [];
      let refused = 0;
      for (let request = 0; acknowledged.length < 4_000; request++) {
        const events = Array.from({ length: 50 }, (_, k) => ({ key: `user-${k}`, value: JSON.stringify({ id: `${request}-${k}`, pad: 'x'.repeat(100 + ((request * 7 + k) % 50)) }) }));
        try {
          topic.append(events);
          acknowledged.push(...events.map((e) => e.value));
        } catch (error) {
          expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
          // The operator frees space after the third refusal; the sender retries meanwhile.
          if (++refused === 3) rmSync(path.join(disk, 'filler'));
        }
        expect(request).toBeLessThan(1_000);
      }
      expect(refused).toBe(3);
      const readBack = (t: typeof topic) => t.partitions.flatMap((p) => t.read(p.id, 0, 1 << 30).map((r) => r.value.toString()));
      const sorted = (values: string[]) => [...values].sort();
      // Each acknowledged record once; none of a refused request, in any partition.
      expect(sorted(readBack(topic))).toEqual(sorted(acknowledged));
      log.close();
      const reopened = new Log(path.join(disk, 'log'));
      opened.push(reopened);
      const again = reopened.topic('events');
      expect(again.recoveredBytes).toBe(0);
      expect(sorted(readBack(again))).toEqual(sorted(acknowledged));
    } finally {
      // Closed (again, harmlessly) before the disk goes: a failed assertion must not leave it busy.
      for (const log of opened) log.close();
      execFileSync('umount', [disk]);
    }
  });

  it('every acknowledged append survives kill -9 of the writer', async () => {
    const root = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/fixtures/log-appender.ts'), root, '100000'], { cwd: REPO });
    let acked = -1;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().trim().split('\n')) acked = Math.max(acked, Number(line.split(' ')[1]));
        if (acked >= 40) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    const log = new Log(root); // the dead writer's lock is taken over
    const all = readAll(log, 't').map((v) => JSON.parse(v) as { b: number; i: number });
    const batches = new Map<number, number>();
    for (const r of all) batches.set(r.b, (batches.get(r.b) ?? 0) + 1);
    for (let b = 0; b <= acked; b++) expect(batches.get(b), `batch ${b}`).toBe(1000);
    // Nothing torn is readable: every batch present is whole or absent (an append to a partition is one frame, kept whole or cut whole).
    expect(all.length).toBeGreaterThanOrEqual((acked + 1) * 1000);
    log.close();
  });

  it('one process owns a log from its first topic; a second is refused with what to do', () => {
    const root = tempDir();
    const log = new Log(root);
    log.topic('clicks', { partitions: 1 });
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', `import('${path.join(REPO, 'src/log/index.ts')}').then(m => { const log = new m.Log('${root}'); console.log('opened'); try { log.topic('clicks'); } catch (e) { console.log(e.message, e.hint); } })`], { cwd: REPO });
    return new Promise<void>((resolve) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', () => {
        // Opening the folder takes nothing; reading or writing a topic is what needs the log.
        expect(out).toMatch(/^opened\n/);
        expect(out).toMatch(/in use by process \d+/);
        expect(out).toMatch(/tributary produce --to/);
        log.close();
        resolve();
      });
    });
  });

  it('retention deletes the oldest segments past the size limit, never the active one', () => {
    const root = tempDir();
    const log = new Log(root);
    const topic = log.topic('t', { partitions: 1, segmentBytes: 32 * 1024, retention: { maxBytes: 96 * 1024 } });
    for (let b = 0; b < 40; b++) topic.append(values(100));
    const p = topic.partitions[0]!;
    expect(p.bytes).toBeLessThan(96 * 1024 + 64 * 1024);
    expect(p.startOffset).toBeGreaterThan(0);
    expect(p.endOffset).toBe(4000);
    const [oldest] = p.read(0, 1024);
    expect(oldest!.offset).toBe(p.startOffset); // reading before the start begins at the oldest kept
    log.close();
  });

  it('a hot-key partitioner gives each hot key a partition of its own', () => {
    const root = tempDir();
    const log = new Log(root);
    const topic = log.topic('sales', { partitions: 6 });
    topic.usePartitioner(hotKeyPartitioner(['store-1', 'store-2']));
    const records = [
      ...Array.from({ length: 800 }, () => ({ key: 'store-1', value: '{}' })),
      ...Array.from({ length: 500 }, () => ({ key: 'store-2', value: '{}' })),
      ...Array.from({ length: 400 }, (_, i) => ({ key: `store-${100 + i}`, value: '{}' })),
    ];
    topic.append(records);
    const ends = topic.endOffsets();
    expect(ends[0]).toBe(800);
    expect(ends[1]).toBe(500);
    expect(ends.slice(2).reduce((a, b) => a + b, 0)).toBe(400);
    expect(ends.slice(2).every((n) => n > 50)).toBe(true);
    log.close();
  });

  it("the log input follows the topic: a read ahead takes what is appended until the job asks for the batch, a read without it only what is there", async () => {
    const log = new Log(tempDir());
    const topic = log.topic('live', { partitions: 3 });
    const input = await logInput.create(logInput.config.parse({ kind: 'log', topic: 'live' }), { job: 'reader', log, baseDir: REPO, stateDir: tempDir() });
    expect(input.follows).toBe(true);
    const batch = () => {
      const offsets: { partition: number; offset: number }[] = [];
      const sink: RecordSink = {
        get count() {
          return offsets.length;
        },
        add: (partition, offset) => offsets.push({ partition, offset }),
        reject: () => {
          throw new Error('no record is refused here');
        },
      };
      return { offsets, sink };
    };
    const until = (condition: () => boolean) =>
      new Promise<void>((resolve) => {
        const poll = () => (condition() ? resolve() : setImmediate(poll));
        poll();
      });

    topic.append(values(30));
    const now = batch();
    await input.read(new Map(), 1000, now.sink);
    expect(now.offsets.length).toBe(30);

    // A read ahead from where that batch ended: it takes what is appended while it waits.
    const positions = new Map(topic.partitions.map((p) => [p.id, p.endOffset]));
    const ahead = batch();
    const asked = new AbortController();
    let done = false;
    const reading = input.read(positions, 1000, ahead.sink, asked.signal).then(() => (done = true));
    topic.append(values(20, 'second'));
    await until(() => ahead.offsets.length === 20);
    topic.append(values(10, 'third'));
    await until(() => ahead.offsets.length === 30);
    expect(done).toBe(false);
    asked.abort();
    await reading;
    expect(ahead.offsets.length).toBe(30);
    // Every record once, each partition in order from where the first batch ended.
    for (const p of topic.partitions) {
      const mine = ahead.offsets.filter((o) => o.partition === p.id).map((o) => o.offset);
      expect(mine).toEqual(Array.from({ length: mine.length }, (_, i) => positions.get(p.id)! + i));
    }
    expect(await input.lag(new Map(topic.partitions.map((p) => [p.id, p.endOffset])))).toBe(0);

    // Asked before anything came: it hands over nothing, at once.
    const idle = batch();
    const early = new AbortController();
    const waiting = input.read(new Map(topic.partitions.map((p) => [p.id, p.endOffset])), 1000, idle.sink, early.signal);
    early.abort();
    await waiting;
    expect(idle.offsets.length).toBe(0);
    await input.close();
    log.close();
  });
});
