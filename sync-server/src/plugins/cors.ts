/**
 * Which web pages may use the server from a browser: the web app's origins in `allowedOrigins`
 * (`--allowed-origins`, config.ts). CORS for the HTTP API, and its WebSocket counterpart, the `Origin`
 * check on upgrades to /sync.
 *
 * Invariants:
 * - No allowed origins (the default): no CORS header, no `Vary: Origin`, OPTIONS is an unknown route (404).
 * - `Access-Control-Allow-Origin` only echoes an allowed `Origin` (exact match), never `*` (links aside).
 * - With origins allowed, every answer has `Vary: Origin`; never `Access-Control-Allow-Credentials`.
 * - Another origin gets no CORS header; its preflight is an unknown-route OPTIONS (address bucket, 404).
 * - An allowed preflight is answered 204 in onRequest, before the address bucket, with no store access.
 * - Allowed methods and headers are what the device's HTTP client sends (packages/client, http-api.ts).
 * - An allowed real request meets every bucket; its CORS headers are set first, so refusals are readable.
 * - A /sync upgrade whose `Origin` is neither the server's own nor allowed is refused 403 FORBIDDEN.
 * - That check runs before the upgrade bucket and socket count; without `Origin` nothing changes.
 * - Requests refused before routing (frameworkErrors, app.ts) get the same headers (`corsForUnrouted`).
 * - Public SMART Health Link routes (PUBLIC_LINK_ROUTES) answer every origin `*`, refusals too.
 * - Their preflight is 204 before the address bucket; no `Vary: Origin`; route config `cors: false`.
 *
 * Failure modes: behind a reverse proxy that rewrites `Host` and sends no `X-Forwarded-Host` from a
 * trusted address (`--trust-proxy`), a same-origin web app's socket is refused until the proxy passes
 * the host on or the origin is listed.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { HTTP_ROUTES } from '@hale/protocol';
import type { ServerConfig } from '../config';
import { ServiceError } from '../core/sync-service';
import { endUpgradeOnAnswer } from '../errors';

/**
 * Seconds a browser may reuse a preflight's answer: Chromium's own cap (Firefox's is a day). The cached
 * answer names only methods and headers; every real answer still carries (or lacks) its own
 * `Access-Control-Allow-Origin`, so an origin taken off the list loses access at the next restart all the
 * same.
 */
export const CORS_MAX_AGE_SECONDS = 7200;

/** Every method of the HTTP API, from the one route table the client and the server share. */
const METHODS = [...new Set(Object.values(HTTP_ROUTES).map((route) => route.method))];

/**
 * Content-Length is safelisted; named for engines from before that, as the client reads it to refuse an
 * over-large answer before reading it.
 */
const EXPOSED_HEADERS = ['content-length'];

/**
 * The request headers a preflight asks about: the bearer token and the body's type (application/json, or
 * application/octet-stream for chunks, neither of them CORS-safelisted). `accept` is safelisted.
 */
const ALLOWED_HEADERS = ['authorization', 'content-type'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: @fastify/cors leaves this route to its own headers (the public link routes). */
    cors?: false;
  }
}

/** The public SMART Health Link routes (plugins/shl.ts) and the one method each takes: open to any origin. */
export const PUBLIC_LINK_ROUTES: ReadonlyMap<string, 'GET' | 'POST'> = new Map([
  ['/shl/:token', 'POST'],
  ['/shl/file/:ticket', 'GET'],
]);

/** What every answer of a public link route carries (any method, refusals included). */
const PUBLIC_LINK_HEADERS = { 'access-control-allow-origin': '*' } as const;

/** The preflight answer of a public link route taking `method`. */
const publicLinkPreflight = (method: string): Record<string, string> => ({
  ...PUBLIC_LINK_HEADERS,
  'access-control-allow-methods': method,
  'access-control-allow-headers': 'content-type, *',
  'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
});

/** Whether a request path, read before routing (frameworkErrors), is under a public link route. */
const isPublicLinkPath = (url: string): boolean => url.startsWith('/shl/') && !url.startsWith('/shl/view');

