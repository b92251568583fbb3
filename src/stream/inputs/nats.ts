import { jetstream, jetstreamManager, type Consumer } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { StreamInput } from './types.js';

/**
 * Reads a NATS JetStream stream as one partition whose offsets are stream sequence numbers. An
 * ordered consumer starts exactly where the job says (its sinks' committed sequence), so nothing
 * is acknowledged to the server and nothing depends on a durable consumer's state.
 */
export async function natsInput(config: { servers: string; stream: string; subject?: string }): Promise<StreamInput> {
  const nc = await connect({ servers: config.servers });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let consumer: Consumer | undefined;
  let from = -1;
  const open = async (start: number) => {
    consumer = await js.consumers.get(config.stream, {
      opt_start_seq: Math.max(start, 1),
      deliver_policy: 'by_start_sequence' as never,
      ...(config.subject ? { filter_subjects: config.subject } : {}),
    });
    from = start;
  };
  return {
    describe: () => `nats ${config.servers} stream ${config.stream}`,
    async read(positions, max, batch) {
      const start = positions.get(0) ?? 1;
      if (!consumer || from !== start) await open(start);
      // Fetch in rounds until the batch is full or the stream has nothing more right now.
      while (batch.count < max) {
        const want = Math.min(max - batch.count, 10_000);
        const messages = await consumer!.fetch({ max_messages: want, expires: batch.count ? 200 : 1000 });
        let got = 0;
        for await (const m of messages) {
          batch.add(0, m.seq, m.info.timestampNanos / 1e6, m.data);
          from = m.seq + 1;
          if (++got >= want) break;
        }
        if (got < want) break;
      }
    },
    async lag(positions) {
      const info = await jsm.streams.info(config.stream);
      return Math.max(0, info.state.last_seq + 1 - (positions.get(0) ?? info.state.first_seq));
    },
    async close() {
      await nc.close();
    },
  };
}
