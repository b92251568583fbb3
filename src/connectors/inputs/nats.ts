import type { Consumer } from '@nats-io/jetstream';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { formatSchema, openFormat } from '../formats/index.js';
import { defineInput, type InputContext, type StreamInput } from './types.js';

/** Messages asked for in one pull request. */
const FETCH_MESSAGES = 50_000;
const PARTITION = '{partition}';

const schema = z
  .object({
    kind: z.literal('nats'),
    servers: z.string().min(1),
    stream: z.string().min(1),
    subject: z.string().optional(),
    /** Subjects `subject` names with `{partition}` replaced by 0 … partitions − 1, each read in order on its own. */
    partitions: z.number().int().min(1).max(1024).default(1),
    format: formatSchema,
  })
  .strict()
  .refine((c) => c.partitions === 1 || c.subject?.includes(PARTITION), {
    message: `with partitions, subject must name each partition's subject with ${PARTITION} (e.g. 'clicks.${PARTITION}')`,
    path: ['subject'],
  });

/**
 * Reads a NATS JetStream stream. A partition's offsets are stream sequence numbers: the whole
 * stream is one partition, or each subject `subject` names with `{partition}` is one, read in
 * sequence order by an ordered consumer that starts exactly where the job says (its sinks'
 * committed sequence), so nothing is acknowledged to the server and nothing depends on a durable
 * consumer's state. Workers of one job split the partitions through their group in the catalog:
 * NATS 2.9's durable pull consumers hand out messages, not partitions, so they cannot keep a
 * partition's order within one worker.
 */
async function readNats(config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> {
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: config.servers.split(',') });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  // A partition's end is asked by subject, which does not tell a missing stream from an empty one.
  await jsm.streams.info(config.stream).catch(async (error: Error) => {
    await nc.close();
    throw new TributaryError(`NATS stream ${config.stream} at ${config.servers}: ${error.message}`, {
      hint: `create it (nats stream add ${config.stream}) or name an existing one in the input's stream`,
    });
  });
  const readRecord = openFormat(config.format);
  const all = Array.from({ length: config.partitions }, (_, p) => p);
  const subjectOf = (partition: number) => (config.partitions > 1 ? config.subject!.replaceAll(PARTITION, String(partition)) : config.subject);
  /** Per partition, its ordered consumer and the sequence it delivers next. */
  const consumers = new Map<number, { consumer: Consumer; from: number }>();
  const open = async (partition: number, start: number) => {
    const subject = subjectOf(partition);
    const consumer = await js.consumers.get(config.stream, {
      opt_start_seq: Math.max(start, 1),
      deliver_policy: 'by_start_sequence' as never,
      ...(subject ? { filter_subjects: subject } : {}),
    });
    const opened = { consumer, from: start };
    consumers.set(partition, opened);
    return opened;
  };
  /** The sequence after a partition's last message (0 when it has none). */
  const endOf = async (partition: number): Promise<number> => {
    if (config.partitions === 1) return (await jsm.streams.info(config.stream)).state.last_seq + 1;
    const last = await jsm.streams.getMessage(config.stream, { last_by_subj: subjectOf(partition)! }).catch(() => null);
    return last ? last.seq + 1 : 0;
  };
  const mine = () => (context.workers ? context.workers.share(all) : Promise.resolve(all));
  return {
    describe: () => `nats ${config.servers} stream ${config.stream}${config.partitions > 1 ? ` (${config.partitions} partitions)` : ''}`,
    async read(positions, max, batch) {
      for (const partition of await mine()) {
        if (batch.count >= max) break;
        const start = positions.get(partition) ?? 1;
        // Ask only for what is there: a pull that waits for more would hold the job for the
        // client's minimum expiry (1 s), and with nothing there the trigger polls again soon.
        if ((await endOf(partition)) <= start) continue;
        let current = consumers.get(partition);
        if (!current || current.from !== start) current = await open(partition, start);
        const pending = (await current.consumer.info()).num_pending;
        const available = Math.min(max - batch.count, pending);
        let got = 0;
        while (got < available) {
          const want = Math.min(available - got, FETCH_MESSAGES);
          const messages = await current.consumer.fetch({ max_messages: want, expires: 5_000 });
          let fetched = 0;
          for await (const m of messages) {
            readRecord(batch, partition, m.seq, m.info.timestampNanos / 1e6, m.data, 0, m.data.length);
            current.from = m.seq + 1;
            if (++fetched >= want) break;
          }
          got += fetched;
          if (fetched < want) break;
        }
      }
    },
    async lag(positions) {
      // A partition's sequences are not contiguous (others' subjects sit between them): its lag is
      // at most the distance to its end, and zero exactly when the job has read all of it.
      let lag = 0;
      for (const partition of await mine()) lag += Math.max(0, (await endOf(partition)) - (positions.get(partition) ?? 1));
      return lag;
    },
    async partitions() {
      const { state } = await jsm.streams.info(config.stream);
      // Sequences start at 1; an empty stream reports 0 for both.
      const start = Math.max(state.first_seq, 1);
      return Promise.all(all.map(async (partition) => ({ partition, start, end: Math.max(await endOf(partition), start) })));
    },
    async close() {
      await nc.close();
    },
  };
}

export const natsInput = defineInput({
  kind: 'nats',
  description: 'a NATS JetStream stream (or one subject per partition), read by sequence from where the sinks left off',
  config: schema,
  fromUrl: (url) => {
    if (!url.hosts.length || !url.path) throw new Error(`expected nats://HOST:PORT[,HOST:PORT…]/STREAM[?subject=SUBJECT.${PARTITION}&partitions=N]`);
    const partitions = url.options.get('partitions');
    return { servers: url.hosts.join(','), stream: url.path, subject: url.options.get('subject') ?? undefined, partitions: partitions === null ? undefined : Number(partitions) };
  },
  create: (config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> => readNats(config, context),
});
