import Fastify, { type FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { TributaryError } from '../core/errors.js';
import type { Workspace } from '../models/workspace.js';
import type { StreamRuntime } from '../stream/runtime.js';
import { MAX_EVENTS_PER_REQUEST, ingest } from './collector.js';
import { metricsText } from './metrics.js';

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Required for any host other than loopback; every request must then carry it. */
  token?: string;
  /** Largest request body; larger ones get 413. */
  bodyLimitBytes?: number;
}

export interface ServerContext {
  ws: Workspace;
  streams: StreamRuntime;
}

export type ServerPlugin = (app: FastifyInstance, context: ServerContext) => Promise<void> | void;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Checks the rule before anything listens: a server reachable from elsewhere needs a token. */
export function assertSafeBinding(host: string, token: string | undefined): void {
  if (!LOOPBACK.has(host) && !token) {
    throw new TributaryError(`refusing to listen on ${host} without a token`, {
      hint: 'set TRIBUTARY_TOKEN in the environment (clients send it as "Authorization: Bearer <token>"), or keep the default 127.0.0.1',
    });
  }
}

const TOKEN_COOKIE = 'tributary_token';

function cookie(header: string | undefined, name: string): string | undefined {
  const found = header?.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The Tributary server: a small core (auth, limits, errors) with everything else as plugins: the
 * event collector, status and metrics here; the web UI adds its own.
 */
export async function createServer(context: ServerContext, options: ServerOptions = {}, plugins: ServerPlugin[] = []): Promise<FastifyInstance> {
  const host = options.host ?? '127.0.0.1';
  assertSafeBinding(host, options.token);
  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? 16 * 1024 * 1024, logger: false });
  app.addContentTypeParser(['application/x-ndjson', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  if (options.token) {
    const token = options.token;
    app.addHook('onRequest', async (request, reply) => {
      if (request.url === '/healthz') return;
      if (tokenMatches(request.headers.authorization, token) || tokenMatches(cookie(request.headers.cookie, TOKEN_COOKIE), token)) return;
      // A browser opens the UI once with ?token=…; the token then travels in an HttpOnly cookie.
      const fromQuery = (request.query as Record<string, string> | undefined)?.token;
      if (fromQuery && tokenMatches(fromQuery, token)) {
        reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
        return;
      }
      await reply.code(401).send({ error: 'missing or wrong token', hint: 'send "Authorization: Bearer <TRIBUTARY_TOKEN>", or open the UI once at /?token=<TRIBUTARY_TOKEN>' });
    });
  }
  app.setErrorHandler(async (error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode ?? (error instanceof TributaryError ? 400 : 500);
    const hint = error instanceof TributaryError ? error.hint : status === 413 ? `requests are limited to ${(options.bodyLimitBytes ?? 16 * 1024 * 1024) / 1024 / 1024} MB; split the batch` : undefined;
    await reply.code(status).send({ error: error.message, hint });
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.post<{ Params: { topic: string }; Body: string }>('/v1/topics/:topic', async (request, reply) => {
    const topics = context.ws.project.config.topics;
    const config = topics[request.params.topic];
    if (!config) {
      return reply.code(404).send({ error: `no topic '${request.params.topic}'`, hint: `topics: ${Object.keys(topics).join(', ') || '(none declared)'}` });
    }
    const ndjson = /ndjson|text\/plain/.test(request.headers['content-type'] ?? '');
    const result = ingest(context.streams.log, request.params.topic, config, request.body ?? '', ndjson);
    if ('error' in result) return reply.code(result.status).send({ error: result.error });
    return reply.code(result.accepted === 0 && result.rejected.length ? 400 : 200).send(result);
  });

  app.get('/v1/status', async () => ({
    jobs: context.streams.jobs.map((j) => j.snapshot()),
    topics: Object.keys(context.ws.project.config.topics).map((name) => {
      const topic = context.streams.log.topic(name);
      return { name, partitions: topic.partitions.length, endOffsets: topic.endOffsets() };
    }),
    limits: { maxEventsPerRequest: MAX_EVENTS_PER_REQUEST, maxBodyBytes: options.bodyLimitBytes ?? 16 * 1024 * 1024 },
  }));

  app.get('/metrics', async (_request, reply) => {
    await reply.type('text/plain; version=0.0.4').send(metricsText(context.streams.jobs.map((j) => j.snapshot())));
  });

  for (const plugin of plugins) await plugin(app, context);
  return app;
}
