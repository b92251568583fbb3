import type { Topic } from '../log/index.js';
import type { InputRecord, StreamInput } from './types.js';

/** Reads a topic of the embedded log, round-robin over partitions so none starves. */
export function logInput(topic: Topic): StreamInput {
  return {
    describe: () => `log topic ${topic.name}`,
    async poll(positions, max) {
      const out: InputRecord[] = [];
      const partitions = topic.partitions.map((p) => p.id);
      const share = Math.max(1, Math.ceil(max / partitions.length));
      for (const p of partitions) {
        let position = positions.get(p) ?? topic.partitions[p]!.startOffset;
        let taken = 0;
        while (taken < share && out.length < max) {
          const records = topic.read(p, position, 8 << 20, Math.min(share - taken, max - out.length));
          if (!records.length) break;
          for (const r of records) out.push({ partition: p, offset: r.offset, timestamp: r.timestamp, value: r.value });
          taken += records.length;
          position = records[records.length - 1]!.offset + 1;
        }
      }
      return out;
    },
    async lag(positions) {
      return topic.partitions.reduce((sum, p) => sum + Math.max(0, p.endOffset - (positions.get(p.id) ?? p.startOffset)), 0);
    },
    async close() {},
  };
}
