import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { z } from 'zod';
import { formatSchema, openFormat } from '../formats/index.js';
import { defineInput, type InputContext, type StreamInput } from './types.js';

interface Fetched {
  partition: number;
  offset: number;
  timestamp: number;
  value: Buffer;
}

const BUFFER_LIMIT = 500_000;

const schema = z
  .object({
    kind: z.literal('kafka'),
    brokers: z.array(z.string().min(1)).min(1),
    topic: z.string().min(1),
    clientId: z.string().optional(),
    format: formatSchema,
  })
  .strict();

/**
 * Reads a Kafka topic. The job decides where each partition starts: its Tributary consumer
 * group's offsets, committed with its sinks' rows, not a Kafka group's; nothing is committed to
 * Kafka. Each process is a Kafka group of one, new each run (named after the Tributary group, for
 * the broker's client lists): no stale member of a killed run holds partitions hostage until its
 * session expires. Workers of one job (a shared catalog) split the partitions by their group in
 * the catalog, as NATS workers do, and pause the rest: a Kafka group's rebalances left new
 * members without partitions for as long as a busy one held them.
 */
async function readKafka(config: z.output<typeof schema>, group: string, workers: InputContext['workers']): Promise<StreamInput> {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({ clientId: config.clientId ?? `tributary-${group}`, brokers: config.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const consumer: Consumer = kafka.consumer({
    groupId: `tributary-${group}-${randomUUID()}`,
    allowAutoTopicCreation: false,
    // Java's consumer fetches up to 50 MB; kafkajs's 10 MB (1 MB a partition) kept a backlog's
    // reads to two thirds of the rate its client reaches with these (2 M events, 143 partitions).
    maxBytes: 50 * 1024 * 1024,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: config.topic, fromBeginning: true });
  const readRecord = openFormat(config.format);
  let buffer: Fetched[] = [];
  let paused = false;
  let assigned: number[] = [];
  /** The partitions this process reads: all it is assigned, or its share of them among the job's workers. */
  let reading = new Set<number>();
  /** Per partition, the offset the next fetched record must have: refetches after a seek are dropped. */
  const expected = new Map<number, number>();
  /** Per partition, the first buffered offset (the expected one when nothing is buffered). */
  const buffered = new Map<number, number>();
  const seek = (partition: number, offset: number) => {
    buffer = buffer.filter((r) => r.partition !== partition);
    expected.set(partition, offset);
    consumer.seek({ topic: config.topic, partition, offset: String(offset) });
  };
  /** Pauses the partitions another worker now reads; the ones this worker takes over are fetched again from their positions. */
  const share = async () => {
    const next = new Set(workers ? await workers.share(assigned) : assigned);
    const given = [...reading].filter((p) => !next.has(p));
    const taken = [...next].filter((p) => !reading.has(p));
    if (given.length) {
      consumer.pause([{ topic: config.topic, partitions: given }]);
      buffer = buffer.filter((r) => next.has(r.partition));
    }
    for (const p of taken) expected.delete(p);
    if (taken.length && !paused) consumer.resume([{ topic: config.topic, partitions: taken }]);
    reading = next;
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = event.payload.memberAssignment[config.topic] ?? [];
    // Read again from the job's positions once assigned (share() decides which).
    reading = new Set();
    expected.clear();
  });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      for (const m of batch.messages) {
        const offset = Number(m.offset);
        if (offset < (expected.get(batch.partition) ?? 0)) continue;
        expected.set(batch.partition, offset + 1);
        buffer.push({ partition: batch.partition, offset, timestamp: Number(m.timestamp), value: m.value ?? Buffer.alloc(0) });
      }
      if (buffer.length > BUFFER_LIMIT && !paused) {
        consumer.pause([{ topic: config.topic, partitions: [...reading] }]);
        paused = true;
      }
    },
  });
  return {
    describe: () => `kafka ${config.brokers.join(',')} topic ${config.topic}`,
    async read(positions, max, batch) {
      await share();
      // A partition whose position lies outside what is buffered (the first read, a partition
      // taken over, another worker committed it meanwhile) is fetched again from there.
      buffered.clear();
      for (const r of buffer) if (!buffered.has(r.partition)) buffered.set(r.partition, r.offset);
      let starts: Map<number, number> | undefined;
      for (const partition of reading) {
        const next = expected.get(partition);
        let position = positions.get(partition);
        if (position === undefined) {
          // Never committed: it starts at the topic's beginning, where a consumer not moved since it was assigned already is.
          if (next !== undefined || !workers) continue;
          starts ??= new Map((await admin.fetchTopicOffsets(config.topic)).map((o) => [o.partition, Number(o.low)]));
          position = starts.get(partition) ?? 0;
        }
        if (next === undefined || position > next || position < (buffered.get(partition) ?? next)) seek(partition, position);
      }
      // Drop anything before the job's positions: a replay after a seek, or a partition given away.
      let keep = 0;
      for (let i = 0; i < buffer.length; i++) {
        const r = buffer[i]!;
        if (!reading.has(r.partition) || r.offset < (positions.get(r.partition) ?? 0)) continue;
        if (batch.count < max) readRecord(batch, r.partition, r.offset, r.timestamp, r.value, 0, r.value.length);
        else buffer[keep++] = r;
      }
      buffer.length = keep;
      if (paused && buffer.length < BUFFER_LIMIT / 2) {
        consumer.resume([{ topic: config.topic, partitions: [...reading] }]);
        paused = false;
      }
      if (!batch.count) await new Promise((resolve) => setTimeout(resolve, 20));
    },
    async lag(positions) {
      const offsets = await admin.fetchTopicOffsets(config.topic);
      return offsets.reduce((sum, o) => sum + Math.max(0, Number(o.high) - (positions.get(o.partition) ?? Number(o.low))), 0);
    },
    async partitions() {
      const offsets = await admin.fetchTopicOffsets(config.topic);
      return offsets.map((o) => ({ partition: o.partition, start: Number(o.low), end: Number(o.high) }));
    },
    async close() {
      await consumer.disconnect();
      await admin.disconnect();
    },
  };
}

export const kafkaInput = defineInput({
  kind: 'kafka',
  description: 'a Kafka topic; positions come from the sinks, nothing is committed to Kafka',
  config: schema,
  fromUrl: (url) => {
    if (!url.hosts.length || !url.path) throw new Error('expected kafka://HOST:PORT[,HOST:PORT…]/TOPIC');
    return { brokers: url.hosts, topic: url.path, clientId: url.options.get('clientId') ?? undefined };
  },
  create: (config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> => readKafka(config, context.group ?? context.job, context.workers),
});
