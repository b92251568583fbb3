import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { formatSchema, openFormat } from '../formats/index.js';
import type { RecordReader } from '../formats/types.js';
import { defineInput, type InputContext, type RecordSink, type StreamInput } from './types.js';

const PARTITION = '{partition}';
/** Messages asked for in one pull request: with the next request, at most about 30 MB of clickstream events in flight. */
const PULL_MESSAGES = 50_000;
/** A pull that has delivered nothing for this long is abandoned and its consumer made again. */
const STALLED_MS = 2_000;
/** The server deletes a consumer idle this long, so one a killed job left behind goes away by itself. */
const INACTIVE_NANOS = 5 * 60 * 1e9;

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

/** A partition's consumer: its server-side name, the stream sequence it delivers next and the last consumer sequence seen. */
interface PartitionConsumer {
  name: string;
  from: number;
  delivered: number;
}

/** Eight random letters and digits: unique enough for a consumer of a stream or an inbox of a connection. */
function shortName(): string {
  return randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
}

/** Where the dots of a reply subject are (it has 8, or 11 from NATS 2.10 on). */
const DOTS = new Int32Array(16);

/** The decimal number `text[start, end)` holds (a time in nanoseconds loses only digits below the millisecond). */
function digitsAt(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + (text.charCodeAt(i) - 48);
  return value;
}

/**
 * Pulls up to `want` messages of one consumer straight off a core subscription, each handed to the
 * format as bytes with the stream sequence and time its reply subject carries: no message object,
 * no async iterator, no acknowledgement (the consumer acknowledges nothing). Requests ask for
 * `PULL_MESSAGES` at a time, the next sent when the one before is half delivered: one request for
 * a whole batch had the server push more than its outbound limit to a client busy with the
 * engine, and it dropped the connection as a slow consumer. It stops early at a status (the
 * server has no more), at a gap in the consumer's sequence (messages lost between server and
 * client: the consumer is made again from the last one read) or when the server stops answering
 * (a consumer it deleted, a request lost with a dropped connection).
 */
function pull(nc: NatsConnection, inbox: string, stream: string, consumer: PartitionConsumer, partition: number, want: number, readRecord: RecordReader, batch: RecordSink) {
  return new Promise<{ got: number; broken: boolean }>((resolve) => {
    let got = 0;
    let asked = 0;
    let seen = -1;
    const ask = () => {
      const size = Math.min(PULL_MESSAGES, want - asked);
      asked += size;
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer.name}`, JSON.stringify({ batch: size, no_wait: true }), { reply: inbox });
    };
    const finish = (broken: boolean) => {
      clearInterval(watchdog);
      subscription.unsubscribe();
      resolve({ got, broken });
    };
    const subscription = nc.subscribe(inbox, {
      callback: (error, message) => {
        if (error) return finish(true);
        const reply = message.reply;
        // A message without a reply is a status: 404 or 408 once the server has no more, 409 when the consumer went away.
        if (!reply) return finish(message.headers?.code === 409);
        // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>, with
        // <domain>.<account hash> after ACK and a token at the end from NATS 2.10 on. Read in place:
        // splitting it made nine strings a message.
        let dots = 0;
        for (let at = reply.indexOf('.'); at !== -1; at = reply.indexOf('.', at + 1)) DOTS[dots++] = at;
        const first = dots === 8 ? 4 : 6;
        const sequence = digitsAt(reply, DOTS[first]! + 1, DOTS[first + 1]!);
        const consumerSequence = digitsAt(reply, DOTS[first + 1]! + 1, DOTS[first + 2]!);
        if (consumerSequence !== consumer.delivered + 1) return finish(true);
        consumer.delivered = consumerSequence;
        consumer.from = sequence + 1;
        // Whole milliseconds, as every other input's times: messages of one millisecond then share its text in the batch.
        const time = Math.floor(digitsAt(reply, DOTS[first + 2]! + 1, DOTS[first + 3]!) / 1e6);
        const data = message.data;
        readRecord(batch, partition, sequence, time, data, 0, data.length);
        if (++got >= want) return finish(false);
        if (asked < want && asked - got <= PULL_MESSAGES / 2) ask();
      },
    });
    const watchdog = setInterval(() => {
      if (got === seen) finish(true);
      seen = got;
    }, STALLED_MS);
    ask();
    if (asked < want) ask();
  });
}

/**
 * Reads a NATS JetStream stream. A partition's offsets are stream sequence numbers: the whole
 * stream is one partition, or each subject `subject` names with `{partition}` is one, read in
 * sequence order by an ephemeral consumer that starts exactly where the job says (its sinks'
 * committed sequence) and acknowledges nothing, so nothing depends on a durable consumer's state.
 * Workers of one job split the partitions through their group in the catalog: NATS 2.9's durable
 * pull consumers hand out messages, not partitions, so they cannot keep a partition's order within
 * one worker.
 */
async function readNats(config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: config.servers.split(',') });
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
  const consumers = new Map<number, PartitionConsumer>();
  const drop = (partition: number) => {
    const current = consumers.get(partition);
    consumers.delete(partition);
    if (current) void jsm.consumers.delete(config.stream, current.name).catch(() => undefined);
  };
  /** The partition's consumer from `start` on, and how many messages it has to deliver. */
  const consumerFrom = async (partition: number, start: number): Promise<{ consumer: PartitionConsumer; pending: number }> => {
    const current = consumers.get(partition);
    if (current?.from === start) {
      const info = await jsm.consumers.info(config.stream, current.name).catch(() => null);
      if (info) return { consumer: current, pending: info.num_pending };
    }
    drop(partition);
    const subject = subjectOf(partition);
    const info = await jsm.consumers.add(config.stream, {
      // A short name: it is in every message's reply subject, which the client parses byte by byte.
      name: shortName(),
      ack_policy: 'none' as never,
      deliver_policy: 'by_start_sequence' as never,
      opt_start_seq: Math.max(start, 1),
      inactive_threshold: INACTIVE_NANOS,
      mem_storage: true,
      num_replicas: 1,
      ...(subject ? { filter_subject: subject } : {}),
    });
    const consumer = { name: info.name, from: start, delivered: 0 };
    consumers.set(partition, consumer);
    return { consumer, pending: info.num_pending };
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
        // Ask only for what is there: a pull that waits for more would hold the job, and with
        // nothing there the trigger polls again soon.
        if ((await endOf(partition)) <= start) continue;
        const { consumer, pending } = await consumerFrom(partition, start);
        const want = Math.min(max - batch.count, pending);
        if (want <= 0) continue;
        const { broken } = await pull(nc, `_INBOX.${shortName()}`, config.stream, consumer, partition, want, readRecord, batch);
        if (broken) drop(partition);
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
      await Promise.all([...consumers.values()].map((c) => jsm.consumers.delete(config.stream, c.name).catch(() => undefined)));
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
