import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { countLines, lineFeedCounter } from './line-count.js';
import { LINE_FEEDS_WASM } from './line-feeds.js';

const require = createRequire(import.meta.url);

/** The reference: line feeds, and empty lines (a line ending right after the start or another). */
function naive(bytes: Uint8Array): { lineFeeds: number; blank: number } {
  let lineFeeds = 0;
  let blank = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    lineFeeds++;
    const start = i > 0 && bytes[i - 1] === 0x0d ? i - 1 : i;
    if (start === 0 || bytes[start - 1] === 0x0a) blank++;
  }
  return { lineFeeds, blank };
}

/** A seeded generator, so a failure names a case that can be run again. */
function random(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-line-feeds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the line count', () => {
  it('runs line-feeds.wat as assembled by wabt', async () => {
    const wabt = await (require('wabt') as () => Promise<{ parseWat(name: string, text: string, features: object): { validate(): void; toBinary(options: object): { buffer: Uint8Array } } }>)();
    const module = wabt.parseWat('line-feeds.wat', readFileSync(join(import.meta.dirname, 'line-feeds.wat'), 'utf8'), { simd: true });
    module.validate();
    expect(Buffer.from(module.toBinary({}).buffer).toString('base64')).toBe(LINE_FEEDS_WASM);
  });

  it('counts as a byte-by-byte loop does, whatever the chunks: 400 seeded texts of line feeds, returns and other bytes', () => {
    const next = random(20261125);
    const counter = lineFeedCounter(Buffer.from(LINE_FEEDS_WASM, 'base64'));
    for (let n = 0; n < 400; n++) {
      const length = Math.floor(next() * 3000);
      const text = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        const r = next();
        text[i] = r < 0.15 ? 0x0a : r < 0.25 ? 0x0d : r < 0.3 ? 0 : 0x20 + Math.floor(next() * 95);
      }
      const tail = counter.start();
      let lineFeeds = 0;
      let blank = 0;
      for (let at = 0; at < length; ) {
        const size = 1 + Math.floor(next() * 200);
        const part = text.subarray(at, at + size);
        counter.memory.set(part);
        const counted = counter.count(part.length, tail);
        lineFeeds += counted.lineFeeds;
        blank += counted.blank;
        at += part.length;
      }
      expect({ lineFeeds, blank }, `text ${n}`).toEqual(naive(text));
    }
  });

  it('counts plain and gzipped files, blank lines apart, and the last line without an ending', async () => {
    const text = `a\n\nb\r\n\r\nc\n${'x'.repeat(3_000_000)}\n\nlast`;
    writeFileSync(join(dir, 'plain.txt'), text);
    writeFileSync(join(dir, 'packed.txt.gz'), gzipSync(text));
    const counts = await countLines([join(dir, 'plain.txt'), join(dir, 'packed.txt.gz')]);
    for (const count of counts) expect({ lines: count.lines, blank: count.blank, bytes: count.bytes }).toEqual({ lines: 5, blank: 3, bytes: Buffer.byteLength(text) });
  });

  it('finds lines by the length and MD5 of their text in the same read, wherever a chunk splits them: CRLF, a byte-order mark, a 1.5 MB line, repeated texts, the last line without an ending', async () => {
    const next = random(42);
    const lines: string[] = [];
    for (let size = 0; size < 3_500_000; ) {
      const r = next();
      const line = r < 0.001 ? 'L'.repeat(1_500_000) : r < 0.01 ? 'same' : `{"n":${lines.length},"pad":"${'p'.repeat(Math.floor(next() * 2500))}"}`;
      lines.push(line);
      size += line.length + 2;
    }
    // Line endings of both kinds, a byte-order mark before the first line, no ending after the last.
    const text = `\ufeff${lines.map((line, i) => (i === lines.length - 1 ? line : `${line}${i % 3 ? '\n' : '\r\n'}`)).join('')}`;
    const md5 = (line: string) => createHash('md5').update(line).digest('hex');
    const starts: number[] = [];
    for (let i = 0, at = 3; i < lines.length; at += Buffer.byteLength(lines[i]!) + (i % 3 ? 1 : 2), i++) starts.push(at);
    // Lines whose bytes a 1 MB chunk boundary cuts, the first, the last, the long one, and two of the repeated texts.
    const cut = [1 << 20, 2 << 20, 3 << 20].map((boundary) => starts.filter((start) => start < boundary).length - 1);
    const repeated = lines.map((line, i) => (line === 'same' ? i : -1)).filter((i) => i >= 0);
    expect(repeated.length).toBeGreaterThan(2);
    const long = lines.findIndex((line) => line.length === 1_500_000);
    expect(long).toBeGreaterThan(0);
    const picked = new Set([0, lines.length - 1, long, ...cut]);
    const wanted = [...picked].filter((i) => lines[i] !== 'same').map((i) => ({ bytes: Buffer.byteLength(lines[i]!), md5: md5(lines[i]!), count: 1 }));
    wanted.push({ bytes: 4, md5: md5('same'), count: 2 });
    const expected = [...[...picked].filter((i) => lines[i] !== 'same'), ...repeated.slice(0, 2)].sort((a, b) => a - b).map((i) => ({ line: i + 1, text: lines[i] }));
    writeFileSync(join(dir, 'find.txt'), text);
    writeFileSync(join(dir, 'find.txt.gz'), gzipSync(text));
    const files = [join(dir, 'find.txt'), join(dir, 'find.txt.gz')];
    const counts = await countLines(files, new Map(files.map((f) => [f, wanted])));
    for (const count of counts) {
      expect(count.lines).toBe(lines.length);
      expect(count.found, count.file).toEqual(expected);
    }
    // A file not asked about is only counted.
    expect((await countLines(files.slice(0, 1)))[0]!.found).toBeUndefined();
  });
});
