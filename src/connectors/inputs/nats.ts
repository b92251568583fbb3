import type { Consumer } from '@nats-io/jetstream';
import { z } from 'zod';
import { formatSchema, openFormat } from '../formats/index.js';
import { defineInput, type InputContext, type StreamInput } from './types.js';

/** Messages asked for in one pull request. */
const FETCH_MESSAGES = 50_000;

const schema = z
  .object({ kind: z.literal('nats'), servers: z.string().min(1), stream: z.string().min(1), subject: z.string().optional(), format: formatSchema })
  .strict();

/**
 * Reads a NATS JetStream stream as one partition whose offsets are stream sequence numbers. An
 * ordered consumer starts exactly where the job says (its sinks' committed sequence), so nothing
 * is acknowledged to the server and nothing depends on a durable consumer's state.
 */
async function readNats(config: z.output<typeof schema>): Promise<StreamInput> {
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: config.servers });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const readRecord = openFormat(config.format);
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
      // Ask only for what the stream holds: a pull that waits for more would hold the job for
      // the client's minimum expiry (1 s), and with nothing there the trigger polls again soon.
      const { state } = await jsm.streams.info(config.stream);
      const available = Math.min(max, state.last_seq - Math.max(start, state.first_seq) + 1);
      if (available <= 0) return;
      if (!consumer || from !== start) await open(start);
      while (batch.count < available) {
        const want = Math.min(available - batch.count, FETCH_MESSAGES);
        const messages = await consumer!.fetch({ max_messages: want, expires: 5_000 });
        let got = 0;
        for await (const m of messages) {
          readRecord(batch, 0, m.seq, m.info.timestampNanos / 1e6, m.data, 0, m.data.length);
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
    async partitions() {
      const { state } = await jsm.streams.info(config.stream);
      // Sequences start at 1; an empty stream reports 0 for both.
      const start = Math.max(state.first_seq, 1);
      return [{ partition: 0, start, end: Math.max(state.last_seq + 1, start) }];
    },
    async close() {
      await nc.close();
    },
  };
}

export const natsInput = defineInput({
  kind: 'nats',
  description: 'a NATS JetStream stream, read by sequence from where the sinks left off',
  config: schema,
  create: (config: z.output<typeof schema>, _context: InputContext): Promise<StreamInput> => readNats(config),
});
