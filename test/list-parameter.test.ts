import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, listParameter } from '../src/engine/index.js';

// A list bound as one parameter carries file names, statistics and staged paths into the catalog:
// every item must arrive as it was, whatever comes first.
let engine: Engine;
beforeAll(async () => {
  engine = await Engine.open();
});
afterAll(() => engine.close());

describe('a list bound as one parameter', () => {
  it('keeps every text, a NULL first included, quotes and backslashes as they are', async () => {
    const values = [null, "it's", '2018-11-01 21:01:46.796', 'a "b" \\ c', null];
    const rows = await engine.query<{ v: string | null }>('SELECT unnest($1::JSON::VARCHAR[]) AS v', [listParameter(values)]);
    expect(rows.map((r) => r.v)).toEqual(values);
  });

  it('keeps every number, a NULL first included, up to 2^53 − 1', async () => {
    const rows = await engine.query<{ v: bigint | null }>('SELECT unnest($1::JSON::BIGINT[]) AS v', [listParameter([null, 0, 9_007_199_254_740_991])]);
    expect(rows.map((r) => r.v)).toEqual([null, 0n, 9_007_199_254_740_991n]);
  });
});
