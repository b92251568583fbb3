import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TributaryError, isDiskFull } from '../core/errors.js';
import type { Workspace } from '../state/workspace.js';
import type { StreamRuntime } from '../stream/runtime.js';
import { assertStrongToken, clientCredentials, installAuth } from './auth.js';
import { MAX_EVENTS_PER_REQUEST, ingest } from './collector.js';
import { metricsText } from './metrics.js';

export interface ServerOptions {
  host?: string;
  port?: number;
  /** The admin token: required for any host other than loopback, and whenever the project declares client tokens; every request must then carry a token. */
  token?: string;
  /** Where client tokens (`access.clients.<name>.tokenEnv`) are read from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Largest request body; larger ones get 413. */
  bodyLimitBytes?: number;
}

export interface ServerContext {
  ws: Workspace;
  streams: StreamRuntime;
  /** More Prometheus text for /metrics: plugins add what they measure. */
  metrics?: (() => Promise<string>)[];
}

export type ServerPlugin = (app: FastifyInstance, context: ServerContext) => Promise<void> | void;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
export const JSON_TYPES = ['application/json', 'application/x-ndjson'];
/** Request bodies the collector takes compressed, as SDKs and log shippers send them (Content-Encoding). */
export const BODY_ENCODINGS = ['gzip', 'deflate', 'br'] as const;

/**
 * A refusal with its HTTP status, answered through the server's error handler with its hint. Its
 * message is enumerable because the decompressing plugin copies a refusal's own properties onto
 * the stream's error rather than throwing it.
 */
const refusal = (status: number, message: string, hint: string) =>
  Object.defineProperties(new TributaryError(message, { hint }), { statusCode: { value: status, enumerable: true }, message: { value: message, enumerable: true } });

/** Content codings are case-insensitive, and x-gzip is gzip (RFC 9110 §8.4.1.3); the plugin matches them exactly. */
async function normaliseEncoding(request: FastifyRequest): Promise<void> {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined) request.headers['content-encoding'] = encoding === 'x-gzip' ? 'gzip' : encoding;
}

/**
 * How the collector decompresses a body: given to its route, since a route's options replace the
 * plugin's own rather than add to them.
 */
const decompressBody = {
  requestEncodings: [...BODY_ENCODINGS, 'identity' as const],
  onUnsupportedRequestEncoding: (encoding: string) =>
    refusal(415, `Content-Encoding '${encoding}' is not one this server decompresses`, `send the body uncompressed or as ${BODY_ENCODINGS.join(', ')}`),
  onInvalidRequestPayload: (encoding: string, _request: unknown, error: Error) =>
    refusal(400, `the body is not valid ${encoding} data (${error.message}); nothing of it was appended`, `compress the whole body with ${encoding}, or send it uncompressed without Content-Encoding`),
};

/** Checks the rule before anything listens: a server reachable from elsewhere needs a token. */
export function assertSafeBinding(host: string, token: string | undefined): void {
  if (!LOOPBACK.has(host) && !token) {
    throw new TributaryError(`refusing to listen on ${host} without a token`, {
      hint: 'set TRIBUTARY_TOKEN in the environment (clients send it as "Authorization: Bearer <token>"), or keep the default 127.0.0.1',
    });
  }
  if (token) assertStrongToken(token, 'TRIBUTARY_TOKEN');
}

/**
 * The Tributary server: a small core (auth, request hygiene, limits, errors) with everything else
 * as plugins: the event collector, status and metrics here; the web UI, the SQL lab and the
 * command endpoint add their own.
 *
 * Request hygiene, because a browser on the same machine is also a client: bodies must say they
 * are JSON or NDJSON (a form or `text/plain` post from another site is refused before it is
 * read), the Host header must name this server (DNS rebinding), and a request from another
 * site's page (its Origin) is refused.
 */