/**
 * Whether `origin` names the host the request was sent to. The scheme is left out: behind a TLS proxy the
 * server sees plain HTTP while the page's origin says https. `host` is Fastify's request host (the `Host`
 * header, or `X-Forwarded-Host` from a trusted proxy); both are normalized by the URL parser (case, a
 * default port).
 */
const isOwnOrigin = (origin: string, host: string): boolean => {
  const page = URL.canParse(origin) ? new URL(origin) : null;
  if (page === null || (page.protocol !== 'https:' && page.protocol !== 'http:')) return false;
  const target = `${page.protocol}//${host}`;
  return URL.canParse(target) && new URL(target).host === page.host;
};

/** Whether answers to a page of `origin` carry CORS headers: an exact match of an allowed origin. */
const allowsOrigin = (allowedOrigins: readonly string[], origin: string | undefined): origin is string =>
  origin !== undefined && allowedOrigins.includes(origin);

/**
 * The CORS headers of an answer given where the plugin does not run (frameworkErrors in app.ts), as the
 * plugin would set them for `allowedOrigins`: none when no origin is allowed, `Vary: Origin` on every answer
 * otherwise, and for an allowed origin the origin echoed, plus the preflight's own headers when
 * `preflight` (an OPTIONS, with or without Access-Control-Request-Method, as `strictPreflight: false`).
 * A path under a public link route (`url`, the request's) gets that route's headers instead, any origin.
 */
export const corsForUnrouted = (
  allowedOrigins: readonly string[],
  method: string,
  origin: string | undefined,
  url = '',
): { headers: Record<string, string>; preflight: boolean } => {
  if (isPublicLinkPath(url)) {
    return method === 'OPTIONS'
      ? { headers: publicLinkPreflight('GET, POST'), preflight: true }
      : { headers: { ...PUBLIC_LINK_HEADERS }, preflight: false };
  }
  if (allowedOrigins.length === 0) return { headers: {}, preflight: false };
  if (!allowsOrigin(allowedOrigins, origin)) return { headers: { vary: 'Origin' }, preflight: false };
  const headers: Record<string, string> = {
    vary: 'Origin',
    'access-control-allow-origin': origin,
    'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
  };
  if (method !== 'OPTIONS') return { headers, preflight: false };
  return {
    headers: {
      ...headers,
      'access-control-allow-methods': METHODS.join(', '),
      'access-control-allow-headers': ALLOWED_HEADERS.join(', '),
      'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
    },
    preflight: true,
  };
};

/**
 * Registers the public link routes' CORS, CORS for the API (when origins are allowed) and the upgrade
 * `Origin` check on the root instance.
 */
export const registerCors = async (app: FastifyInstance, config: ServerConfig): Promise<void> => {
  app.addHook('onRequest', async (request, reply) => {
    const method = PUBLIC_LINK_ROUTES.get(request.routeOptions.url ?? '');
    if (method === undefined) return;
    if (request.method !== 'OPTIONS') {
      void reply.headers(PUBLIC_LINK_HEADERS);
      return;
    }
    return reply.code(204).headers(publicLinkPreflight(method)).send();
  });
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== '/sync') return;
    const { origin } = request.headers;
    if (
      origin === undefined ||
      allowsOrigin(config.allowedOrigins, origin) ||
      isOwnOrigin(origin, request.host)
    )
      return;
    // This hook runs before @fastify/websocket's, which would destroy the upgrade's socket once answered.
    endUpgradeOnAnswer(request, reply);
    throw new ServiceError(
      'FORBIDDEN',
      "a page of this origin may not connect; the server's operator can allow it (--allowed-origins)",
    );
  });

  if (config.allowedOrigins.length === 0) return;
  await app.register(cors, {
    // false: no CORS header, and the OPTIONS request is not answered as a preflight (see the header).
    origin: (origin, callback) => callback(null, allowsOrigin(config.allowedOrigins, origin)),
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: CORS_MAX_AGE_SECONDS,
    // The API serves no OPTIONS of its own: an OPTIONS from an allowed origin without
    // Access-Control-Request-Method gets the preflight answer rather than the plugin's text/plain 400,
    // which would be the one answer outside the error envelope.
    strictPreflight: false,
  });
};
