import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import { lockFolder } from '../core/folder-lock.js';
import { Partition, type RetentionPolicy } from './partition.js';
import { hashPartitioner, hotKeyPartitioner, type Partitioner } from './partitioner.js';
import type { AppendInput, LogRecord, RecordView } from './segment.js';

export interface TopicOptions {
  partitions: number;
  retention?: RetentionPolicy;
  segmentBytes?: number;
  syncEveryAppend?: boolean;
}

export interface AppendResult {
  /** First offset given in each partition the batch touched. */
  offsets: Map<number, { first: number; count: number }>;
  count: number;
}

/**
 * A change of the topic's hot keys: records appended from offset `from[p]` of each partition p
 * on were placed by these keys (see Topic.setHotKeys).
 */
export interface HotKeyEpoch {
  from: number[];
  hotKeys: string[];
  /** When it was recorded (ISO), for people reading topic.json. */
  at: string;
}

interface TopicMeta {
  partitions: number;
  retention: RetentionPolicy;
  segmentBytes: number;
  syncEveryAppend: boolean;
  /** Every hot-key change, oldest first; none means hashing since the topic was created. */
  hotKeyEpochs?: HotKeyEpoch[];
}

export class Topic {
  readonly partitions: Partition[];

  private partitioner: Partitioner;
  /** Readers waiting for the next append (see nextAppend). */
  private waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly meta: TopicMeta,
  ) {
    this.partitions = Array.from(
      { length: meta.partitions },
      (_, i) => new Partition(path.join(dir, String(i)), i, { segmentBytes: meta.segmentBytes, syncEveryAppend: meta.syncEveryAppend, retention: meta.retention }),
    );
    this.partitioner = partitionerFor(this.hotKeys);
  }

  usePartitioner(partitioner: Partitioner): void {
    this.partitioner = partitioner;
  }

  /** The keys that have a partition each now (key i has partition i); none: every key hashes. */
  get hotKeys(): readonly string[] {
    return this.meta.hotKeyEpochs?.at(-1)?.hotKeys ?? [];
  }

  /**
   * Gives each of `keys` a partition of its own from the next append on; returns false if they
   * already have (the same keys, in any order). The change is recorded in topic.json with the
   * offset each partition has reached, so every process that opens the topic places records the
   * same way, and readers can keep each key's records in order across the change: a key that
   * moves partitions has its earlier records in one and later ones in another, so a reader takes
   * nothing appended after a change until it has read everything appended before it (see
   * `readLimits`). Offsets never change and no record moves: exactly-once positions stay valid.
   */
  setHotKeys(keys: readonly string[]): boolean {
    const current = this.hotKeys;
    if (keys.length === current.length && keys.every((k) => current.includes(k))) return false;
    if (new Set(keys).size !== keys.length) throw new TributaryError(`hot keys of topic '${this.name}' repeat a key: ${keys.join(', ')}`);
    if (keys.length >= this.partitions.length) {
      throw new TributaryError(`topic '${this.name}' has ${this.partitions.length} partitions, too few for ${keys.length} hot keys`, {
        hint: 'hot keys need a partition each and at least one more for the other keys: fewer hot keys, or a new topic with more partitions',
      });
    }
    // Keys that stay keep their partitions; keys that join take the partitions of keys that left.
    const joining = keys.filter((k) => !current.includes(k));
    const slots = current.map((k) => (keys.includes(k) ? k : joining.shift()));
    const ordered = [...slots.filter((k): k is string => k !== undefined), ...joining];
    const epochs = this.meta.hotKeyEpochs ?? [];
    this.meta.hotKeyEpochs = [...epochs, { from: this.endOffsets(), hotKeys: ordered, at: new Date().toISOString() }];
    writeMeta(this.dir, this.meta);
    this.partitioner = partitionerFor(ordered);
    return true;
  }

  /**
   * Per partition, the offset a reader at `positions` may read up to (exclusive): the start of
   * the first hot-key change it has not reached in every partition, so no batch mixes records
   * from before and after a change, and no key's later records are read before its earlier ones.
   */
  readLimits(positions: ReadonlyMap<number, number>): number[] {
    const at = this.partitions.map((p) => Math.max(positions.get(p.id) ?? p.startOffset, p.startOffset));
    for (const epoch of this.meta.hotKeyEpochs ?? []) {
      if (at.some((offset, p) => offset < epoch.from[p]!)) return epoch.from;
    }
    return at.map(() => Infinity);
  }

  /** Appends a batch, grouped per partition into one write each. Acknowledged when this returns. */
  append(records: readonly (AppendInput & { partition?: number })[], now = Date.now()): AppendResult {
    const groups = new Map<number, AppendInput[]>();
    for (const record of records) {
      const key = record.key === undefined || record.key === null ? null : record.key.toString();
      const p = record.partition ?? this.partitioner(key, this.partitions.length);
      if (!Number.isInteger(p) || p < 0 || p >= this.partitions.length) {
        throw new TributaryError(`partition ${p} does not exist in topic '${this.name}' (0–${this.partitions.length - 1})`, {
          hint: 'fix the partitioner or the partition number',
        });
      }
      let group = groups.get(p);
      if (!group) groups.set(p, (group = []));
      group.push(record);
    }
    const offsets = new Map<number, { first: number; count: number }>();
    // All or nothing: a request whose last partition the disk refuses is not half acknowledged
    // (its sender retries it whole, and the partitions that took their part would hold it twice).
    const written: (() => void)[] = [];
    try {
      for (const [p, group] of groups) {
        const { first, takeBack } = this.partitions[p]!.append(group, now);
        written.push(takeBack);
        offsets.set(p, { first, count: group.length });
      }
    } catch (error) {
      for (const takeBack of written.reverse()) takeBack();
      throw error;
    }
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
    return { offsets, count: records.length };
  }

  /** Resolves at the topic's next append, or when `signal` aborts: a reader following the topic waits here, not on a timer. */
  nextAppend(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        signal?.removeEventListener('abort', wake);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  read(partition: number, offset: number, maxBytes?: number, maxRecords?: number): LogRecord[] {
    return this.partitions[partition]!.read(offset, maxBytes, maxRecords);
  }

  /** See Partition.scan: records as positions in a buffer, nothing allocated per record. */
  scan(partition: number, offset: number, maxBytes: number, maxRecords: number, visit: (buffer: Buffer, record: RecordView) => void, reuse?: Buffer): number {
    return this.partitions[partition]!.scan(offset, maxBytes, maxRecords, visit, reuse);
  }

  endOffsets(): number[] {
    return this.partitions.map((p) => p.endOffset);
  }

  get recoveredBytes(): number {
    return this.partitions.reduce((s, p) => s + p.recoveredBytes, 0);
  }

  close(): void {
    for (const p of this.partitions) p.close();
  }
}

