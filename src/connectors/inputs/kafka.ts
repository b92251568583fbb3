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
 * Kafka.
 */
async function readKafka(config: z.output<typeof schema>, group: string): Promise<StreamInput> {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({ clientId: config.clientId ?? `tributary-${group}`, brokers: config.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  // The Tributary group's offsets live in its sinks. In Kafka each run is a group of one, new each
  // run (named after the Tributary group, for the broker's client lists): no stale member of a
  // killed run can hold partitions hostage until its session expires.
  const consumer: Consumer = kafka.consumer({ groupId: `tributary-${group}-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic: config.topic, fromBeginning: true });
  const readRecord = openFormat(config.format);
  let buffer: Fetched[] = [];
  let paused = false;
  let seeked: ReadonlyMap<number, number> | undefined;
  let assigned = false;
  /** Per partition, the offset the next buffered record must have: refetches after a seek are dropped. */
  const expected = new Map<number, number>();
  const seekAll = (positions: ReadonlyMap<number, number>) => {
    for (const [partition, offset] of positions) {
      buffer = buffer.filter((r) => r.partition !== partition);
      expected.set(partition, offset);
      consumer.seek({ topic: config.topic, partition, offset: String(offset) });
    }
  };
  consumer.on(consumer.events.GROUP_JOIN, () => {
    assigned = true;
    if (seeked) seekAll(seeked);
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
        consumer.pause([{ topic: config.topic }]);
        paused = true;
      }
    },
  });
  return {
    describe: () => `kafka ${config.brokers.join(',')} topic ${config.topic}`,
    async read(positions, max, batch) {
      if (!seeked) {
        seeked = new Map(positions);
        if (assigned) seekAll(positions);
      }
      // Drop anything before the job's positions: a replay after a seek, or a rebalance.
      let keep = 0;
      for (let i = 0; i < buffer.length; i++) {
        const r = buffer[i]!;
        if (r.offset < (positions.get(r.partition) ?? 0)) continue;
        if (batch.count < max) readRecord(batch, r.partition, r.offset, r.timestamp, r.value, 0, r.value.length);
        else buffer[keep++] = r;
      }
      buffer.length = keep;
      if (paused && buffer.length < BUFFER_LIMIT / 2) {
        consumer.resume([{ topic: config.topic }]);
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
  create: (config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> => readKafka(config, context.group ?? context.job),
});
