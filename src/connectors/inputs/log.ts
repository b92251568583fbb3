import { z } from 'zod';
import type { Topic } from '../../log/index.js';
import { formatSchema, openFormat, type RecordReader } from '../formats/index.js';
import { defineInput, type InputContext, type StreamInput } from './types.js';

/** Bytes read from a segment at a time; the read buffer is reused for every read. */
const READ_BYTES = 2 << 20;

/**
 * Reads a topic of the embedded log, round-robin over partitions so none starves, each record
 * through the input's format.
 */
function readTopic(topic: Topic, readRecord: RecordReader): StreamInput {
  const chunk = Buffer.allocUnsafe(READ_BYTES);
  return {
    describe: () => `log topic ${topic.name}`,
    async read(positions, max, batch) {
      const partitions = topic.partitions.map((p) => p.id);
      const share = Math.max(1, Math.ceil(max / partitions.length));
      // Up to the next hot-key change this reader has not reached everywhere: keys stay in order.
      const limits = topic.readLimits(positions);
      for (const p of partitions) {
        let position = positions.get(p) ?? topic.partitions[p]!.startOffset;
        let taken = 0;
        while (taken < share && batch.count < max && position < limits[p]!) {
          const n = topic.scan(
            p,
            position,
            READ_BYTES,
            Math.min(share - taken, max - batch.count, limits[p]! - position),
            (buffer, r) => {
              readRecord(batch, p, r.offset, r.timestamp, buffer, r.valueStart, r.valueEnd);
              position = r.offset + 1;
            },
            chunk,
          );
          if (!n) break;
          taken += n;
          // Let the engine's finished statements continue between chunks: a batch read during
          // the previous batch's commit then overlaps it instead of holding the thread.
          await new Promise((resolve) => setImmediate(resolve));
        }
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
