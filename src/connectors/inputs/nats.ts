import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { formatSchema, openFormat } from '../formats/index.js';
import type { RecordReader } from '../formats/types.js';
import { NatsDataConnection, type Delivery, type DeliveryHandler, type NatsCredentials } from './nats-messages.js';
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

const DOT = 0x2e;
const ZERO = 0x30;

/** The numbers of a delivery's reply subject, read into one object reused for every message of a pull. */
interface ReplyNumbers {
  sequence: number;
  consumerSequence: number;
  nanos: number;
  /** Where the numbers start, past the text every reply of the pull's consumer starts with; -1 before the first. */
  numbersAt: number;
}

/**
 * Reads `$JS.ACK.[<domain>.<account hash>.]<stream>.<consumer>.<delivered>.<stream seq>.<consumer
 * seq>.<time ns>.<pending>[.<token>]` into `into`. The numbers' place is found by counting dots in
 * the first reply of a pull (8, or 11 from NATS 2.10 on): the text before them is the same in
 * every reply of one consumer. False when the subject is none of these.
 */
function readReply(source: Uint8Array, start: number, end: number, into: ReplyNumbers): boolean {
  if (into.numbersAt < 0 || !numbersFrom(source, start + into.numbersAt, end, into)) {
    let dots = 0;
    let afterFourthDot = -1;
    let afterSixthDot = -1;
    for (let at = start; at < end; at++) {
      if (source[at] !== DOT) continue;
      dots++;
      if (dots === 4) afterFourthDot = at + 1;
      if (dots === 6) afterSixthDot = at + 1;
    }
    if (dots !== 8 && dots !== 11) return false;
    into.numbersAt = (dots === 8 ? afterFourthDot : afterSixthDot) - start;
    if (!numbersFrom(source, start + into.numbersAt, end, into)) return false;
  }
  return true;
}

/** `<delivered>.<stream seq>.<consumer seq>.<time ns>.` from `at`; false where a digit or dot is missing. */
function numbersFrom(source: Uint8Array, at: number, end: number, into: ReplyNumbers): boolean {
  let field = 0;
  let value = 0;
  let digits = 0;
  for (; at < end; at++) {
    const b = source[at]!;
    if (b === DOT) {
      if (!digits) return false;
      if (field === 1) into.sequence = value;
      else if (field === 2) into.consumerSequence = value;
      else if (field === 3) {
        into.nanos = value;
        return true;
      }
      field++;
      value = 0;
      digits = 0;
      continue;
    }
    const digit = b - ZERO;
    if (digit < 0 || digit > 9) return false;
    value = value * 10 + digit;
    digits++;
  }
  return false;
}

/**
 * Where a pull's deliveries come from: a connection of the input's own read in place
 * (NatsDataConnection), or the client library's subscription where the server asks TLS or
 * credentials. `subscribe` returns the unsubscription.
 */
interface DeliveryChannel {
  subscribe(inbox: string, handler: DeliveryHandler, onBreak: () => void): () => void;
  request(subject: string, inbox: string, payload: string): void;
}

function libraryChannel(nc: NatsConnection): DeliveryChannel {
  const delivery: Delivery = { source: new Uint8Array(0), replySource: new Uint8Array(0), replyStart: -1, replyEnd: -1, payloadStart: 0, payloadEnd: 0, status: 0 };
  return {
    subscribe(inbox, handler, onBreak) {
      const subscription = nc.subscribe(inbox, {
        callback: (error, message) => {
          if (error) return onBreak();
          const reply = message.reply ? Buffer.from(message.reply, 'latin1') : undefined;
          delivery.source = message.data;
          delivery.payloadStart = 0;
          delivery.payloadEnd = message.data.length;
          delivery.replySource = reply ?? delivery.replySource;
          delivery.replyStart = reply ? 0 : -1;
          delivery.replyEnd = reply ? reply.length : -1;
          delivery.status = reply ? 0 : (message.headers?.code ?? 0);
          handler(delivery);
        },
      });
      return () => subscription.unsubscribe();
    },
    request: (subject, inbox, payload) => nc.publish(subject, payload, { reply: inbox }),
  };
}

function rawChannel(connection: NatsDataConnection): DeliveryChannel {
  return {
    subscribe(inbox, handler, onBreak) {
      const sid = connection.subscribe(inbox, handler);
      const stopListening = connection.onBreak(onBreak);
      return () => {
        stopListening();
        connection.unsubscribe(sid);
      };
    },
    request: (subject, inbox, payload) => connection.publish(subject, inbox, payload),
  };
}

