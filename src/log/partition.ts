import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Segment, encodeRecords, scanRecords, type AppendInput, type LogRecord, type RecordView } from './segment.js';

export interface RetentionPolicy {
  /** Delete the oldest segments once the partition holds more than this. */
  maxBytes?: number;
  /** Delete segments whose newest record is older than this. */
  maxAgeMs?: number;
}

export interface PartitionOptions {
  segmentBytes: number;
  /** fsync every append: survives power loss, not just a killed process. Slower. */
  syncEveryAppend: boolean;
  retention: RetentionPolicy;
}

const NAME = /^(\d{20})\.log$/;

/** One ordered, append-only sequence of records: a folder of segments. */
export class Partition {
  private segments: Segment[] = [];
  /** Where the last read stopped, so sequential consumers never rescan. */
  private cursor: { offset: number; segment: Segment; position: number } | undefined;
  /** Bytes cut from a torn tail when the partition was opened. */
  readonly recoveredBytes: number;

  constructor(
    readonly dir: string,
    readonly id: number,
    private readonly options: PartitionOptions,
  ) {
    mkdirSync(dir, { recursive: true });
    const bases = readdirSync(dir)
      .map((f) => NAME.exec(f)?.[1])
      .filter((b): b is string => Boolean(b))
      .map(Number)
      .sort((a, b) => a - b);
    let cut = 0;
    bases.forEach((base, i) => {
      const last = i === bases.length - 1;
      const { segment, cutBytes } = Segment.open(this.fileFor(base), base, last);
      if (!last) segment.nextOffset = bases[i + 1]!;
      cut += cutBytes;
      this.segments.push(segment);
    });
    this.recoveredBytes = cut;
    if (!this.segments.length) this.segments.push(Segment.create(this.fileFor(0), 0));
  }

  private fileFor(base: number): string {
    return path.join(this.dir, `${String(base).padStart(20, '0')}.log`);
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Offset the next record will get; also the count of records ever appended. */
  get endOffset(): number {
    return this.active.nextOffset;
  }

  get startOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  get bytes(): number {
    return this.segments.reduce((s, seg) => s + seg.size, 0);
  }

  /** Appends records in one write; returns the first offset given and what takes the append back. */
  append(inputs: readonly AppendInput[], now = Date.now()): { first: number; takeBack: () => void } {
    if (this.active.size >= this.options.segmentBytes) {
      this.segments.push(Segment.create(this.fileFor(this.endOffset), this.endOffset));
      this.applyRetention(now);
    }
    const first = this.endOffset;
    const takeBack = this.active.append(encodeRecords(first, inputs, now), inputs.length, this.options.syncEveryAppend);
    return { first, takeBack };
  }

  /** Records from `offset` on: at most `maxRecords`, about `maxBytes` (at least one when any exist). */
  read(offset: number, maxBytes = 4 << 20, maxRecords = Infinity): LogRecord[] {
    const records: LogRecord[] = [];
    this.scan(offset, maxBytes, maxRecords, (buffer, r) =>
      records.push({
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.keyStart >= 0 ? buffer.subarray(r.keyStart, r.keyEnd) : null,
        value: buffer.subarray(r.valueStart, r.valueEnd),
        size: r.size,
      }),
    );
    return records;
  }

  /**
   * Hands records from `offset` on to `visit` as positions in a buffer, allocating nothing per
   * record: what a stream job uses to copy a batch straight to the engine. The buffer is only
   * valid during the call when `reuse` is given (it is read into again). Returns the count.
   */
  scan(offset: number, maxBytes: number, maxRecords: number, visit: (buffer: Buffer, record: RecordView) => void, reuse?: Buffer): number {
    const from = Math.max(offset, this.startOffset);
    if (from >= this.endOffset) return 0;
    let segment: Segment;
    let position: number;
    if (this.cursor && this.cursor.offset === from && this.segments.includes(this.cursor.segment)) {
      ({ segment, position } = this.cursor);
    } else {
      segment = [...this.segments].reverse().find((s) => s.baseOffset <= from)!;
      position = segment.seekPosition(from);
    }
    let count = 0;
    let bytes = 0;
    let last = -1;
    while (bytes < maxBytes && count < maxRecords) {
      if (position >= segment.size) {
        const next = this.segments[this.segments.indexOf(segment) + 1];
        if (!next) break;
        segment = next;
        position = 0;
        continue;
      }
      const buffer = segment.readAt(position, Math.max(maxBytes - bytes, 64 * 1024), reuse);
      const readFrom = position;
      let visited = 0;
      const { checked } = scanRecords(
        buffer,
        (r) => {
          if (count >= maxRecords || bytes >= maxBytes) return false;
          visited++;
          position += r.size;
          // Records before `from` are only passed over on the way; they cost no budget.
          if (r.offset < from) return;
          visit(buffer, r);
          last = r.offset;
          count++;
          bytes += r.size;
        },
        undefined,
        segment.verifiedBytes - readFrom,
      );
      // A frame is checked whole: a later read may start inside it.
      if (readFrom <= segment.verifiedBytes) segment.verifiedBytes = Math.max(segment.verifiedBytes, readFrom + checked);
      if (!visited) break;
    }
    this.cursor = last >= 0 ? { offset: last + 1, segment, position } : undefined;
    return count;
  }

  /** Deletes whole segments past the retention policy; the active segment always stays. */
  applyRetention(now = Date.now()): number {
    const { maxBytes, maxAgeMs } = this.options.retention;
    let removed = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const tooBig = maxBytes !== undefined && this.bytes - oldest.size >= maxBytes;
      const tooOld = maxAgeMs !== undefined && now - statSync(oldest.path).mtimeMs > maxAgeMs;
      if (!tooBig && !tooOld) break;
      oldest.close();
      rmSync(oldest.path, { force: true });
      this.segments.shift();
      removed++;
    }
    if (removed) this.cursor = undefined;
    return removed;
  }

  close(): void {
    for (const s of this.segments) s.close();
  }
}
