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
const SESSION_TIMEOUT_MS = 10_000;

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
 * Kafka. One process alone is a Kafka group of one, new each run (named after the Tributary group,
 * for the broker's client lists): no stale member of a killed run holds partitions hostage until
 * its session expires. Workers of one job (a shared catalog) join one Kafka group, whose
 * rebalances split the partitions between them as they come and go.
 */
async function readKafka(config: z.output<typeof schema>, group: string, shared: boolean): Promise<StreamInput> {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({ clientId: config.clientId ?? `tributary-${group}`, brokers: config.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const consumer: Consumer = kafka.consumer({
    groupId: shared ? `tributary-${group}` : `tributary-${group}-${randomUUID()}`,
    allowAutoTopicCreation: false,
    // A killed worker's partitions go to the others once its session expires.
    sessionTimeout: SESSION_TIMEOUT_MS,
    heartbeatInterval: SESSION_TIMEOUT_MS / 10,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: config.topic, fromBeginning: true });
  const readRecord = openFormat(config.format);
  let buffer: Fetched[] = [];
  let paused = false;
  /** The positions the job last asked from: where a partition this consumer is given starts. */
  let wanted: ReadonlyMap<number, number> | undefined;
  let assigned = new Set<number>();
  /** Per partition, the offset the next fetched record must have: refetches after a seek are dropped. */
  const expected = new Map<number, number>();
  /** Per partition, the first buffered offset (the expected one when nothing is buffered). */
  const buffered = new Map<number, number>();
  const seek = (partition: number, offset: number) => {
    buffer = buffer.filter((r) => r.partition !== partition);
    expected.set(partition, offset);
    consumer.seek({ topic: config.topic, partition, offset: String(offset) });
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = new Set(event.payload.memberAssignment[config.topic] ?? []);
    buffer = buffer.filter((r) => assigned.has(r.partition));
    for (const partition of assigned) {
      const position = wanted?.get(partition);
      if (position !== undefined) seek(partition, position);
    }
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
      wanted = positions;
      // A partition whose position lies outside what is buffered (the first read, or another
      // worker committed it meanwhile) is fetched again from there.
      buffered.clear();
      for (const r of buffer) if (!buffered.has(r.partition)) buffered.set(r.partition, r.offset);
      for (const partition of assigned) {
        // Never committed: the group starts at the topic's beginning, where the consumer already is.
        const position = positions.get(partition);
        if (position === undefined) continue;
        const next = expected.get(partition);
        if (next === undefined || position > next || position < (buffered.get(partition) ?? next)) seek(partition, position);
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
  create: (config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> => readKafka(config, context.group ?? context.job, Boolean(context.workers)),
});
