import { createRequire } from 'node:module';
import type { Admin, Kafka } from 'kafkajs';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { formatSchema, openFormat } from '../formats/index.js';
import { KafkaFetchConnection } from './kafka-fetch.js';
import { readFetchResponse, type PartitionRead } from './kafka-records.js';
import { defineInput, type InputContext, type StreamInput } from './types.js';

const schema = z
  .object({
    kind: z.literal('kafka'),
    brokers: z.array(z.string().min(1)).min(1),
    topic: z.string().min(1),
    clientId: z.string().optional(),
    format: formatSchema,
  })
  .strict();

/** Bytes a fetch asks of one partition: Java's consumer default is 1 MiB; a backlog reads faster with more. */
const PARTITION_BYTES = 4 * 1024 * 1024;
/** Bytes a fetch asks of one broker at most (Java's fetch.max.bytes). */
const FETCH_BYTES = 50 * 1024 * 1024;
/** How long a broker holds a fetch that finds nothing: the job polls again on its trigger. */
const FETCH_WAIT_MS = 10;
const READ_COMMITTED = 1;
/** Kafka's error codes a fetch answers with when the metadata is stale: the partition moved. */
const STALE_METADATA = new Set([3, 5, 6, 74, 75, 100]);
const OFFSET_OUT_OF_RANGE = 1;
/** How long reads may find no broker before the job fails saying so. */
const BROKER_LOSS_MS = 30_000;

/** A broker gone or not answering: kafkajs's connection, request-timeout and metadata errors. */
function isBrokerLoss(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? '';
  return /KafkaJS(Connection|ConnectionClosed|RequestTimeout|BrokerNotFound|MetadataNotLoaded|TopicMetadataNotLoaded|NumberOfRetriesExceeded|Protocol)Error/.test(name) && !(error instanceof TributaryError);
}

/**
 * What of kafkajs the input uses beyond its public API: a cluster (connections, TLS, SASL,
 * metadata, leaders, API versions) and a broker's connection pool, to send Fetch requests whose
 * responses are read in place (kafka-records.ts) instead of being decoded into an object per
 * record. kafkajs is pinned exactly; the broker tests run this path against a real broker.
 */
interface KafkaCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<KafkaBroker>;
}

interface KafkaBroker {
  lookupRequest(apiKey: number, definition: unknown): (request: FetchArguments) => ProtocolRequest;
  connectionPool: { host: string; port: number; send(request: ProtocolRequest): Promise<Buffer> };
}

interface FetchArguments {
  isolationLevel: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
}

interface ProtocolRequest {
  request: { apiKey: number; apiVersion: number; encode(): Promise<unknown> };
  response: { decode(payload: Buffer): Promise<unknown>; parse(decoded: unknown): Promise<unknown> };
}

const require = createRequire(import.meta.url);

function clusterOf(kafka: Kafka): KafkaCluster {
  const create = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  if (!create) throw new TributaryError('the installed kafkajs has no cluster to fetch with', { hint: 'reinstall Tributary: it pins kafkajs 2.2.4' });
  const make = (kafka as unknown as Record<symbol, (options: object) => KafkaCluster>)[create]!;
  return make({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED, maxInFlightRequests: null });
}

interface KafkaProtocol {
  requests: { Fetch: unknown };
  apiKeys: { Fetch: number };
  createErrorFromCode(code: number): Error;
  /** kafkajs's framing of a request: size, API key and version, correlation id, client id, body. */
  encodeRequest(options: { correlationId: number; clientId: string; request: ProtocolRequest['request'] }): Promise<{ buffer: Buffer }>;
}

let protocol: KafkaProtocol | undefined;
/** Loaded by the first Kafka input, not by every command (kafkajs is some 30 ms of a CLI's start). */
function kafkaProtocol(): KafkaProtocol {
  return (protocol ??= {
    requests: (require('kafkajs/src/protocol/requests/index.js') as { requests: KafkaProtocol['requests'] }).requests,
    apiKeys: require('kafkajs/src/protocol/requests/apiKeys.js') as KafkaProtocol['apiKeys'],
    createErrorFromCode: (require('kafkajs/src/protocol/error.js') as Pick<KafkaProtocol, 'createErrorFromCode'>).createErrorFromCode,
    encodeRequest: require('kafkajs/src/protocol/request.js') as KafkaProtocol['encodeRequest'],
  });
}

/** The response handed back as it came: readFetchResponse reads it. */
const RAW_RESPONSE: ProtocolRequest['response'] = { decode: async (payload) => payload, parse: async (payload) => payload };

/**
 * Reads a Kafka topic by partition and offset, as Spark's and Flink's Kafka sources do: the job
 * says where each partition starts (its Tributary consumer group's offsets, committed with its
 * sinks' rows) and nothing is committed to Kafka, so no Kafka consumer group is joined and no
 * rebalance can hold partitions hostage. Workers of one job split the partitions through their
 * group in the catalog. Fetches go to each partition's leader; the records of a response are
 * handed to the format straight from its bytes.
 */
