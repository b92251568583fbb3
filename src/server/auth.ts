import type { FastifyInstance, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { ResolvedConfig } from '../config/config.js';
import { TributaryError } from '../core/errors.js';
import { scopeKey, type RowScope } from '../engine/policy.js';

/**
 * Who a request speaks for. The admin (TRIBUTARY_TOKEN, or anyone on loopback when no token is
 * set) sees everything. A client (a brand's token, declared under `access.clients`) sees its
 * dashboards, the SQL lab and lookups, each confined to its rows; every other endpoint answers 403.
 */
export type Principal =
  | { kind: 'admin' }
  | {
      kind: 'client';
      name: string;
      scope: RowScope;
      /** Equal scopes share dashboard computations, whoever holds them. */
      scopeKey: string;
      dashboards: ReadonlySet<string>;
    };

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Client tokens may call this route: it answers only what the request's principal may see.
     * Routes without it are the admin's, so a new endpoint is closed to clients until it says so.
     */
    clients?: boolean;
  }
}

/** Route options of an endpoint client tokens may call (see FastifyContextConfig.clients). */
export const FOR_CLIENTS = { config: { clients: true } };

const ADMIN: Principal = { kind: 'admin' };
const TOKEN_COOKIE = 'tributary_token';
const principals = new WeakMap<FastifyRequest['raw'], Principal>();

/** The principal the auth hook found for this request. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request.raw);
  // Every request but /healthz passes the hook; reaching here without one is a bug, and fails closed.
  if (!principal) throw new Error(`no principal for ${request.method} ${request.url}`);
  return principal;
}

interface Credential {
  token: string;
  principal: Principal;
}

/**
 * The client tokens the project declares, read from the environment. Refuses, before anything
 * listens, what would make access ambiguous or open: clients without an admin token (the admin
 * would be anyone who connects), a client whose variable is unset, two principals sharing a
 * token, a dashboard that does not exist. Messages name variables, never their values.
 */
export function clientCredentials(config: ResolvedConfig, adminToken: string | undefined, env: Readonly<Record<string, string | undefined>>): Credential[] {
  const clients = Object.entries(config.access?.clients ?? {});
  if (!clients.length) return [];
  if (!adminToken) {
    throw new TributaryError(`the project declares client tokens (${clients.map(([name]) => name).join(', ')}), so the server needs an admin token too`, {
      hint: 'set TRIBUTARY_TOKEN in the environment, even on 127.0.0.1: without it anyone who connects would be the admin',
    });
  }
  const seen = new Map<string, string>([[adminToken, 'TRIBUTARY_TOKEN']]);
  return clients.map(([name, client]) => {
    const token = env[client.tokenEnv];
    if (!token) {
      throw new TributaryError(`client '${name}' has no token: ${client.tokenEnv} is not set`, { hint: `set ${client.tokenEnv} in the environment of the server (access.clients.${name}.tokenEnv names it)` });
    }
    assertStrongToken(token, client.tokenEnv);
    const other = seen.get(token);
    if (other) throw new TributaryError(`client '${name}' has the same token as ${other}`, { hint: `give ${client.tokenEnv} a value of its own: a token must say who is asking` });
    seen.set(token, client.tokenEnv);
    for (const dashboard of client.dashboards) {
      if (!Object.hasOwn(config.dashboards, dashboard)) {
        throw new TributaryError(`client '${name}' is given dashboard '${dashboard}', which the project does not declare`, { hint: `dashboards: ${Object.keys(config.dashboards).join(', ') || '(none)'}` });
      }
    }
    const scope: RowScope = { rows: client.rows, public: client.public };
    return { token, principal: { kind: 'client', name, scope, scopeKey: scopeKey(scope), dashboards: new Set(client.dashboards) } };
  });
}

/** Fewer characters than this can be guessed by a client that keeps trying. */
const MIN_TOKEN_LENGTH = 16;

/** Refuses a token short enough to guess, naming its variable, never its value. */
export function assertStrongToken(token: string, variable: string): void {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new TributaryError(`${variable} is too short to keep anyone out: ${token.length} character${token.length === 1 ? '' : 's'}, at least ${MIN_TOKEN_LENGTH} needed`, {
      hint: `give it a random value, e.g. ${variable}=$(openssl rand -hex 16)`,
    });
  }
}

function cookie(header: string | undefined, name: string): string | undefined {
  const found = header?.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
}

function tokenMatches(given: string | undefined, token: string): boolean {
  const a = Buffer.from(given?.replace(/^Bearer\s+/i, '') ?? '');
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The credential a presented value matches; every credential is compared, so the answer's timing does not say which. */
function match(credentials: readonly Credential[], given: string | undefined): Credential | undefined {
  let found: Credential | undefined;
  for (const credential of credentials) if (tokenMatches(given, credential.token)) found = credential;
  return found;
}

/**
 * Authenticates every request but /healthz: a bearer header, the cookie, or (once, from a
 * browser) `?token=`, which sets the cookie. Without any token (loopback, no clients) every
 * request is the admin, as before clients existed.
 */
export function installAuth(app: FastifyInstance, adminToken: string | undefined, clients: readonly Credential[]): void {
  const credentials: Credential[] = [...(adminToken ? [{ token: adminToken, principal: ADMIN }] : []), ...clients];
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/healthz') return;
    if (!credentials.length) {
      principals.set(request.raw, ADMIN);
      return;
    }
    let found = match(credentials, request.headers.authorization) ?? match(credentials, cookie(request.headers.cookie, TOKEN_COOKIE));
    if (!found) {
      // A browser opens the UI once with ?token=…; the token then travels in an HttpOnly cookie.
      const fromQuery = (request.query as Record<string, string> | undefined)?.token;
      found = fromQuery ? match(credentials, fromQuery) : undefined;
      if (found) reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(found.token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (!found) {
      return reply.code(401).send({ error: 'missing or wrong token', hint: 'send "Authorization: Bearer <token>", or open the UI once at /?token=<token>' });
    }
    principals.set(request.raw, found.principal);
    if (found.principal.kind === 'client' && !request.is404 && !request.routeOptions.config.clients) {
      return reply.code(403).send({ error: 'a client token cannot use this endpoint', hint: 'client tokens open their dashboards, the SQL lab and lookups' });
    }
  });
}
