import { closeSync, fstatSync, ftruncateSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

/**
 * One append-only file of a partition, named by the offset of its first record.
 *
 * A record on disk: u32 body length, u32 CRC-32 of the body, then the body: u64 offset,
 * f64 timestamp (ms), i32 key length (-1 for no key), key bytes, value bytes. Each append is one
 * frame (as a Kafka record batch): u32 FRAME | frame body length, u32 CRC-32 of the frame body,
 * then the append's records, whose own CRC fields are 0: one checksum per append, where one per
 * record cost the collector a tenth of its time. The CRCs and the running offset let a reopened
 * segment find where a crash cut a write short; a torn append is cut whole, as it was never
 * acknowledged. Segments written before frames hold records alone, each with its CRC, and read
 * as they are.
 */

export interface LogRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer;
  /** Bytes the record takes on disk. */
  size: number;
}

export interface AppendInput {
  key?: Buffer | string | null;
  value: Buffer | string;
  timestamp?: number;
}

const HEADER = 8;
/** One index entry per this many records: a seek scans at most this many. */
const INDEX_EVERY = 4096;
const BODY_FIXED = 8 + 8 + 4;
/** The high bit of a length word marks a frame; a record's body is never that long. */
const FRAME = 0x8000_0000;
const LENGTH = 0x7fff_ffff;
/** Records beyond this many bytes go to the append's next frame. */
const FRAME_BYTES = 256 << 20;

