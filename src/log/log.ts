import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { TributaryError } from '../core/errors.js';
import { Partition, type RetentionPolicy } from './partition.js';
import { hashPartitioner, type Partitioner } from './partitioner.js';
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

interface TopicMeta {
  partitions: number;
  retention: RetentionPolicy;
  segmentBytes: number;
  syncEveryAppend: boolean;
}

export class Topic {
  readonly partitions: Partition[];

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly meta: TopicMeta,
    private partitioner: Partitioner = hashPartitioner(),
  ) {
    this.partitions = Array.from(
      { length: meta.partitions },
      (_, i) => new Partition(path.join(dir, String(i)), i, { segmentBytes: meta.segmentBytes, syncEveryAppend: meta.syncEveryAppend, retention: meta.retention }),
    );
  }

  usePartitioner(partitioner: Partitioner): void {
    this.partitioner = partitioner;
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
    for (const [p, group] of groups) offsets.set(p, { first: this.partitions[p]!.append(group, now), count: group.length });
    return { offsets, count: records.length };
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

  /** Consumer-group offsets: the next offset to read, per partition. */
  committed(group: string): number[] {
    const file = this.groupFile(group);
    const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as number[]) : [];
    return this.partitions.map((p, i) => Math.max(saved[i] ?? 0, p.startOffset));
  }

  commit(group: string, offsets: readonly number[]): void {
    const file = this.groupFile(group);
    mkdirSync(path.dirname(file), { recursive: true });
    // Write then rename: a crash leaves the old or the new offsets, never half of either.
    writeFileSync(`${file}.tmp`, JSON.stringify(offsets));
    renameSync(`${file}.tmp`, file);
  }

  groups(): string[] {
    const dir = path.join(this.dir, '__groups');
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : [];
  }

  private groupFile(group: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(group)) throw new TributaryError(`invalid consumer group name '${group}'`, { hint: 'use letters, digits, _ . -' });
    return path.join(this.dir, '__groups', `${group}.json`);
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
 * (a lock file says which). Kafka's model, without the cluster: for one machine.
 */
export class Log {
  private readonly topics = new Map<string, Topic>();
  private lockFd: number | undefined;

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
    this.lock();
  }

  private lock(): void {
    const file = path.join(this.root, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.lockFd = openSync(file, 'wx');
        writeSync(this.lockFd, String(process.pid));
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(readFileSync(file, 'utf8'));
        if (owner && owner !== process.pid && isAlive(owner)) {
          throw new TributaryError(`the log at ${this.root} is in use by process ${owner}`, {
            hint: 'send events through that process (tributary produce --to http://127.0.0.1:PORT) or stop it first',
          });
        }
        rmSync(file, { force: true }); // left by a process that died
      }
    }
  }

  topic(name: string, options?: TopicOptions): Topic {
    const existing = this.topics.get(name);
    if (existing) return existing;
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
      writeFileSync(metaFile, JSON.stringify(meta));
    }
    const topic = new Topic(name, dir, meta);
    this.topics.set(name, topic);
    return topic;
  }

  close(): void {
    for (const t of this.topics.values()) t.close();
    this.topics.clear();
    if (this.lockFd !== undefined) {
      closeSync(this.lockFd);
      rmSync(path.join(this.root, 'LOCK'), { force: true });
      this.lockFd = undefined;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