export async function createServer(context: ServerContext, options: ServerOptions = {}, plugins: ServerPlugin[] = []): Promise<FastifyInstance> {
  const host = options.host ?? '127.0.0.1';
  assertSafeBinding(host, options.token);
  const clients = clientCredentials(context.ws.project.config, options.token, options.env ?? process.env);
  const bodyLimit = options.bodyLimitBytes ?? 16 * 1024 * 1024;
  // Loaded here: only `up` and `serve` answer HTTP, and every other command starts faster without it.
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ bodyLimit, logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  // NDJSON stays bytes: the collector appends its events as slices of the body.
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  /** Host names this server answers to: what it is bound to, and loopback names when it is loopback. */
  const hosts = new Set<string>();
  app.addHook('onListen', async () => {
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const names = LOOPBACK.has(host) ? ['127.0.0.1', 'localhost', '[::1]'] : [host];
    for (const name of names) hosts.add(`${name}:${port}`);
  });
  app.addHook('onRequest', async (request, reply) => {
    // Bound to every interface (with a token), any name may reach it; bound to one, only that name.
    if (host !== '0.0.0.0' && host !== '::' && !hosts.has(String(request.headers.host ?? '').toLowerCase())) {
      return reply.code(421).send({ error: `this server does not answer to host '${request.headers.host ?? ''}'`, hint: `use ${[...hosts][0] ?? host}` });
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !(origin !== 'null' && hosts.has(origin.replace(/^https?:\/\//, '').toLowerCase())) && !(host === '0.0.0.0' || host === '::')) {
      return reply.code(403).send({ error: `requests from another site (${origin}) are refused`, hint: 'open the UI from this server, or call the API from a program (which sends no Origin)' });
    }
  });

  installAuth(app, options.token, clients);
  app.setErrorHandler(async (error: Error & { statusCode?: number; hint?: string }, _request, reply) => {
    const status = error.statusCode ?? (error instanceof TributaryError ? 400 : 500);
    // A TributaryError's hint, or one a refusal's properties carried onto another error.
    const hint =
      'hint' in error
        ? error.hint
        : status === 413
          ? `requests are limited to ${bodyLimit / 1024 / 1024} MB (a compressed body once decompressed); split the batch`
          : status === 415
            ? `send Content-Type ${JSON_TYPES.join(' or ')}`
            : undefined;
    // A server error says what failed, never where the server is installed.
    const message = status >= 500 ? 'internal error; see the server log' : error.message;
    if (status >= 500) process.stderr.write(`${error.stack ?? error.message}\n`);
    await reply.code(status).send({ error: message, hint });
  });
  app.setNotFoundHandler(async (request, reply) => reply.code(404).send({ error: `nothing at ${request.method} ${request.url.split('?')[0]}` }));

  app.get('/healthz', async () => ({ ok: true }));

  // The collector in a scope of its own with the decompressing plugin, which hooks every route
  // registered beside it: the other routes (lookups, the UI) pay nothing for it, and no reply is
  // compressed. The body limit holds for the decompressed bytes: a small bomb gets 413 like a large body.
  const { default: compress } = await import('@fastify/compress');
  await app.register(async (collector) => {
    await collector.register(compress, { globalCompression: false, globalDecompression: false });
    const route = { compress: false as const, decompress: decompressBody, onRequest: normaliseEncoding };
    collector.post<{ Params: { topic: string }; Body: string | Buffer }>('/v1/topics/:topic', route, async (request, reply) => {
      const topics = context.ws.project.config.topics;
      const name = request.params.topic;
      const config = Object.hasOwn(topics, name) ? topics[name] : undefined;
      if (!config) {
        return reply.code(404).send({ error: `no topic '${name}'`, hint: `topics: ${Object.keys(topics).join(', ') || '(none declared)'}` });
      }
      const ndjson = /ndjson/.test(request.headers['content-type'] ?? '');
      let result: Awaited<ReturnType<typeof ingest>>;
      try {
        // Refused events are kept where every other rejected row is: readable, countable, with the reason.
        result = await ingest(context.streams.log, name, config, request.body ?? '', ndjson, (dead) => context.ws.metastore.addDeadLetters(`collector:${name}`, dead));
      } catch (error) {
        // A retriable answer the sender can act on, not "internal error": nothing of the request was stored.
        if (!isDiskFull((error as Error).message)) throw error;
        request.log.error(`the collector's log could not take a request to ${name}: ${(error as Error).message}`);
        return reply.code(507).send({
          error: `the server's disk is full: none of the request's ${ndjson ? 'lines' : 'events'} were stored`,
          hint: 'send the request again once the server has space (its operator frees the disk that holds its data folder)',
        });
      }
      if ('error' in result) return reply.code(result.status).send({ error: result.error, hint: result.hint });
      return reply.code(result.accepted === 0 && result.rejected.length ? 400 : 200).send(result);
    });
  });

  app.get('/v1/status', async () => ({
    jobs: context.streams.jobs.map((j) => j.snapshot()),
    // Per consumer group and partition: committed offset, end offset, lag.
    groups: await Promise.all(context.streams.jobs.map((j) => j.groupOffsets())),
    topics: Object.keys(context.ws.project.config.topics).map((name) => {
      const topic = context.streams.log.topic(name);
      return { name, partitions: topic.partitions.length, endOffsets: topic.endOffsets() };
    }),
    deadLetters: (await context.ws.metastore.qualityCounts()).deadLetters,
    limits: { maxEventsPerRequest: MAX_EVENTS_PER_REQUEST, maxBodyBytes: bodyLimit },
  }));

  app.get('/metrics', async (_request, reply) => {
    const quality = await context.ws.metastore.qualityCounts();
    const more = await Promise.all((context.metrics ?? []).map((m) => m()));
    const groups = await Promise.all(context.streams.jobs.map((j) => j.groupOffsets()));
    await reply.type('text/plain; version=0.0.4').send(metricsText(context.streams.jobs.map((j) => j.snapshot()), quality, groups, context.ws.checkpoints(), performance.eventLoopUtilization()) + more.join(''));
  });

  context.metrics ??= [];
  for (const plugin of plugins) await plugin(app, context);
  return app;
}