export function encodeRecords(firstOffset: number, inputs: readonly AppendInput[], now = Date.now()): Buffer {
  // One buffer for the whole append, each record written in place: the collector appends batches of
  // hundreds of events, and a buffer per record (then a concatenation) cost more than the bytes.
  const sizes = inputs.map((input) => HEADER + BODY_FIXED + byteLength(input.key) + byteLength(input.value));
  let size = 0;
  let frameBytes = Infinity;
  for (const recordBytes of sizes) {
    if (frameBytes + recordBytes > FRAME_BYTES) {
      size += HEADER;
      frameBytes = 0;
    }
    size += recordBytes;
    frameBytes += recordBytes;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  let frame = -1;
  const closeFrame = () => {
    if (frame < 0) return;
    out.writeUInt32LE((FRAME | (at - frame - HEADER)) >>> 0, frame);
    out.writeUInt32LE(crc32(out.subarray(frame + HEADER, at)), frame + 4);
  };
  let offset = firstOffset;
  inputs.forEach((input, i) => {
    if (frame < 0 || at - frame - HEADER + sizes[i]! > FRAME_BYTES) {
      closeFrame();
      frame = at;
      at += HEADER;
    }
    const start = at;
    at += HEADER;
    // The offset as two 32-bit halves: exact up to 2^53, no BigInt per record.
    out.writeUInt32LE(offset % 0x1_0000_0000, at);
    out.writeUInt32LE(Math.floor(offset / 0x1_0000_0000), at + 4);
    out.writeDoubleLE(input.timestamp ?? now, at + 8);
    const key = input.key;
    const keyAt = at + 20;
    const valueAt = key === undefined || key === null ? keyAt : keyAt + writeBytes(out, keyAt, key);
    out.writeInt32LE(key === undefined || key === null ? -1 : valueAt - keyAt, at + 16);
    at = valueAt + writeBytes(out, valueAt, input.value);
    out.writeUInt32LE(at - start - HEADER, start);
    out.writeUInt32LE(0, start + 4);
    offset++;
  });
  closeFrame();
  return out;
}

function byteLength(value: Buffer | string | null | undefined): number {
  return value === undefined || value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** Writes `value` at `at`; returns its length in bytes. */
function writeBytes(out: Buffer, at: number, value: Buffer | string): number {
  return typeof value === 'string' ? out.write(value, at) : value.copy(out, at);
}

/**
 * Where one record lies in a buffer. Scanning reuses a single view for every record, so reading a
 * million records allocates nothing per record.
 */
export interface RecordView {
  offset: number;
  timestamp: number;
  /** Key bytes are [keyStart, keyEnd); keyStart is -1 for a record without a key. */
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
  /** Bytes from the end of the record before (the frame's header too, for a frame's first record). */
  size: number;
  /** Where a scan that reaches this record may start: its frame's header, or the record itself. */
  start: number;
}

/**
 * Visits whole, valid records in `buffer` until `visit` returns false. Stops at the first
 * incomplete or corrupt frame or record and says how many bytes were good, so callers can read on
 * or cut a torn tail, and up to where the bytes are checked (a frame is checked whole before its
 * first record is visited). Bytes within the first `trustedBytes` were checked before and skip
 * the CRC.
 */
export function scanRecords(
  buffer: Buffer,
  visit: (record: RecordView) => boolean | void,
  expectOffset?: number,
  trustedBytes = 0,
): { bytes: number; corrupt: boolean; checked: number } {
  const view: RecordView = { offset: 0, timestamp: 0, keyStart: -1, keyEnd: -1, valueStart: 0, valueEnd: 0, size: 0, start: 0 };
  let at = 0;
  let next = expectOffset;
  /** The frame being read: [frameStart, frameEnd), checked whole; -1 outside one. */
  let frameStart = -1;
  let frameEnd = -1;
  let checked = 0;
  while (at + HEADER <= buffer.length) {
    if (at === frameEnd) frameStart = frameEnd = -1;
    const word = buffer.readUInt32LE(at);
    if (frameStart < 0 && word & FRAME) {
      const end = at + HEADER + (word & LENGTH);
      if ((word & LENGTH) < HEADER + BODY_FIXED) return { bytes: at, corrupt: true, checked };
      if (end > buffer.length) break;
      if (end > trustedBytes && !(crc32(buffer.subarray(at + HEADER, end)) === buffer.readUInt32LE(at + 4) && recordsFill(buffer, at + HEADER, end, next))) {
        return { bytes: at, corrupt: true, checked };
      }
      frameStart = at;
      frameEnd = checked = end;
      at += HEADER;
      continue;
    }
    const bodyLength = word;
    if (bodyLength < BODY_FIXED || word & FRAME) return { bytes: at, corrupt: true, checked };
    const body = at + HEADER;
    const end = body + bodyLength;
    if (frameStart >= 0 ? end > frameEnd : end > buffer.length) {
      if (frameStart >= 0) return { bytes: frameStart, corrupt: true, checked: frameStart };
      break;
    }
    if (frameStart < 0) {
      if (end > trustedBytes && crc32(buffer.subarray(body, end)) !== buffer.readUInt32LE(at + 4)) return { bytes: at, corrupt: true, checked };
      checked = Math.max(checked, end);
    }
    // Two 32-bit halves: offsets stay below 2^53 and this avoids a BigInt per record.
    const offset = buffer.readUInt32LE(body) + buffer.readUInt32LE(body + 4) * 0x1_0000_0000;
    if (next !== undefined && offset !== next) return { bytes: frameStart >= 0 ? frameStart : at, corrupt: true, checked: frameStart >= 0 ? frameStart : checked };
    const keyLength = buffer.readInt32LE(body + 16);
    view.offset = offset;
    view.timestamp = buffer.readDoubleLE(body + 8);
    view.keyStart = keyLength >= 0 ? body + 20 : -1;
    view.keyEnd = keyLength >= 0 ? body + 20 + keyLength : -1;
    view.valueStart = body + 20 + Math.max(keyLength, 0);
    view.valueEnd = end;
    view.start = frameStart >= 0 ? frameStart : at;
    view.size = HEADER + bodyLength + (at === frameStart + HEADER ? HEADER : 0);
    if (visit(view) === false) break;
    at = end;
    next = offset + 1;
  }
  // Stopped inside a frame (visit said so): the bytes read are whole records, the frame is checked.
  return { bytes: at, corrupt: false, checked };
}

/**
 * Whether a frame's body is records end to end, their offsets counting up from `next` (when
 * known): checked before any of them is visited, so a frame is taken whole or not at all.
 */
function recordsFill(buffer: Buffer, start: number, end: number, next: number | undefined): boolean {
  let at = start;
  while (at < end) {
    const bodyLength = buffer.readUInt32LE(at);
    if (bodyLength < BODY_FIXED || bodyLength & FRAME || at + HEADER + bodyLength > end) return false;
    const offset = buffer.readUInt32LE(at + HEADER) + buffer.readUInt32LE(at + HEADER + 4) * 0x1_0000_0000;
    if (next !== undefined && offset !== next) return false;
    next = offset + 1;
    at += HEADER + bodyLength;
  }
  return at === end;
}

export class Segment {
  private fd: number;
  size: number;
  /** Offset the next appended record gets. */
  nextOffset: number;
  /**
   * Bytes from the start known to be intact: written by this process, or checked record by record
   * since it opened the file. Reads skip the CRC there; it guards what a crash or the disk did.
   */
  verifiedBytes = 0;
  /** Sparse offset → byte position index, filled as the segment is scanned or appended. */
  private readonly index: { offset: number; position: number }[] = [];

  private constructor(
    readonly path: string,
    readonly baseOffset: number,
    fd: number,
    size: number,
    nextOffset: number,
  ) {
    this.fd = fd;
    this.size = size;
    this.nextOffset = nextOffset;
  }

  static create(path: string, baseOffset: number): Segment {
    return new Segment(path, baseOffset, openSync(path, 'a+'), 0, baseOffset);
  }

  /**
   * Opens an existing segment. With `recover`, reads it whole, verifying every record, and cuts a
   * torn or corrupt tail (what a crash mid-write leaves); returns how many bytes were cut.
   */
  static open(path: string, baseOffset: number, recover: boolean): { segment: Segment; cutBytes: number } {
    const fd = openSync(path, 'r+');
    const size = fstatSync(fd).size;
    if (!recover) return { segment: new Segment(path, baseOffset, fd, size, -1), cutBytes: 0 };
    const segment = new Segment(path, baseOffset, fd, size, baseOffset);
    let position = 0;
    let next = baseOffset;
    let chunk = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, position);
      const data = chunk.subarray(0, read);
      const { bytes, corrupt } = scanRecords(
        data,
        (r) => {
          if ((r.offset - baseOffset) % INDEX_EVERY === 0) segment.index.push({ offset: r.offset, position: position + r.start });
          next = r.offset + 1;
        },
        next,
      );
      position += bytes;
      if (corrupt || read === 0) break;
      if (bytes === 0) {
        // A frame or record longer than the chunk: read it whole, unless the file ends first (a torn tail).
        const whole = read >= HEADER ? HEADER + (data.readUInt32LE(0) & LENGTH) : Infinity;
        if (whole <= chunk.length || position + whole > size) break;
        chunk = Buffer.allocUnsafe(whole);
      }
    }
    const cutBytes = size - position;
    if (cutBytes > 0) ftruncateSync(fd, position);
    segment.size = position;
    segment.verifiedBytes = position;
    segment.nextOffset = next;
    return { segment, cutBytes };
  }

  /**
   * Appends encoded records in one write; they survive a process kill once this returns. Returns
   * what takes the append back (another partition of the same request could not take its part).
   */
  append(encoded: Buffer, count: number, sync: boolean): () => void {
    const before = { size: this.size, nextOffset: this.nextOffset, verifiedBytes: this.verifiedBytes, indexed: this.index.length };
    const takeBack = () => {
      ftruncateSync(this.fd, before.size);
      this.size = before.size;
      this.nextOffset = before.nextOffset;
      this.verifiedBytes = before.verifiedBytes;
      this.index.length = before.indexed;
    };
    const crossesMark = Math.floor(this.nextOffset / INDEX_EVERY) !== Math.floor((this.nextOffset + count) / INDEX_EVERY);
    if (this.index.length === 0 || crossesMark) this.index.push({ offset: this.nextOffset, position: this.size });
    let written = 0;
    try {
      while (written < encoded.length) written += writeSync(this.fd, encoded, written, encoded.length - written, this.size + written);
      if (sync) fsyncSync(this.fd);
    } catch (error) {
      // A write the disk refused part-way (full) leaves a torn record after the last whole one:
      // the next append would follow it (the file is opened to append) and every reader, and the
      // recovery at the next open, stops there, losing what was acknowledged after. It goes now,
      // and the append fails whole: nothing of it was acknowledged.
      takeBack();
      throw error;
    }
    if (this.verifiedBytes === this.size) this.verifiedBytes += encoded.length;
    this.size += encoded.length;
    this.nextOffset += count;
    return takeBack;
  }

  /** Byte position from which scanning forward reaches `offset`. */
  seekPosition(offset: number): number {
    let best = 0;
    for (const entry of this.index) {
      if (entry.offset <= offset) best = entry.position;
      else break;
    }
    return best;
  }

  /**
   * Reads up to `maxBytes` of raw record bytes from `position` (at least one whole record), into
   * `reuse` when it is big enough.
   */
  readAt(position: number, maxBytes: number, reuse?: Buffer): Buffer {
    if (position >= this.size) return Buffer.alloc(0);
    let length = Math.min(maxBytes, this.size - position);
    let buffer = reuse && reuse.length >= length ? reuse : Buffer.allocUnsafe(length);
    let read = readSync(this.fd, buffer, 0, length, position);
    if (read >= HEADER) {
      const first = HEADER + (buffer.readUInt32LE(0) & LENGTH);
      if (first > read && position + first <= this.size) {
        length = first;
        buffer = Buffer.allocUnsafe(length);
        read = readSync(this.fd, buffer, 0, length, position);
      }
    }
    return buffer.subarray(0, read);
  }

  close(): void {
    closeSync(this.fd);
  }
}