async function readKafka(config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const { requests, apiKeys, createErrorFromCode, encodeRequest } = kafkaProtocol();
  const group = context.group ?? context.job;
  const clientId = config.clientId ?? `tributary-${group}`;
  const kafka = new Kafka({ clientId, brokers: config.brokers, logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  const cluster = clusterOf(kafka);
  try {
    await admin.connect();
    await cluster.connect();
    await cluster.addTargetTopic(config.topic);
  } catch (error) {
    await Promise.allSettled([admin.disconnect(), cluster.disconnect()]);
    throw new TributaryError(`Kafka topic ${config.topic} at ${config.brokers.join(',')}: ${(error as Error).message}`, {
      hint: 'check that the brokers are reachable and the topic exists (Tributary does not create topics)',
    });
  }
  const readRecord = openFormat(config.format);
  /**
   * Per partition, where only records without a row (transaction markers, aborted records) lie:
   * a job at `from` may read on from `to`. Without this a topic ending in a marker never drains.
   */
  const markers = new Map<number, { from: number; to: number }>();
  /** Bytes a record took in the last responses, to ask for about as many as a batch still needs. */
  let bytesPerRecord = 512;
  let lows: Map<number, number> | undefined;

  const offsets = async () => (await admin.fetchTopicOffsets(config.topic)).map((o) => ({ partition: o.partition, start: Number(o.low), end: Number(o.high) }));
  const allPartitions = () => cluster.findTopicPartitionMetadata(config.topic).map((p) => p.partitionId).sort((a, b) => a - b);
  const mine = async () => (context.workers ? context.workers.share(allPartitions()) : allPartitions());
  /** Where a partition's read starts: the job's position (past markers it has reached), else the topic's first offset. */
  const startOf = async (partition: number, positions: ReadonlyMap<number, number>): Promise<number> => {
    let position = positions.get(partition);
    if (position === undefined) {
      lows ??= new Map((await offsets()).map((o) => [o.partition, o.start]));
      position = lows.get(partition) ?? 0;
    }
    const marker = markers.get(partition);
    return marker && marker.from === position ? marker.to : position;
  };

  /** Per broker, the input's own connection for its fetches (made again after a break). */
  const fetchConnections = new Map<string, Promise<KafkaFetchConnection>>();
  let correlationId = 0;
  /**
   * A Fetch's response after its correlation id, read through the broker's fetch connection (a
   * buffer reused by its next fetch), or through kafkajs's where that connection cannot be made.
   */
  const fetchResponse = async (nodeId: string, broker: KafkaBroker, request: ProtocolRequest): Promise<Buffer> => {
    let opening = fetchConnections.get(nodeId);
    const current = opening ? await opening.catch(() => undefined) : undefined;
    if (!current || current.broken) {
      current?.close();
      opening = KafkaFetchConnection.open(broker.connectionPool.host, broker.connectionPool.port);
      fetchConnections.set(nodeId, opening);
    }
    const connection = await opening!.catch(() => undefined);
    if (!connection) return broker.connectionPool.send({ ...request, response: RAW_RESPONSE });
    const id = (correlationId = (correlationId + 1) % 0x7fff_ffff);
    const { buffer } = await encodeRequest({ correlationId: id, clientId, request: request.request });
    // A connection that broke (the broker restarted, or closed it when idle) gives way to kafkajs's
    // for this fetch, whose errors say what happened to the broker; the next fetch connects anew.
    return connection.request(buffer, id).catch(() => broker.connectionPool.send({ ...request, response: RAW_RESPONSE }));
  };

  /** One fetch from one broker for its partitions; returns what each partition read. */
  const fetchFrom = async (nodeId: string, starts: Map<number, number>, room: number, batch: Parameters<StreamInput['read']>[2]): Promise<PartitionRead[]> => {
    const broker = await cluster.findBroker({ nodeId });
    const request = broker.lookupRequest(apiKeys.Fetch, requests.Fetch)({
      isolationLevel: READ_COMMITTED,
      maxWaitTime: FETCH_WAIT_MS,
      minBytes: 1,
      maxBytes: Math.min(FETCH_BYTES, Math.max(PARTITION_BYTES, Math.ceil(room * bytesPerRecord * 1.25))),
      topics: [{ topic: config.topic, partitions: [...starts].map(([partition, offset]) => ({ partition, fetchOffset: String(offset), maxBytes: PARTITION_BYTES })) }],
    });
    const response = await fetchResponse(nodeId, broker, request);
    const reads = readFetchResponse(response, request.request.apiVersion, starts, room, (p, offset, timestamp, source, start, end) =>
      readRecord(batch, p, offset, timestamp, source, start, end),
    );
    const records = reads.reduce((sum, r) => sum + r.records, 0);
    if (records) bytesPerRecord = Math.max(64, response.length / records);
    return reads;
  };

  /**
   * Moves each partition of a fetch round on; false when the metadata is stale (a leader moved)
   * and the read should end for a refresh.
   */
  const settle = async (reads: PartitionRead[], wanted: Map<number, number>): Promise<boolean> => {
    let fresh = true;
    for (const read of reads) {
      const asked = wanted.get(read.partition)!;
      if (read.errorCode === OFFSET_OUT_OF_RANGE) {
        lows = new Map((await offsets()).map((o) => [o.partition, o.start]));
        const first = lows.get(read.partition) ?? 0;
        if (asked < first) {
          // Retention deleted records the job had not read: it goes on from the first one left, as the embedded log does.
          wanted.set(read.partition, first);
          continue;
        }
      }
      if (STALE_METADATA.has(read.errorCode)) {
        fresh = false;
        continue;
      }
      if (read.errorCode) {
        throw new TributaryError(`Kafka topic ${config.topic} partition ${read.partition} at offset ${asked}: ${createErrorFromCode(read.errorCode).message}`, {
          hint: 'the job retries from its committed offsets when restarted; see the broker’s log for the cause',
        });
      }
      if (read.next > read.afterData) markers.set(read.partition, { from: read.afterData, to: read.next });
      // A partition that gave nothing, or all it has, is done for this read.
      if (read.next === asked || read.next >= read.highWatermark) wanted.delete(read.partition);
      else wanted.set(read.partition, read.next);
    }
    if (!fresh) await cluster.refreshMetadata();
    return fresh;
  };

  /** Since when fetches have failed for want of a broker (0: they do not). */
  let failingSince = 0;

  return {
    describe: () => `kafka ${config.brokers.join(',')} topic ${config.topic}`,
    async read(positions, max, batch) {
      const wanted = new Map<number, number>();
      try {
        await cluster.refreshMetadataIfNecessary();
        for (const partition of await mine()) wanted.set(partition, await startOf(partition, positions));
        // Fetch rounds until the batch is full or every partition has given what it has.
        while (wanted.size && batch.count < max) {
          const leaders = Object.entries(cluster.findLeaderForPartitions(config.topic, [...wanted.keys()]));
          const room = max - batch.count;
          const rounds = await Promise.all(
            leaders.map(([nodeId, partitions], i) =>
              fetchFrom(nodeId, new Map(partitions.map((p) => [p, wanted.get(p)!])), Math.floor(room / leaders.length) + (i < room % leaders.length ? 1 : 0), batch),
            ),
          );
          if (!(await settle(rounds.flat(), wanted))) break;
        }
        failingSince = 0;
      } catch (error) {
        if (!isBrokerLoss(error)) throw error;
        // A broker restarting or a leader moving: the next read tries again with fresh metadata.
        failingSince ||= Date.now();
        if (Date.now() - failingSince > BROKER_LOSS_MS) {
          throw new TributaryError(`Kafka topic ${config.topic}: no broker has answered for ${BROKER_LOSS_MS / 1000} s (${(error as Error).message})`, {
            hint: `check the brokers ${config.brokers.join(',')}; the job resumes from its committed offsets when restarted`,
          });
        }
        await cluster.refreshMetadata().catch(() => undefined);
      }
    },
    async lag(positions) {
      let lag = 0;
      for (const o of await offsets()) {
        const position = positions.get(o.partition) ?? o.start;
        const marker = markers.get(o.partition);
        lag += Math.max(0, o.end - (marker && marker.from === position ? marker.to : position));
      }
      return lag;
    },
    partitions: offsets,
    async close() {
      for (const opening of fetchConnections.values()) void opening.then((c) => c.close(), () => undefined);
      await Promise.allSettled([cluster.disconnect(), admin.disconnect()]);
    },
  };
}

export const kafkaInput = defineInput({
  kind: 'kafka',
  description: 'a Kafka topic; positions come from the sinks, nothing is committed to Kafka',
  config: schema,
  fromUrl: (url) => {
    if (!url.hosts.length || !url.path) throw new Error('expected kafka://HOST:PORT[,HOST:PORT…]/TOPIC');
    // The input connects without SASL: a user and password would be read as a broker's host.
    if (url.hosts.some((host) => host.includes('@'))) throw new Error('a kafka:// URL names brokers only: the Kafka input takes no user or password (it connects without SASL)');
    return { brokers: url.hosts, topic: url.path, clientId: url.options.get('clientId') ?? undefined };
  },
  create: (config: z.output<typeof schema>, context: InputContext): Promise<StreamInput> => readKafka(config, context),
});