/**
 * Pulls up to `want` messages of one consumer, each handed to the format as bytes with the stream
 * sequence and time its reply subject carries: no message object, no async iterator, no
 * acknowledgement (the consumer acknowledges nothing). Requests ask for `PULL_MESSAGES` at a time,
 * the next sent when the one before is half delivered: one request for a whole batch had the
 * server push more than its outbound limit to a client busy with the engine, and it dropped the
 * connection as a slow consumer. It stops early at a status (the server has no more), at a gap in
 * the consumer's sequence (messages lost between server and client: the consumer is made again
 * from the last one read), when the connection breaks or when the server stops answering (a
 * consumer it deleted, a request lost with a dropped connection).
 */
function pull(channel: DeliveryChannel, inbox: string, stream: string, consumer: PartitionConsumer, partition: number, want: number, readRecord: RecordReader, batch: RecordSink) {
  return new Promise<{ got: number; broken: boolean }>((resolve) => {
    let got = 0;
    let asked = 0;
    let seen = -1;
    let done = false;
    const reply: ReplyNumbers = { sequence: 0, consumerSequence: 0, nanos: 0, numbersAt: -1 };
    const ask = () => {
      const size = Math.min(PULL_MESSAGES, want - asked);
      asked += size;
      channel.request(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer.name}`, inbox, JSON.stringify({ batch: size, no_wait: true }));
    };
    const finish = (broken: boolean) => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      unsubscribe();
      resolve({ got, broken });
    };
    const unsubscribe = channel.subscribe(
      inbox,
      (d) => {
        if (done) return;
        // A message without a reply is a status: 404 or 408 once the server has no more, 409 when the consumer went away.
        if (d.replyStart < 0) return finish(d.status === 409);
        // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>, with
        // <domain>.<account hash> after ACK and a token at the end from NATS 2.10 on. Read in place,
        // from where the numbers start: what comes before them is the same in every message.
        if (!readReply(d.replySource, d.replyStart, d.replyEnd, reply)) return finish(true);
        if (reply.consumerSequence !== consumer.delivered + 1) return finish(true);
        consumer.delivered = reply.consumerSequence;
        consumer.from = reply.sequence + 1;
        // Whole milliseconds, as every other input's times: messages of one millisecond then share its text in the batch.
        const sequence = reply.sequence;
        const time = Math.floor(reply.nanos / 1e6);
        readRecord(batch, partition, sequence, time, d.source, d.payloadStart, d.payloadEnd);
        if (++got >= want) return finish(false);
        if (asked < want && asked - got <= PULL_MESSAGES / 2) ask();
      },
      () => finish(true),
    );
    const watchdog = setInterval(() => {
      if (got === seen) finish(true);
      seen = got;
    }, STALLED_MS);
    ask();
    if (asked < want) ask();
  });
}

/**
 * The servers of `servers` (`host:port`, `nats://host:port`, `tls://host:port`, comma-separated)
 * without the user and password a URL may carry (`nats://user:password@host:4222`, from an
 * environment variable such as CLICKSTREAM_INPUT): those go to the connection, never into a
 * description or a log line.
 */
function serversOf(text: string): { servers: string[]; credentials: NatsCredentials } {
  let credentials: NatsCredentials = {};
  const servers = text.split(',').map((server) => {
    const url = new URL(server.includes('://') ? server : `nats://${server}`);
    // nats://user:password@host, or nats://token@host: NATS's own URL forms.
    if (url.username) credentials = url.password ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : { token: decodeURIComponent(url.username) };
    return server.includes('://') ? `${url.protocol}//${url.host}` : url.host;
  });
  return { servers, credentials };
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
  const { servers, credentials } = serversOf(config.servers);
  const nc = await connect({ servers, ...credentials }).catch((error: Error) => {
    throw new TributaryError(`cannot connect to NATS at ${servers.join(',')}: ${error.message}`, {
      hint: "check that a NATS server with JetStream (nats-server -js) answers there, and the input's servers",
    });
  });
  const jsm = await jetstreamManager(nc);
  // A partition's end is asked by subject, which does not tell a missing stream from an empty one.
  await jsm.streams.info(config.stream).catch(async (error: Error) => {
    await nc.close();
    throw new TributaryError(`NATS stream ${config.stream} at ${servers.join(',')}: ${error.message}`, {
      hint: `create it (nats stream add ${config.stream}) or name an existing one in the input's stream`,
    });
  });
  const readRecord = openFormat(config.format);
  let data: NatsDataConnection | undefined;
  /** The raw connection while it works, reopened after a break; the library where the server asks TLS or credentials. */
  const channel = async (): Promise<DeliveryChannel> => {
    if (data?.broken) {
      data.close();
      data = undefined;
    }
    data ??= await NatsDataConnection.open(servers, credentials);
    return data ? rawChannel(data) : libraryChannel(nc);
  };
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
    describe: () => `nats ${servers.join(',')} stream ${config.stream}${config.partitions > 1 ? ` (${config.partitions} partitions)` : ''}`,
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
        const { broken } = await pull(await channel(), `_INBOX.${shortName()}`, config.stream, consumer, partition, want, readRecord, batch);
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
      data?.close();
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
