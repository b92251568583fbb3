/**
 * Whether `bytes[start, end)` is one JSON object (RFC 8259), checked byte by byte without building
 * it: what the collector needs of each event, at a third of JSON.parse's cost, with nothing
 * allocated. Nesting deeper than `maxDepth` answers false, as does anything else it cannot vouch
 * for; the caller then asks JSON.parse, whose verdict and words stand.
 */
export function isJsonObject(bytes: Uint8Array, start: number, end: number, maxDepth = 512): boolean {
  const at0 = skipSpace(bytes, start, end);
  if (at0 >= end || bytes[at0] !== OPEN_OBJECT) return false;
  let at = at0;
  /** Per open container, whether it is an object; past maxDepth the check gives up. */
  const objects: boolean[] = [];
  // At each step the parser expects a value (after a colon, a comma in an array, an opening
  // bracket) or a key (after an opening brace or a comma in an object).
  let expectKey = false;
  for (;;) {
    at = skipSpace(bytes, at, end);
    if (at >= end) return false;
    let b = bytes[at]!;
    if (expectKey) {
      // An object's first key or the close of an empty one; after a comma only a key.
      if (b === QUOTE) {
        at = skipString(bytes, at + 1, end);
        if (at < 0) return false;
        at = skipSpace(bytes, at, end);
        if (at >= end || bytes[at] !== COLON) return false;
        at++;
        expectKey = false;
        continue;
      }
      return false;
    }
    // A value.
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (objects.length >= maxDepth) return false;
      objects.push(b === OPEN_OBJECT);
      at = skipSpace(bytes, at + 1, end);
      if (at < end && bytes[at] === (b === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        objects.pop();
        at++;
      } else {
        expectKey = b === OPEN_OBJECT;
        continue;
      }
    } else if (b === QUOTE) {
      at = skipString(bytes, at + 1, end);
      if (at < 0) return false;
    } else if (b === MINUS || (b >= ZERO && b <= NINE)) {
      at = skipNumber(bytes, at, end);
      if (at < 0) return false;
    } else if (b === LOWER_T) {
      if (!matches(bytes, at, end, TRUE)) return false;
      at += 4;
    } else if (b === LOWER_F) {
      if (!matches(bytes, at, end, FALSE)) return false;
      at += 5;
    } else if (b === LOWER_N) {
      if (!matches(bytes, at, end, NULL)) return false;
      at += 4;
    } else {
      return false;
    }
    // After a value: a comma, or the close of its container (and of those it closes in turn).
    for (;;) {
      if (!objects.length) return skipSpace(bytes, at, end) === end;
      at = skipSpace(bytes, at, end);
      if (at >= end) return false;
      b = bytes[at]!;
      const inObject = objects[objects.length - 1]!;
      if (b === COMMA) {
        at++;
        expectKey = inObject;
        break;
      }
      if (b !== (inObject ? CLOSE_OBJECT : CLOSE_ARRAY)) return false;
      objects.pop();
      at++;
    }
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_T = 0x74;
const LOWER_F = 0x66;
const LOWER_N = 0x6e;
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];
/** The characters a backslash may escape, besides `u`. */
const ESCAPES = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

/** Bytes a string may hold as they are: not a quote, a backslash or a control character. */
const PLAIN = new Uint8Array(256).map((_, b) => (b >= 0x20 && b !== QUOTE && b !== BACKSLASH ? 1 : 0));

/** JSON's whitespace: space, tab, line feed, carriage return. */
function skipSpace(bytes: Uint8Array, at: number, end: number): number {
  while (at < end) {
    const b = bytes[at]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) break;
    at++;
  }
  return at;
}

/** Past a string whose opening quote is before `at`; -1 if it is not one. Bytes of 0x80 and up are taken as they come (the log keeps them; the job refuses what is not UTF-8). */
function skipString(bytes: Uint8Array, at: number, end: number): number {
  while (at < end) {
    // Most of an event's bytes are plain string content: one table lookup each.
    while (at < end && PLAIN[bytes[at]!]) at++;
    if (at >= end) return -1;
    const b = bytes[at++]!;
    if (b === QUOTE) return at;
    if (b < 0x20) return -1;
    if (b === BACKSLASH) {
      if (at >= end) return -1;
      const e = bytes[at++]!;
      if (e === 0x75) {
        for (let i = 0; i < 4; i++, at++) if (at >= end || !isHex(bytes[at]!)) return -1;
      } else if (!ESCAPES.has(e)) {
        return -1;
      }
    }
  }
  return -1;
}

function isHex(b: number): boolean {
  return (b >= ZERO && b <= NINE) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/** Past a number starting at `at`: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?; -1 if it is not one. */
function skipNumber(bytes: Uint8Array, at: number, end: number): number {
  const digit = (i: number) => i < end && bytes[i]! >= ZERO && bytes[i]! <= NINE;
  if (bytes[at] === MINUS) at++;
  if (!digit(at)) return -1;
  if (bytes[at] === ZERO) at++;
  else while (digit(at)) at++;
  if (at < end && bytes[at] === DOT) {
    const digits = ++at;
    while (digit(at)) at++;
    if (at === digits) return -1;
  }
  if (at < end && (bytes[at] === 0x65 || bytes[at] === 0x45)) {
    at++;
    if (at < end && (bytes[at] === PLUS || bytes[at] === MINUS)) at++;
    const digits = at;
    while (digit(at)) at++;
    if (at === digits) return -1;
  }
  return at;
}

function matches(bytes: Uint8Array, at: number, end: number, word: readonly number[]): boolean {
  if (at + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (bytes[at + i] !== word[i]) return false;
  return true;
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
