import { withFamily } from '../../core/component.js';
import type { z } from 'zod';
import type { Component, ComponentUrl } from '../../core/component.js';
import type { Log } from '../../log/index.js';

/**
 * Where an input puts the records of one micro-batch. Inputs hand over bytes and positions, never
 * per-record objects, so a batch of half a million events is staged with little more than a copy.
 */
export interface RecordSink {
  /** Records added so far. */
  readonly count: number;
  /**
   * Adds one record: its value is `source[start, end)`. `timestamp` is when the event entered the
   * log or broker (ms); end-to-end latency is measured from there.
   */
  add(partition: number, offset: number, timestamp: number, source: Uint8Array, start?: number, end?: number): void;
  /**
   * Adds a record the input already knows is bad (a text line with the wrong number of fields,
   * say): it becomes a dead letter with `reason` and its value `source[start, end)` as it came,
   * and its offset is consumed like any other, so it is neither dropped nor retried.
   */
  reject(partition: number, offset: number, timestamp: number, reason: string, source: Uint8Array, start?: number, end?: number): void;
}

/**
 * Where a stream job reads from: the embedded log, Kafka, NATS JetStream, a spool folder. Positions are chosen
 * by the job (from its sinks' committed offsets), never by the broker, which is what makes
 * exactly-once possible.
 */
export interface StreamInput {
  describe(): string;
  /**
   * Adds up to `max` records at or after each partition's position to `batch`: what the input
   * holds now. With `until` (an input that `follows`), it goes on taking records as they arrive
   * until the signal says the job wants the batch, and returns then with what it has.
   */
  read(positions: ReadonlyMap<number, number>, max: number, batch: RecordSink, until?: AbortSignal): Promise<void>;
  /**
   * `read` honours `until`: a batch read while the engine works on the one before takes every
   * record that arrives meanwhile, so the job reads ahead at any rate, not only with a backlog.
   */
  readonly follows?: boolean;
  /** Records available beyond the positions. */
  lag(positions: ReadonlyMap<number, number>): Promise<number>;
  /**
   * Per partition, the first offset the source still holds and the offset its next record will
   * get: with a group's committed offsets, what `tributary status` and /metrics show as lag.
   */
  partitions(): Promise<PartitionRange[]>;
  close(): Promise<void>;
}

export interface PartitionRange {
  partition: number;
  start: number;
  end: number;
}

/** What an input is made with. */
export interface InputContext {
  /** The stream job reading it. */
  job: string;
  /** Its consumer group (the job's name unless the stream names one): named where a broker shows its clients. */
  group?: string;
  /** The project's embedded log (owned by this process). */
  log: Log;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
  /** The job's own state folder. */
  stateDir: string;
  /**
   * Set when several processes run the job (workers on a shared catalog): they split the input's
   * partitions. `share` says which of them this process reads now.
   */
  workers?: { share(partitions: readonly number[]): Promise<number[]> };
}

export type InputComponent<Kind extends string = string, Config extends z.ZodType = z.ZodType> = Component<Kind, Config, InputContext, Promise<StreamInput>> & {
  /**
   * What it reads belongs to the process that reads it (the embedded log, written by that
   * process's collector): on a shared catalog each process reads all of its own, under offsets of
   * its own, and a worker without a collector does not run the job.
   */
  readonly local?: boolean;
  /** Its config from a URL whose scheme is its kind (`kafka://host:9092/topic`), where it has one. */
  readonly fromUrl?: (url: ComponentUrl) => Omit<z.input<Config>, 'kind'>;
};

/** A stream input (Tributary's or a project's): `kind` names it in a stream's `input`. */
export function defineInput<const Kind extends string, Config extends z.ZodType>(component: InputComponent<Kind, Config>) {
  return withFamily('input', 'kind', component);
}
