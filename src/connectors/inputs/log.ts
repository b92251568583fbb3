import { z } from 'zod';
import type { Topic } from '../../log/index.js';
import { formatSchema, openFormat, type RecordReader } from '../formats/index.js';
import { defineInput, type InputContext, type StreamInput } from './types.js';

/** Bytes read from a segment at a time; the read buffer is reused for every read. */
const READ_BYTES = 2 << 20;

/**
 * Reads a topic of the embedded log, round-robin over partitions so none starves, each record
 * through the input's format. It follows the topic: a read with `until` (the job reading ahead
 * while the engine works on the batch before) takes every record the collector appends meanwhile,
 * waiting on the topic's appends rather than a timer, and when the job asks, takes what the topic
 * holds then and hands the batch over. A read without it takes what the topic holds when it
 * starts: the engine never sits idle while a batch fills up behind a busy collector.
 */
function readTopic(topic: Topic, readRecord: RecordReader): StreamInput {
  const chunk = Buffer.allocUnsafe(READ_BYTES);
  return {
    describe: () => `log topic ${topic.name}`,
    follows: true,
    async read(positions, max, batch, until) {
      const partitions = topic.partitions.map((p) => p.id);
      const share = Math.max(1, Math.ceil(max / partitions.length));
      // Up to the next hot-key change this reader has not reached everywhere: keys stay in order.
      const limits = topic.readLimits(positions);
      const at = new Map(partitions.map((p) => [p, positions.get(p) ?? topic.partitions[p]!.startOffset]));
      const taken = new Map(partitions.map((p) => [p, 0]));
      const appended = () => topic.endOffsets().reduce((sum, end) => sum + end, 0);
      const full = () => batch.count >= max || partitions.every((p) => taken.get(p)! >= share);
      /** One pass over the partitions, each up to what it holds when the pass starts. */
      const pass = async (): Promise<void> => {
        const ends = topic.endOffsets();
        for (const p of partitions) {
          let position = at.get(p)!;
          const end = Math.min(limits[p]!, ends[p]!);
          while (taken.get(p)! < share && batch.count < max && position < end) {
            const n = topic.scan(
              p,
              position,
              READ_BYTES,
              Math.min(share - taken.get(p)!, max - batch.count, end - position),
              (buffer, r) => {
                readRecord(batch, p, r.offset, r.timestamp, buffer, r.valueStart, r.valueEnd);
                position = r.offset + 1;
              },
              chunk,
            );
            at.set(p, position);
            if (!n) break;
            taken.set(p, taken.get(p)! + n);
            // Let the engine's finished statements (and the collector's requests) go on between
            // chunks: a batch read during the previous batch's commit then overlaps it.
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
      };
      for (;;) {
        const before = appended();
        await pass();
        if (!until || full()) break;
        if (until.aborted) {
          // The job wants the batch: what was appended while the last pass ran goes in it too.
          if (appended() !== before) await pass();
          break;
        }
        // Only a topic that has not moved since the pass began is waited on (nothing appends
        // between this check and the wait: one thread).
        if (appended() === before) await topic.nextAppend(until);
      }
    },
    async lag(positions) {
      return topic.partitions.reduce((sum, p) => sum + Math.max(0, p.endOffset - (positions.get(p.id) ?? p.startOffset)), 0);
    },
    async partitions() {
      return topic.partitions.map((p) => ({ partition: p.id, start: p.startOffset, end: p.endOffset }));
    },
    async close() {},
  };
}

const schema = z.object({ kind: z.literal('log'), topic: z.string().min(1), format: formatSchema }).strict();

export const logInput = defineInput({
  kind: 'log',
  description: "a topic of the project's embedded log (the collector and `tributary produce` write to it)",
  config: schema,
  local: true,
  create: async (config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> => readTopic(context.log.topic(config.topic), openFormat(config.format)),
});
