/**
 * Which web pages may use the server from a browser: the web app's origins in `allowedOrigins`
 * (`--allowed-origins`, config.ts). CORS for the HTTP API, and its WebSocket counterpart, the `Origin`
 * check on upgrades to /sync.
 *
 * Invariants:
 * - With no allowed origins (the default) the HTTP API is as it was before the setting: no CORS header, no
 *   `Vary: Origin`, and OPTIONS answered as any unknown route (404 NOT_FOUND).
 * - `Access-Control-Allow-Origin` is only ever the request's own `Origin`, echoed when it is one of the
 *   allowed origins (exact text match), never `*`; every answer carries `Vary: Origin` once origins are
 *   allowed, so a cache does not hand one origin's answer to another. No `Access-Control-Allow-Credentials`:
 *   devices authenticate with a bearer token, never a cookie, so a page needs the device's session to act.
 * - A request from any other origin gets no CORS header at all, and the browser keeps the answer from the
 *   page. Its preflight is not answered as one: it goes on as an OPTIONS request to an unknown route, meets
 *   the address bucket and gets 404 NOT_FOUND; no route handler of the API runs for it.
 * - A preflight from an allowed origin is answered in an onRequest hook that runs before the address
 *   bucket's (204, the same headers for every route, no store access): it costs no more than the 429 the
 *   bucket would answer, and browsers send one per distinct URL (each chunk of an upload), which would
 *   otherwise halve a browser device's request budget against a Node device's. The allowed methods and headers are what the
 *   device's HTTP client sends (packages/client/src/api/http-api.ts).
 * - A real request from an allowed origin meets the address and device buckets and the error envelope as
 *   any other; its CORS headers are set before those run, so the page can read a refusal (429 RATE_LIMITED
 *   with `retryAfterMs` included).
 * - An upgrade to /sync whose `Origin` is present and is neither the server's own (the request's host,
 *   scheme aside) nor allowed is refused FORBIDDEN (HTTP 403, the typed body, counted in refusals), before
 *   the upgrade bucket and the per-address socket count. Without `Origin` (Node devices, tools) nothing
 *   changes. Browsers do not apply CORS to WebSockets, so only this check keeps a page on another site from
 *   opening sockets: it could not authenticate without the device's key, but each attempt would spend the
 *   visitor's address's upgrade budget and hold one of its `maxConnectionsPerAddress` sockets, and of
 *   `maxConnections`, until the handshake deadline.
 * - A request refused before routing (a malformed path: frameworkErrors in app.ts, where neither hooks nor
 *   the plugin run) gets the same headers from `corsForUnrouted`, the same allowed set deciding: an allowed
 *   origin's preflight is answered 204 before the address bucket, its real request meets the bucket and
 *   gets the envelope with the origin echoed, so the page reads the refusal instead of a network error.
 * - The public SMART Health Link routes (PUBLIC_LINK_ROUTES: a manifest, a manifest's file) are the
 *   exception, with or without allowed origins: a link is opened by whichever viewer its holder uses (the
 *   specification's receiving applications include "a lightweight web page with Javascript" on any site),
 *   so they answer every origin, `Access-Control-Allow-Origin: *`. Nothing there rests on the browser's
 *   credentials: no cookie, no bearer token, the link's token in the path is the capability and anyone who
 *   holds it can ask from anywhere, a page or not; the passcode attempts a page could make are the ones
 *   any client can (SHL_PASSCODE_ATTEMPTS per link's lifetime). Their preflight (the manifest request's
 *   `content-type: application/json` is not safelisted) is answered 204 before the address bucket, like
 *   the API's, naming the route's one method and any request header (`*`, with `content-type` named for
 *   engines older than the wildcard): the specification lets a viewer send headers the server ignores.
 *   Every answer of theirs, refusals included (401 `remainingAttempts`, 404, 429), carries the origin
 *   `*`, so a viewer can read why a link did not open; no `Vary: Origin`, as nothing varies by origin. The
 *   API's CORS (below) leaves these routes alone (route config `cors: false`).
 * Failure modes: behind a reverse proxy that rewrites `Host` to the upstream's address (nginx without
 * `proxy_set_header Host $host`) and sends no `X-Forwarded-Host` from a trusted address (`--trust-proxy`),
 * the page's own origin no longer matches the request's host: a same-origin web app's socket is refused
 * until the proxy passes the host on or the origin is listed.
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
