import { JSON_OBJECT_WASM } from './json-object.js';

/** json-object.wat's layout: the stack of open containers, then the bytes, then zeroes a block read may look at. */
const STACK_BYTES = 4096;
const PADDING = 16;
const PAGE_BYTES = 65_536;

let checker: { memory: WebAssembly.Memory; isObject(start: number, end: number, maxDepth: number): number } | undefined;

/**
 * Checks spans of `bytes` as JSON objects (RFC 8259), without building them: what the collector
 * needs of each event, with nothing allocated. The bytes are copied into json-object.wat's memory
 * once, so one body's many events cost one copy; the answer holds until the next call. Nesting
 * deeper than `maxDepth` (at most 4096) answers false, as does anything else it cannot vouch for;
 * the caller then asks JSON.parse, whose verdict and words stand.
 */
export function jsonObjectSpans(bytes: Uint8Array): (start: number, end: number, maxDepth?: number) => boolean {
  if (!checker) {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(JSON_OBJECT_WASM, 'base64')));
    const wasm = exports as unknown as { memory: WebAssembly.Memory; is_object(start: number, end: number, maxDepth: number): number };
    checker = { memory: wasm.memory, isObject: wasm.is_object };
  }
  const { memory, isObject } = checker;
  const needed = STACK_BYTES + bytes.length + PADDING;
  if (memory.buffer.byteLength < needed) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE_BYTES));
  const view = new Uint8Array(memory.buffer);
  view.set(bytes, STACK_BYTES);
  view.fill(0, STACK_BYTES + bytes.length, needed);
  return (start, end, maxDepth = 512) => isObject(STACK_BYTES + start, STACK_BYTES + end, maxDepth) === 1;
}

/** A request's body as a JSON object of the fields it may carry, or nothing when it is not JSON or not an object (`null`, an array). */
export function jsonObject<Fields extends Record<string, unknown>>(body: string): Partial<Fields> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Partial<Fields>) : undefined;
}
