import { describe, expect, it } from 'vitest';
import { jsonObjectSpans } from './json-bytes.js';

/** JSON.parse's verdict, the reference: a JSON object, or not. */
function parsesToObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

const check = (text: string) => {
  const bytes = Buffer.from(text);
  return jsonObjectSpans(bytes)(0, bytes.length);
};

/** A seeded generator, so a failure names a case that can be run again. */
function random(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function value(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 5 : 7));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.round((next() - 0.5) * 1e6) / [1, 10, 100, 1e9][Math.floor(next() * 4)]!;
    case 3:
      return 'é"\\\n\t/\u0001😀 text'.slice(0, Math.floor(next() * 14));
    case 4:
      return '';
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, (_, i) => [`k${i}`, value(next, depth + 1)]));
  }
}

describe('jsonObjectSpans, against JSON.parse', () => {
  it('accepts JSON objects however they are spaced, escaped or nested, and nothing else at the top', () => {
    for (const text of [
      '{}',
      ' { } ',
      '{"a":1,"b":[1,2,{"c":null}],"d":{"e":true,"f":false},"g":"x\\"y\\\\z\\u00e9\\/"}',
      '{"n":-0.5e+10,"m":0,"o":1E3,"p":-12.25}',
      '{\t"a"\r\n:\n[ ]\n}',
      '{"id":"4d3b30da-a5e4-49df-b1a8-ba5943f1dd33","category_id":2053013555631882655,"price":489.07}',
    ]) {
      expect(check(text), text).toBe(true);
    }
    for (const text of ['[]', '"x"', '1', 'null', 'true', '', '   ', '{', '}', '{"a"}', '{"a":}', '{"a":1,}', '{,"a":1}', '{"a":1}{}', '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":1e}', '{"a":-}',
      '{"a":+1}', '{"a":tru}', '{"a":nul}', '{"a":"\\x"}', '{"a":"\\u12"}', '{"a":"line\nbreak"}', "{'a':1}", '{a:1}', '{"a":1]', '{"a":[1}', '{"a":NaN}', '{"a":Infinity}', '\ufeff{}']) {
      expect(check(text), text).toBe(false);
      expect(parsesToObject(text), text).toBe(false);
    }
  });

  it('never vouches for what JSON.parse refuses: 20,000 mutated events, seeded', () => {
    const next = random(20261125);
    const alphabet = '{}[]":,\\ -+.0123456789eEtrufalsn\n\tx\u0000é';
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = JSON.stringify(value(next, 0));
      if (!text.startsWith('{')) text = `{"v":${text}}`;
      const mutations = Math.floor(next() * 4);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(next() * (text.length + 1));
        const kind = next();
        const c = alphabet[Math.floor(next() * alphabet.length)]!;
        text = kind < 0.4 ? text.slice(0, at) + c + text.slice(at) : kind < 0.8 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at);
      }
      const verdict = check(text);
      expect(verdict, JSON.stringify(text)).toBe(parsesToObject(text));
      if (verdict) accepted++;
    }
    // Both kinds were exercised.
    expect(accepted).toBeGreaterThan(2_000);
    expect(accepted).toBeLessThan(18_000);
  });

  it('gives up past the nesting it allows, and reads only the bytes it is given', () => {
    const deep = `{"a":${'['.repeat(600)}${']'.repeat(600)}}`;
    expect(check(deep)).toBe(false);
    const bytes = Buffer.from(deep);
    expect(jsonObjectSpans(bytes)(0, bytes.length, 1000)).toBe(true);
    const line = Buffer.from('{"a":1}.5\n{"b":2e');
    const spans = jsonObjectSpans(line);
    expect(spans(0, 7)).toBe(true);
    expect(spans(10, line.length)).toBe(false);
  });

  it('judges any span of a body by its bytes alone, whatever follows it: 20,000 seeded spans over events whose strings cross 16-byte blocks', () => {
    const next = random(20261128);
    const pieces = ['{"id":"', 'x'.repeat(15), 'y'.repeat(17), '\\"', '\\u00e9', '"', '}', ':', ',', ' ', '\n', '\t', '1', '-2.5e3', 'true', 'null', '[', ']', '{', 'é', '\\', '\u0001'];
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const text = Array.from({ length: 2 + Math.floor(next() * 14) }, () => pieces[Math.floor(next() * pieces.length)]!).join('');
      lines.push(next() < 0.5 ? `{"i":${i},"s":"${'p'.repeat(Math.floor(next() * 40))}","t":${JSON.stringify(text)}}` : `{"i":${i},${text}`);
    }
    const body = Buffer.from(lines.join('\n'));
    const check = jsonObjectSpans(body);
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const start = Math.floor(next() * body.length);
      const end = Math.min(body.length, start + Math.floor(next() * 300));
      const text = body.subarray(start, end).toString('utf8');
      // Spans that cut a character in two are JSON.parse's replacement characters, not the bytes: left out.
      if (Buffer.byteLength(text) !== end - start) continue;
      const verdict = check(start, end);
      expect(verdict, `${start}-${end}: ${JSON.stringify(text)}`).toBe(parsesToObject(text));
      if (verdict) accepted++;
    }
    // Whole events too: every line as the collector sees it.
    let at = 0;
    for (const line of lines) {
      const end = at + Buffer.byteLength(line);
      expect(check(at, end), line).toBe(parsesToObject(line));
      if (parsesToObject(line)) accepted++;
      at = end + 1;
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('grows its memory for a body of megabytes, and answers for the body it was last given', () => {
    const event = JSON.stringify({ id: 'a'.repeat(64), n: 1 });
    const big = Buffer.from(Array.from({ length: 100_000 }, () => event).join('\n'));
    const check = jsonObjectSpans(big);
    const last = big.length - event.length;
    expect(check(last, big.length)).toBe(true);
    expect(check(last, big.length - 1)).toBe(false);
    const small = Buffer.from('[1]\n{"a":1}');
    const again = jsonObjectSpans(small);
    expect(again(0, 3)).toBe(false);
    expect(again(4, small.length)).toBe(true);
  });
});
