// buildApp() wires the feature plugins around one store; it never listens. main.ts owns the process.
import { isUtf8 } from 'node:buffer';
import { STATUS_CODES, type ServerOptions as HttpServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerFactory,
} from 'fastify';
import websocket from '@fastify/websocket';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MAX_HTTP_BODY_BYTES, parseJson, validate } from '@hale/protocol';
import {
  base64urlDecode,
  base64urlEncode,
  deviceIdFromPublicKey,
  randomBytes,
  signingKeyPairFromSeed,
  type Ed25519,
} from '@hale/crypto';
import { DEFAULT_CONFIG, type ServerConfig } from './config';
import type { SyncStore } from './store/index';
import { createMetrics, type Metrics } from './metrics';
import { createRateLimiter } from './core/rate-limit';
import { clientAddressKey, createClientIp } from './core/client-address';
import { createSyncService, ServiceError, type ServerIdentity, type SyncService } from './core/sync-service';
import { createHub, type Hub } from './core/hub';
import { createWrappedRootNotices } from './core/wrapped-root-notices';
import { createNodeEd25519, createNodeSealTo } from '@hale/crypto/node';
import type { AppContext } from './context';
import { endUpgradeOnAnswer, toHttpError } from './errors';
import { accountsPlugin, createAuthenticator } from './plugins/accounts';
import { healthPlugin } from './plugins/health';
import { directoryPlugin } from './plugins/directory';
import { pairingPlugin } from './plugins/pairing';
import { shlPlugin } from './plugins/shl';
import { blobsPlugin } from './plugins/blobs';
import { corsForUnrouted, registerCors } from './plugins/cors';
import { registerSecurityHeaders, securityHeaders } from './plugins/security-headers';
import { WS_MAX_PAYLOAD_BYTES, syncWsPlugin } from './plugins/sync-ws';
import { appStaticPlugin } from './plugins/app-static';
import { buildCachedSerializer } from './serializers';

export interface BuildAppOptions {
  config?: Partial<ServerConfig>;
  store: SyncStore;
  logger?: FastifyBaseLogger | false;
  /** Injected clock (ms since epoch); tests move it to cross grant boundaries. */
  now?: () => number;
  ed?: Ed25519;
  /** Registry with process-wide default metrics (off for extra servers in one process). */
  defaultMetrics?: boolean;
  /** Serve HTTPS and WSS with this certificate chain and key (PEM); plain HTTP without. */
  https?: { cert: string | Buffer; key: string | Buffer };
}

export interface HaleServer {
  app: FastifyInstance;
  hub: Hub;
  service: SyncService;
  metrics: Metrics;
  server: ServerIdentity;
  ctx: AppContext;
  /** Stops accepting, tells connected devices, drains in-flight requests. Does not close the store. */
  close(): Promise<void>;
}

export const SERVER_KEY_META = 'server-signing-seed';

/** The server's own Ed25519 key signs its audit entries; it lives in the store so every node shares it. */
const loadServerIdentity = async (store: SyncStore): Promise<ServerIdentity> => {
  let seedText = await store.meta.get(SERVER_KEY_META);
  if (seedText === null) {
    await store.meta.put(SERVER_KEY_META, base64urlEncode(randomBytes(32)));
    seedText = await store.meta.get(SERVER_KEY_META);
  }
  const seed = base64urlDecode(seedText ?? '');
  if (!seed.ok || seed.value.length !== 32) throw new Error('server signing key in the store is corrupt');
  const pair = signingKeyPairFromSeed(seed.value);
  return {
    serverId: deviceIdFromPublicKey(pair.publicKey),
    publicKey: pair.publicKey,
    secretKey: pair.secretKey,
  };
};

/** Names of the integer-typed properties of an object schema (path and query parameters). */
const integerProperties = (schema: TSchema): string[] => {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.keys(properties).filter((name) => properties[name]?.type === 'integer');
};

const CANONICAL_INTEGER = /^(0|[1-9][0-9]{0,14})$/;

/**
 * The first of `names` whose text is not a plain decimal integer, if any. TypeBox's Value.Convert would
 * turn "1.9" and "true" into 1, so a request for one chunk would address another.
 */
const looseInteger = (names: string[], data: unknown): string | undefined => {
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  return names.find((name) => {
    const raw = record[name];
    return raw !== undefined && !(typeof raw === 'string' && CANONICAL_INTEGER.test(raw));
  });
};