/**
 * The embedded durable log: topics of partitions on local disk, owned by one process at a time
 * (a lock file says which, taken when the first topic is opened: a process that opens none, a
 * worker reading brokers, leaves the log to the one that does). Kafka's model, without the
 * cluster: for one machine.
 */
export class Log {
  private readonly topics = new Map<string, Topic>();
  private unlock: (() => void) | undefined;

  constructor(readonly root: string) {}

  private own(): void {
    if (this.unlock) return;
    mkdirSync(this.root, { recursive: true });
    this.unlock = lockFolder(
      this.root,
      'LOCK',
      (owner) =>
        new TributaryError(`the log at ${this.root} is in use by process ${owner.pid} on ${owner.host}`, {
          hint: 'send events through that process (tributary produce --to http://127.0.0.1:PORT) or stop it first',
        }),
    );
  }

  topic(name: string, options?: TopicOptions): Topic {
    const existing = this.topics.get(name);
    if (existing) return existing;
    this.own();
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new TributaryError(`invalid topic name '${name}'`, { hint: 'use letters, digits, _ . -' });
    const dir = path.join(this.root, name);
    const metaFile = path.join(dir, 'topic.json');
    let meta: TopicMeta;
    if (existsSync(metaFile)) {
      meta = JSON.parse(readFileSync(metaFile, 'utf8')) as TopicMeta;
      if (options && options.partitions !== meta.partitions) {
        throw new TributaryError(`topic '${name}' has ${meta.partitions} partitions, the config asks for ${options.partitions}`, {
          hint: 'partitions cannot change without re-keying the data; create a new topic',
        });
      }
    } else {
      if (!options) throw new TributaryError(`no topic '${name}'`, { hint: 'declare it under topics in tributary.config.ts' });
      meta = {
        partitions: options.partitions,
        retention: options.retention ?? {},
        segmentBytes: options.segmentBytes ?? 128 << 20,
        syncEveryAppend: options.syncEveryAppend ?? false,
      };
      mkdirSync(dir, { recursive: true });
      writeMeta(dir, meta);
    }
    const topic = new Topic(name, dir, meta);
    this.topics.set(name, topic);
    return topic;
  }

  close(): void {
    for (const t of this.topics.values()) t.close();
    this.topics.clear();
    this.unlock?.();
    this.unlock = undefined;
  }
}

function partitionerFor(hotKeys: readonly string[]): Partitioner {
  return hotKeys.length ? hotKeyPartitioner(hotKeys) : hashPartitioner();
}

/** Writes topic.json durably: a crash leaves the old or the new one, and a change once made is kept. */
function writeMeta(dir: string, meta: TopicMeta): void {
  const file = path.join(dir, 'topic.json');
  const fd = openSync(`${file}.tmp`, 'w');
  try {
    writeFileSync(fd, JSON.stringify(meta));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${file}.tmp`, file);
  const folder = openSync(dir, 'r');
  try {
    fsyncSync(folder);
  } finally {
    closeSync(folder);
  }
}

