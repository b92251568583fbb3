import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JSON_OBJECT_WASM } from './json-object.js';

const require = createRequire(import.meta.url);

describe('the JSON object check', () => {
  it('runs json-object.wat as assembled by wabt', async () => {
    const wabt = await (require('wabt') as () => Promise<{ parseWat(name: string, text: string, features: object): { validate(): void; toBinary(options: object): { buffer: Uint8Array } } }>)();
    const module = wabt.parseWat('json-object.wat', readFileSync(join(import.meta.dirname, 'json-object.wat'), 'utf8'), { simd: true });
    module.validate();
    expect(Buffer.from(module.toBinary({}).buffer).toString('base64')).toBe(JSON_OBJECT_WASM);
  });
});