/**
 * A whole HTTP/1.1 answer carrying a typed error body, for what is refused below Fastify's replies (a
 * request Node's parser refused, a WebSocket handshake ws refused): the connection closes after it.
 */
const rawRefusal = (refusal: ServiceError, headers: Record<string, string> = {}): string => {
  const { status, body } = toHttpError(refusal);
  const text = JSON.stringify(body);
  const lines = Object.entries({
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    Connection: 'close',
    ...headers,
  }).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('\r\n')}\r\n\r\n${text}`;
};

const CHARSET_PARAMETER = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/gi;

/**
 * The `charset` parameters of a Content-Type header, lower-cased, unquoted (none when it names none):
 * all of them, since a header naming two is not read as its first.
 */
const charsetsOf = (contentType: string | undefined): string[] =>
  [...(contentType ?? '').matchAll(CHARSET_PARAMETER)].map((m) => (m[1] ?? m[2] ?? '').toLowerCase());

const bodyRefusal = (message: string, reason: string): ServiceError =>
  new ServiceError('BAD_MESSAGE', message, { issues: [{ path: '/', reason }] });

/**
 * A JSON body as the protocol reads frames (`parseJson`): UTF-8 only, a member name at most once per
 * object, no `__proto__`. Fastify's own parser decoded any declared charset as UTF-8 (so a Latin-1 body's
 * accents became U+FFFD), kept the last of a repeated member, and called a `__proto__` member "not valid
 * JSON". The protocol's code table has no 415: the refusal is BAD_MESSAGE, as for a body of another type.
 */
const parseJsonBody = (contentType: string | undefined, body: Buffer): unknown => {
  const charsets = charsetsOf(contentType);
  if (charsets.length > 1) {
    throw bodyRefusal(
      'the body is declared with more than one charset; JSON bodies are UTF-8',
      'charset must be given at most once',
    );
  }
  const charset = charsets[0];
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw bodyRefusal(
      `the body is declared as charset ${JSON.stringify(charset.slice(0, 40))}; JSON bodies are UTF-8`,
      'charset must be utf-8 (or left out)',
    );
  }
  if (!isUtf8(body)) throw bodyRefusal('the body is not valid UTF-8', 'not valid UTF-8');
  const text = body.toString('utf8');
  // A leading byte-order mark is taken, as Fastify's parser took it: some HTTP clients write one.
  const parsed = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, { bounded: true });
  if (!parsed.ok) {
    const { code, message, details } = parsed.error;
    throw new ServiceError(code, `body: ${message}`, details);
  }
  return parsed.value;
};

/** The refusal of a request Node's HTTP parser gave up on (`clientError`), by the parser's code. */
const clientErrorRefusal = (code: string | undefined): ServiceError =>
  code === 'HPE_HEADER_OVERFLOW' || code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
    ? new ServiceError(
        'TOO_LARGE',
        'the request line, headers or chunk extensions exceed the size this server reads',
      )
    : code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ServiceError('UNAVAILABLE', 'the request was not received in time; send it again')
      : new ServiceError('BAD_MESSAGE', 'the request is not valid HTTP/1.1');

export const buildApp = async (options: BuildAppOptions): Promise<HaleServer> => {
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...options.config };
  const now = options.now ?? Date.now;
  const ed = options.ed ?? createNodeEd25519();
  const { store } = options;
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? false });
  const server = await loadServerIdentity(store);

  const httpOptions: HttpServerOptions = {
    requestTimeout: config.requestTimeoutMs,
    // Node derives it from the constructor's requestTimeout (min(60 s, it)): 0 would leave headers unbounded.
    headersTimeout: Math.min(60_000, config.requestTimeoutMs || 60_000),
    connectionsCheckingInterval:
      config.requestTimeoutMs > 0 ? Math.min(30_000, Math.max(100, config.requestTimeoutMs)) : 30_000,
    // Node answers a request without Host itself, a bare 400 that is not the envelope: refused in a
    // hook below instead.
    requireHostHeader: false,
  };
  const { https } = options;
  // nosniff, and HSTS when serving HTTPS: on every answer, those written below Fastify's replies too.
  const security = securityHeaders(https !== undefined);
  // HTTPS: the same server options with the certificate, and what Fastify sets on a server it makes itself.
  const serverFactory: FastifyServerFactory | undefined =
    https === undefined
      ? undefined
      : (handler) => {
          const tls = createHttpsServer({ ...httpOptions, ...https }, handler);
          tls.keepAliveTimeout = 72_000;
          tls.requestTimeout = config.requestTimeoutMs;
          return tls;
        };
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: MAX_HTTP_BODY_BYTES,
    // Fastify sets none (0): without it a request whose body trickles in holds its connection for ever.
    // Node (20) only enforces the one its server was constructed with, so it goes to the constructor too
    // (Fastify sets `requestTimeout` on the server afterwards); it looks for overdue requests every
    // `connectionsCheckingInterval` (30 s by default).
    requestTimeout: config.requestTimeoutMs,
    http: httpOptions,
    ...(serverFactory === undefined ? {} : { serverFactory }),
    trustProxy: config.trustProxy,
    // Fastify's own 503 while closing is not the envelope; the `shuttingDown` hook below answers instead.
    return503OnClosing: false,
    schemaController: { compilersFactory: { buildSerializer: buildCachedSerializer } },
    // No per-request lines: routing is logged where it matters, never bodies or headers.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests Node's parser refuses (a malformed request line or header, headers over its limit) never
    // reach Fastify's handlers. Fastify's own answer is not the envelope, and it logs the error at trace
    // with `rawPacket`, the request's bytes: its Authorization header and query string with them.
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const refusal = clientErrorRefusal(error.code);
      app.log.debug({ code: error.code, answered: refusal.code }, 'client error');
      metrics.refusals.inc({ code: refusal.code });
      // As Node's own handler: no answer into a response already under way on this connection (a
      // keep-alive one), which the client would read as part of that response.
      const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
      if (socket.writable && inFlight?.headersSent !== true) socket.end(rawRefusal(refusal, security));
      socket.destroy();
    },
    // Errors Fastify raises before routing (a path that is not valid percent-encoding, an over-long path
    // parameter) skip setErrorHandler and hooks: without this they answer Fastify's own body and code.
    frameworkErrors: (error, request, reply) => {
      // The route that would destroy an upgrade's socket was never reached.
      endUpgradeOnAnswer(request, reply);
      // Neither hooks nor the CORS plugin run here: without these a page sees a network error, not the
      // envelope. An allowed origin's preflight is answered as the plugin would, before the bucket.
      const cors = corsForUnrouted(
        config.allowedOrigins,
        request.method,
        request.headers.origin,
        request.url,
      );
      void reply.headers({ ...security, ...cors.headers });
      if (cors.preflight) {
        void (reply as FastifyReply).code(204).send();
        return;
      }
      const key = `addr:${ctx.clientAddress(request)}`;
      const mapped = !ctx.addressLimiter.take(key)
        ? toHttpError(
            new ServiceError('RATE_LIMITED', 'too many requests from this address; slow down', {
              retryAfterMs: ctx.addressLimiter.retryAfterMs(key),
            }),
          )
        : toHttpError(
            error.code === 'FST_ERR_MAX_PARAM_LENGTH'
              ? new ServiceError('TOO_LARGE', 'a path parameter is too long')
              : error.code === 'FST_ERR_BAD_URL'
                ? new ServiceError('BAD_MESSAGE', 'the request path is not valid percent-encoded UTF-8')
                : error,
          );
      if (mapped.body.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
      metrics.refusals.inc({ code: mapped.body.code });
      // The option's generic reply type admits no status codes; this reply is an ordinary one.
      void (reply as FastifyReply).code(mapped.status).send(mapped.body);
    },
  });
  // Route schemas are @hale/protocol's TypeBox schemas, checked by the protocol's own validator (closed
  // objects, semantic refinements) instead of Ajv, whose Fastify defaults coerce body types ("123" ⇄ 123,
  // ["x"] → "x") and would let a malformed body through. Only path and query parameters, which arrive as
  // text, are converted first, integers only from plain decimal text.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const typed = schema as TSchema;
    const integers = httpPart === 'body' ? [] : integerProperties(typed);
    return (data: unknown) => {
      if (httpPart !== 'body') {
        const loose = looseInteger(integers, data);
        if (loose !== undefined) {
          return {
            error: new ServiceError('BAD_MESSAGE', `${loose} must be a non-negative integer in decimal`, {
              issues: [
                { path: `/${loose}`, reason: 'expected digits only, without sign, point or leading 0' },
              ],
            }),
          };
        }
      }
      const value = httpPart === 'body' ? data : Value.Convert(typed, data);
      const checked = validate(typed, value);
      if (checked.ok) return { value };
      return { error: new ServiceError(checked.error.code, checked.error.message, checked.error.details) };
    };
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(request.headers['content-type'], body as Buffer));
    } catch (error) {
      done(error as ServiceError, undefined);
    }
  });

  let hubRef: Hub | null = null;
  const service = createSyncService({
    store,
    now,
    ed,
    sealTo: createNodeSealTo(),
    server,
    // The change is stored either way, and the hub has closed every connection of the grantee it could not
    // re-decide before this settles (it fails closed), so the grant or revoke still answers ok: no change
    // committed after that answer reaches a cut-off device, and the device is re-checked from the store when
    // it reconnects. An error answer would tell the patient a revocation failed that took effect.
    onGrantsChanged: (granteeId, patientId) =>
      hubRef
        ?.grantsChanged(granteeId, patientId)
        .catch((error: unknown) =>
          app.log.error(
            { err: error, granteeId, patientId },
            'live re-evaluation failed; the connections it failed for were closed',
          ),
        ),
    // Synchronous, before the revocation (or a replacement's) commits (sync-grants.ts, hub.ts `grantEnding`).
    onGrantEnding: (granteeId, grantId, successor) =>
      hubRef?.grantEnding(granteeId, grantId, successor) ?? (() => undefined),
    // The hub reports a notice that failed through its onError and never rejects.
    onEnvelopesStored: (recipientId, patientId, streams) =>
      hubRef?.keysStored(recipientId, patientId, streams),
    onPush: (outcome, count) => metrics.pushes.inc({ outcome }, count),
    accessWindowMs: config.accessAuditWindowMs,
    auditEntriesPerAccountPerDay: config.auditEntriesPerAccountPerDay,
    onAccessLogError: (error) => app.log.error({ err: error }, 'access event not logged'),
  });
  const hub = createHub({
    store,
    service,
    now,
    sendStallTimeoutMs: config.sendStallTimeoutMs,
    onDelivered: (n) => metrics.liveDocs.inc(n),
    onError: (error) => app.log.error({ err: error }, 'live delivery failed'),
  });
  hubRef = hub;

  const loadDevice: AppContext['loadDevice'] = async (deviceId) => {
    const device = await store.devices.get(deviceId);
    if (!device) throw new ServiceError('UNAUTHENTICATED', 'unknown device');
    if (device.revokedAt !== undefined) throw new ServiceError('DEVICE_REVOKED', 'this device was revoked');
    const account = await store.accounts.get(device.accountId);
    if (!account) throw new ServiceError('UNAUTHENTICATED', 'unknown account');
    const pk = base64urlDecode(device.devicePublicKey);
    if (!pk.ok) throw new ServiceError('INTERNAL', 'stored device key is corrupt');
    return { accountId: account.accountId, deviceId, role: account.role, devicePublicKey: pk.value };
  };

  // Every per-address limit a request meets (the address bucket, the join budget, the upgrade bucket, the
  // open-socket count) keys on the same value: worked out at the first of them, then looked up.
  const addressKeys = new WeakMap<FastifyRequest, string>();
  const clientIp = createClientIp(config.trustProxy);
  const clientAddress = (request: FastifyRequest): string => {
    let key = addressKeys.get(request);
    if (key === undefined) {
      key = clientAddressKey(clientIp(request.raw));
      addressKeys.set(request, key);
    }
    return key;
  };

  const ctx: AppContext = {
    config,
    store,
    now,
    ed,
    server,
    service,
    hub,
    wrappedRoots: createWrappedRootNotices((error) =>
      app.log.error({ err: error }, 'passphrase change notice failed'),
    ),
    metrics,
    deviceLimiter: createRateLimiter({ ...config.rateLimitPerDevice, now }),
    addressLimiter: createRateLimiter({ ...config.rateLimitPerAddress, now }),
    log: app.log,
    authenticate: async () => {
      throw new ServiceError('UNAUTHENTICATED', 'not ready');
    },
    loadDevice,
    clientAddress,
  };
  const authenticate = createAuthenticator(ctx);
  ctx.authenticate = async (request) => {
    const principal = await authenticate(request);
    const key = `device:${principal.deviceId}`;
    if (!ctx.deviceLimiter.take(key)) {
      throw new ServiceError('RATE_LIMITED', 'too many requests from this device; slow down', {
        retryAfterMs: ctx.deviceLimiter.retryAfterMs(key),
      });
    }
    return principal;
  };

  // Before the CORS plugin, whose OPTIONS catch-all route takes the error handler in force when it is
  // registered: refusals there are answered in the envelope too.
  app.setErrorHandler((error, request, reply) => {
    const mapped = toHttpError(error);
    if (mapped.body.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    metrics.refusals.inc({ code: mapped.body.code });
    void reply.code(mapped.status).send(mapped.body);
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ code: 'NOT_FOUND', message: 'no such route' });
  });
  // First: these headers must be on the refusals of the hooks below too, and a preflight costs no token.
  registerSecurityHeaders(app, https !== undefined);
  await registerCors(app, config);
  // Set when close() begins (or app.close(), through preClose): what still arrives on a connection the
  // server holds gets the envelope, not Fastify's 503 body, and no token is spent on it.
  let shuttingDown = false;
  app.addHook('preClose', (done) => {
    shuttingDown = true;
    done();
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!shuttingDown) return;
    void reply.header('connection', 'close');
    // Before @fastify/websocket's hook, which would destroy an upgrade's socket once answered.
    endUpgradeOnAnswer(request, reply);
    throw new ServiceError('UNAVAILABLE', 'the server is shutting down; retry shortly');
  });
  // A query string that is not percent-encoded UTF-8 is refused as such a path is (Fastify's query parser
  // would read it as something else: the bytes kept, or U+FFFD).
  app.addHook('onRequest', async (request, reply) => {
    const at = request.url.indexOf('?');
    if (at < 0) return;
    try {
      decodeURIComponent(request.url.slice(at + 1).replaceAll('+', ' '));
    } catch {
      endUpgradeOnAnswer(request, reply);
      throw new ServiceError('BAD_MESSAGE', 'the query string is not valid percent-encoded UTF-8');
    }
  });
  // Node's parser takes HTTP/2.0 and HTTP/0.9 request lines (and refuses 1.2, 3.0…), then serves them
  // as HTTP/1.1: a client that believes it speaks another version is told it does not, in the envelope.
  app.addHook('onRequest', async (request, reply) => {
    const { httpVersionMajor: major, httpVersionMinor: minor } = request.raw;
    if (major === 1 && (minor === 0 || minor === 1)) return;
    endUpgradeOnAnswer(request, reply);
    throw new ServiceError(
      'BAD_MESSAGE',
      `the request is not valid HTTP/1.1: this server speaks HTTP/1.1 (and 1.0), not HTTP/${major}.${minor}`,
    );
  });
  // What Node's `requireHostHeader` refuses (an HTTP/1.1 request with no Host), in the envelope; no token.
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    if (request.headers.host !== undefined || raw.httpVersionMajor !== 1 || raw.httpVersionMinor < 1) return;
    endUpgradeOnAnswer(request, reply);
    throw new ServiceError('BAD_MESSAGE', 'the request is not valid HTTP/1.1: it has no Host header');
  });
  app.addHook('onRequest', async (request) => {
    // The sync plugin limits its upgrades with a bucket of its own; a device's frames then count in-band.
    if (request.url === '/healthz' || request.url === '/metrics' || request.routeOptions.url === '/sync')
      return;
    const key = `addr:${ctx.clientAddress(request)}`;
    if (!ctx.addressLimiter.take(key)) {
      throw new ServiceError('RATE_LIMITED', 'too many requests from this address; slow down', {
        retryAfterMs: ctx.addressLimiter.retryAfterMs(key),
      });
    }
  });
  // Fastify's own request lines are off (above): they carry the raw URL, whose path holds account, blob
  // and stream ids and whose query may hold anything. At debug, one line per request instead, with the
  // route's pattern and nothing from headers or bodies. WebSocket sessions log their own (sync-ws.ts).
  // Registered only at debug (or trace): nothing is built per request at the usual levels.
  if (app.log.level === 'debug' || app.log.level === 'trace') {
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug(
        {
          method: request.method,
          route: request.routeOptions.url ?? null,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request completed',
      );
    });
  }

  await app.register(websocket, {
    // Instead of @fastify/websocket's, which closes ws's server at once: an upgrade already past the hooks
    // would then get ws's own 503, an HTML page. Open sockets are closed here; ws's server only once the
    // HTTP server has closed, when no upgrade can reach it (the shutdown hook above refuses those that
    // come later; one already past the hooks then completes, and the hub, closed, serves it nothing).
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(1001, 'server shutting down');
      done();
    },
    options: { maxPayload: WS_MAX_PAYLOAD_BYTES },
    // ws reports a client's protocol violation (WS_ERR_*: a frame over the limit, invalid UTF-8) as an
    // error after closing the socket; the sync plugin logs those. The default handler would log each at
    // error level, which lets any client fill the log with "errors".
    errorHandler: (error, socket, request) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) {
        request.log.error({ err: error }, 'websocket handler failed');
      }
      socket.terminate();
    },
  });
  app.addHook('onClose', (_app, done) => {
    app.websocketServer.close(() => done());
  });
  // A handshake ws refuses on /sync (no or a malformed key, an unknown WebSocket version, a malformed
  // subprotocol list): ws would answer a text/html body. With this listener ws hands the socket over: it is
  // ours to answer and close.
  app.websocketServer.on('wsClientError', (error, socket) => {
    metrics.refusals.inc({ code: 'BAD_MESSAGE' });
    socket.once('finish', () => socket.destroy());
    // RFC 6455 4.4: a refused version names those the server speaks (ws speaks 13 and 8).
    socket.end(
      rawRefusal(new ServiceError('BAD_MESSAGE', `WebSocket handshake refused: ${error.message}`), {
        ...security,
        'Sec-WebSocket-Version': '13, 8',
      }),
    );
  });
  // @fastify/websocket upgrades an upgrade request to any GET route, then closes the socket and logs its
  // raw URL at info: upgrades that neither the /sync bucket nor the connection caps count, and log lines
  // an unauthenticated client writes. Refused before the upgrade instead (@fastify/websocket's hook, which
  // sets `request.ws`, runs before this one); an unknown path stays NOT_FOUND.
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (request.ws && route !== undefined && route !== '/sync') {
      throw new ServiceError('BAD_MESSAGE', 'only /sync takes a WebSocket upgrade');
    }
  });
  await app.register(healthPlugin, { ctx });
  await app.register(accountsPlugin, { ctx });
  await app.register(directoryPlugin, { ctx });
  await app.register(pairingPlugin, { ctx });
  await app.register(shlPlugin, { ctx });
  await app.register(blobsPlugin, { ctx });
  await app.register(syncWsPlugin, { ctx });
  // Last: the API's routes are all in place; the app's files and its fallback never take their paths.
  if (config.appDir !== null) {
    await app.register(appStaticPlugin, { dir: config.appDir });
    app.log.info({ appDir: config.appDir }, 'serving the web app at /');
  }

  // Cheap when nothing changed (one store query); a failed sweep is logged and the next one retries.
  const sweep = setInterval(
    () => void hub.sweep().catch((error: unknown) => app.log.error({ err: error }, 'grant sweep failed')),
    1_000,
  );
  sweep.unref();
  const cleanup = setInterval(() => {
    const t = new Date(now()).toISOString();
    void store.sessions.deleteExpired(t).catch(() => undefined);
    void store.challenges.deleteExpired(t).catch(() => undefined);
  }, 60_000);
  cleanup.unref();

  let closing: Promise<void> | null = null;
  return {
    app,
    hub,
    service,
    metrics,
    server,
    ctx,
    close: () => {
      closing ??= (async () => {
        shuttingDown = true;
        clearInterval(sweep);
        clearInterval(cleanup);
        hub.closeAll(1001, 'server shutting down');
        hub.stop();
        // Live-access tallies ended by the two calls above are written before the store can close.
        await hub.drain();
        await app.close();
        // Requests drained above may have counted repeats into open access windows: their tallies too.
        service.stopAccessLog();
        await service.drainAccessLog();
      })();
      return closing;
    },
  };
};
