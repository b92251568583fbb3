import type { z } from 'zod';
import type { Component } from '../../core/component.js';
import type { RecordSink } from '../inputs/types.js';

/**
 * Where a line-framed input (a spool folder) found a record, for the reasons of refused ones.
 * The input keeps one object and updates it line by line: nothing is allocated per record.
 */
export interface LineLocation {
  file: string;
  /** 1-based. */
  line: number;
}

/**
 * Turns the bytes of one record, `source[start, end)`, into an event on the batch: a JSON object
 * (`batch.add`) whose fields the stream's declared columns then type, or a refusal with a reason
 * (`batch.reject`) that becomes a dead letter with the record as it came. Every record is one or
 * the other. Called once per record on the hot path: no allocation per record, no string unless
 * the record is refused.
 */
export type RecordReader = (
  batch: RecordSink,
  partition: number,
  offset: number,
  timestamp: number,
  source: Uint8Array,
  start: number,
  end: number,
  at?: LineLocation,
) => void;

/** A record format: `{ kind, description, config, create(config) }`, listed in formats/index.ts. */
export type FormatComponent<Kind extends string = string, Config extends z.ZodType = z.ZodType> = Component<Kind, Config, void, RecordReader>;

/** A refusal's reason, prefixed with the file and line when the input has them. */
export function located(reason: string, at: LineLocation | undefined): string {
  return at ? `${at.file}:${at.line}: ${reason}` : reason;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const HEX = Buffer.from('0123456789abcdef');

/**
 * A JSON object written into one buffer reused from record to record, for formats that build
 * an event from text: field names are encoded once, values are escaped byte by byte. The batch
 * copies the bytes before the next record is written.
 */
export class JsonObjectWriter {
  buffer = Buffer.allocUnsafe(1 << 16);
  at = 0;

  /**
   * Starts a new object with room for `valueBytes` of values (escaping may take six bytes per
   * byte) and `fixedBytes` of names, quotes and punctuation.
   */
  begin(valueBytes: number, fixedBytes: number): void {
    const need = valueBytes * 6 + fixedBytes + 64;
    if (this.buffer.length < need) this.buffer = Buffer.allocUnsafe(need * 2);
    this.at = 0;
  }

  /** Writes pre-encoded bytes: a field name with its separators (see `fieldNames`), a number, `null`. */
  raw(bytes: Buffer): void {
    // Byte by byte: for the few bytes of a name this beats Buffer#copy or TypedArray#set, whose
    // calls cost as much as copying a hundred bytes here.
    const out = this.buffer;
    let w = this.at;
    for (let i = 0; i < bytes.length; i++) out[w++] = bytes[i]!;
    this.at = w;
  }

  byte(value: number): void {
    this.buffer[this.at++] = value;
  }

  /** Writes `source[start, end)` as a JSON string's content (no quotes), escaping what JSON requires. */
  escaped(source: Uint8Array, start: number, end: number): void {
    const out = this.buffer;
    let w = this.at;
    for (let i = start; i < end; i++) {
      const b = source[i]!;
      if (JSON_ESCAPE[b] === 0) out[w++] = b;
      else w = writeEscape(out, w, b);
    }
    this.at = w;
  }
}

/** 1 for the bytes a JSON string cannot hold as they are: control characters, '"' and '\\'. */
export const JSON_ESCAPE = new Uint8Array(256);
for (let b = 0; b < SPACE; b++) JSON_ESCAPE[b] = 1;
JSON_ESCAPE[QUOTE] = 1;
JSON_ESCAPE[BACKSLASH] = 1;

/** Writes byte `b` (one JSON_ESCAPE marks) escaped at `w`; returns where writing continues. */
export function writeEscape(out: Buffer, w: number, b: number): number {
  out[w++] = BACKSLASH;
  if (b === QUOTE || b === BACKSLASH) {
    out[w++] = b;
  } else {
    out[w++] = 0x75; // u
    out[w++] = 0x30;
    out[w++] = 0x30;
    out[w++] = HEX[b >> 4]!;
    out[w++] = HEX[b & 15]!;
  }
  return w;
}

/** Each field's name as it is written before its value: `{"a":`, then `,"b":` and so on. */
export function fieldNames(fields: readonly string[]): Buffer[] {
  return fields.map((f, i) => Buffer.from(`${i ? ',' : '{'}${JSON.stringify(f)}:`));
}
