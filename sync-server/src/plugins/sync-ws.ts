/**
 * The device WebSocket at /sync: one per device, multiplexing all its streams. Requests after `ready`:
 * sync-ws-requests.ts.
 *
 * Invariants:
 * - hello → challenge → auth → ready; before `ready` only hello/auth are served, the nonce is single-use.
 * - Before `ready` only `challenge`, `ready`, `error` go out; hub notices meanwhile are sent after `ready`.
 * - An unknown device is NOT_FOUND, a revoked one DEVICE_REVOKED: closed 4001, no challenge.
 * - A device revoked while signing in gets no working connection (read again once the hub holds it).
 * - A sign-in completing after the hub stopped is refused UNAVAILABLE (1001), never told `ready`.
 * - A connection the server closes leaves the hub at once: nothing more is delivered or counted.
 * - Frames are handled in arrival order, each size-checked and validated first; a bad one changes nothing.
 * - Rate limits per device and address and a connection cap answer typed errors; `handshakeTimeoutMs` 4001.
 * - Upgrades are limited per address (`upgradeRateLimit`, `maxConnectionsPerAddress`): 429 before ws.
 * - A ws protocol error (WS_ERR_*) costs one short log line: info before sign-in, warn after.
 * - Memory per socket is bounded: MAX_HANDSHAKE_FRAME_BYTES, WS_MAX_PAYLOAD_BYTES (1009);
 *   SEND_BUFFER_CAP_BYTES, MAX_QUEUED_FRAMES, MAX_QUEUED_BYTES (reading paused); `sendStallTimeoutMs`.
 * - Every frame costs a token; rid-less ones get ≤ 1 RATE_LIMITED per RATE_LIMITED_REPLY_INTERVAL_MS.
 * - `ready` carries the wrap generation and the store's incarnation (each left out if unreadable).
 * - `wrappedRootChanged` goes only after `ready`.
 *
 * Failure modes: a handler's exception answers INTERNAL for that request only; the connection closes only
 * for auth failures, revocation, session expiry, shutdown, abuse, a failed hub re-decision (4000,
 * UNAVAILABLE) or a stalled socket (dropped by the hub).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import {
  CHALLENGE_TTL_MS,
  Incarnation,
  MAX_FRAME_BYTES,
  MAX_HANDSHAKE_FRAME_BYTES,
  SESSION_TTL_MS,
  SUPPORTED_VERSIONS,
  authSignaturePayload,
  decodeClientFrame,
  encodeFrame,
  errorFrame,
  negotiateVersion,
  protocolError,
  validate,
  type ClientFrame,
  type ErrorCode,
  type ServerFrame,
} from '@hale/protocol';
import { base64urlEncode, randomBytes } from '@hale/crypto';
import type { AppContext } from '../context';
import { upgradeRateLimit } from '../config';
import { createRateLimiter } from '../core/rate-limit';
import { challengeExpired } from '../core/challenge-expiry';
import { scanRid } from './frame-rid';
import { ServiceError, verifyPayload, type AuthenticatedDevice } from '../core/sync-service';
import type { LiveConnection } from '../core/hub';
import { toHttpError } from '../errors';
import { INCARNATION_META_KEY } from '../store/index';
import { serveReadyFrame } from './sync-ws-requests';

const MiB = 1024 * 1024;

/**
 * The WebSocket layer's `maxPayload` (app.ts) once a socket is ready: ws refuses a larger frame from its
 * header and closes the socket (1009) without buffering it. The margin over MAX_FRAME_BYTES lets a frame
 * that is only somewhat too large (a client's batching bug) get a typed TOO_LARGE on a socket that stays
 * usable.
 */
export const WS_MAX_PAYLOAD_BYTES = MAX_FRAME_BYTES + 1 * MiB;
/**
 * Replies waiting unread on one socket (ws `bufferedAmount`) above which the server stops handling and
 * reading that socket's frames until the client has taken them. Room for two full pull answers; above
 * the hub's high-water mark (4 MiB), where live delivery already waits on its own.
 */
export const SEND_BUFFER_CAP_BYTES = 16 * MiB;
/**
 * Frames received but not handled yet above which the socket is not read: a client that pipelines faster
 * than it is served waits in its own TCP window instead of in server memory. Only a bound, not exact:
 * what ws had already read when reading stopped still arrives.
 */
export const MAX_QUEUED_FRAMES = 64;
export const MAX_QUEUED_BYTES = 2 * WS_MAX_PAYLOAD_BYTES;
/** At most one RATE_LIMITED reply per socket within this many ms (the buckets' refill unit). */
export const RATE_LIMITED_REPLY_INTERVAL_MS = 1_000;

let nextConnectionId = 1;

let receiverLimitWarned = false;

/**
 * Sets the largest frame ws takes in on this socket. ws has one `maxPayload` per server, but its receiver
 * checks each frame header against its own copy, `_receiver._maxPayload` (ws 8): lowering that copy before
 * `ready` is the only way to refuse a large unauthenticated frame before its bytes are buffered. Returns
 * false (and the per-message check in the handler still refuses the frame, but only once it is buffered)
 * if a ws version no longer has the field; connection-limits.test.ts fails then.
 */
const limitFrameBytes = (socket: WebSocket, bytes: number): boolean => {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = bytes;
  return true;
};

const bytesOf = (data: RawData): Buffer =>
  Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);

export const syncWsPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { metrics } = ctx;
  let open = 0;
  /** Open sockets per client address key, an IPv6 /64 (entries go when their count does). */
  const openByAddress = new Map<string, number>();
  const upgrades = createRateLimiter({ ...upgradeRateLimit(ctx.config), now: ctx.now });

  const serveSocket = (socket: WebSocket, request: FastifyRequest): void => {
    const address = ctx.clientAddress(request);
    const id = nextConnectionId++;
    metrics.connections.inc({ state: 'open' });
    open++;
    const fromAddress = (openByAddress.get(address) ?? 0) + 1;
    openByAddress.set(address, fromAddress);
    // Debug lines name the connection and, once authenticated, the device: never a frame or a token.
    request.log.debug({ connection: id }, 'websocket opened');
    let state: 'hello' | 'auth' | 'ready' | 'closed' = 'hello';
    let challenge: { nonce: string; deviceId: string; expiresAt: number; version: number } | null = null;
    let principal: AuthenticatedDevice | null = null;
    let live: LiveConnection | null = null;
    let queue: Promise<void> = Promise.resolve();
    let sessionTimer: ReturnType<typeof setTimeout> | undefined;
    let handshakeTimer: ReturnType<typeof setTimeout> | undefined;
    let unwatchWrappedRoot: (() => void) | undefined;
    /**
     * What the hub sent the connection before `ready` went out (it holds the connection from before the
     * device is read again), sent right after `ready` in order; null once `ready` went out. Dropped with a
     * connection that ends before `ready`.
     */
    let heldUntilReady: Array<() => void> | null = [];
    const afterReady = (out: () => void): void => {
      if (heldUntilReady) heldUntilReady.push(out);
      else out();
    };

    // A function, not an inline test: `state` changes across the awaits of a handler.
    const isClosed = (): boolean => state === 'closed' || socket.readyState !== socket.OPEN;

    // ---- flow control: see the module comment ----
    /** Frames (and their bytes) received and not handled yet. */
    let queuedFrames = 0;
    let queuedBytes = 0;
    /** More than SEND_BUFFER_CAP_BYTES wait unread: frames wait, the socket is not read. */
    let sendBlocked = false;
    /** performance.now() of the last write the client took while sendBlocked. */
    let lastProgress = 0;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    /** Frames waiting for the send buffer to drain (at most the one at the head of `queue`). */
    const drainWaiters: Array<() => void> = [];
    let rateLimitedRepliedAt = Number.NEGATIVE_INFINITY;

    const updateReading = (): void => {
      if (socket.readyState !== socket.OPEN) return;
      const read = !sendBlocked && queuedFrames <= MAX_QUEUED_FRAMES && queuedBytes <= MAX_QUEUED_BYTES;
      if (read && socket.isPaused) socket.resume();
      else if (!read && !socket.isPaused) socket.pause();
    };
    const unblockSend = (): void => {
      sendBlocked = false;
      clearTimeout(stallTimer);
      stallTimer = undefined;
      for (const resolve of drainWaiters.splice(0)) resolve();
      updateReading();
    };
    // The client takes nothing: the memory it pins would otherwise stay until its session ends. A close
    // frame would queue behind what it does not read, and ws would keep the socket and its buffer for its
    // close timeout, so the TCP connection is simply dropped (the client sees 1006).
    const dropStalled = (why: string): void => {
      request.log.warn({ connection: id, bufferedBytes: socket.bufferedAmount }, why);
      metrics.refusals.inc({ code: 'UNAVAILABLE' });
      state = 'closed';
      if (live) ctx.hub.remove(live);
      socket.terminate();
    };
    const armStallTimer = (): void => {
      const limit = ctx.config.sendStallTimeoutMs;
      stallTimer = setTimeout(
        () => {
          if (!sendBlocked || isClosed()) return;
          if (performance.now() - lastProgress < limit) return armStallTimer();
          dropStalled('client takes none of its replies; dropping the socket');
        },
        Math.max(0, lastProgress + limit - performance.now()),
      );
      stallTimer.unref?.();
    };
    /** Callback of every write: runs once the client's socket took it (or with an error once closed). */
    const written = (): void => {
      if (!sendBlocked) return;
      lastProgress = performance.now();
      if (socket.bufferedAmount <= SEND_BUFFER_CAP_BYTES) unblockSend();
    };
    /** Sends a frame's text, counted as it goes out (its UTF-8 bytes, encoded once for both). */
    const write = (text: string, type: ServerFrame['t']): void => {
      if (socket.readyState !== socket.OPEN) return;
      const bytes = Buffer.from(text, 'utf8');
      metrics.messages.inc({ direction: 'out', type });
      metrics.bytes.inc({ direction: 'out' }, bytes.byteLength);
      socket.send(bytes, { binary: false }, written);
      if (!sendBlocked && socket.bufferedAmount > SEND_BUFFER_CAP_BYTES) {
        sendBlocked = true;
        lastProgress = performance.now();
        armStallTimer();
        updateReading();
      }
    };
    const whenWritable = (): Promise<void> | undefined =>
      sendBlocked && !isClosed() ? new Promise((resolve) => drainWaiters.push(resolve)) : undefined;

    const send = (frame: ServerFrame): void => {
      if (socket.readyState !== socket.OPEN) return;
      write(encodeFrame(frame), frame.t);
    };
    const fail = (
      code: ErrorCode,
      message: string,
      rid?: number,
      details?: Record<string, unknown>,
    ): void => {
      metrics.refusals.inc({ code });
      send(errorFrame(protocolError(code, message, details), rid));
    };
    const closeWith = (code: ErrorCode, message: string, wsCode = 4000, rid?: number): void => {
      fail(code, message, rid);
      state = 'closed';
      // Now, not at the 'close' event: a client that does not answer the close handshake would otherwise
      // keep being served (and counted as served) for ws's close timeout.
      if (live) ctx.hub.remove(live);
      socket.close(wsCode, code);
    };

    if (open > ctx.config.maxConnections) {
      closeWith(
        'TOO_MANY_CONNECTIONS',
        'the server holds its maximum number of connections; retry later',
        1013,
      );
    } else if (fromAddress > ctx.config.maxConnectionsPerAddress) {
      // Only when upgrades from one address overtook each other between the check before the upgrade
      // and this count.
      closeWith(
        'TOO_MANY_CONNECTIONS',
        'this address holds its maximum number of connections; close one or retry later',
        1013,
      );
    } else {
      if (!limitFrameBytes(socket, MAX_HANDSHAKE_FRAME_BYTES) && !receiverLimitWarned) {
        receiverLimitWarned = true;
        request.log.warn(
          'ws has no per-socket frame limit; large pre-auth frames are refused only once buffered',
        );
      }
      // Without it a client could hold every connection slot by opening sockets and never authenticating.
      handshakeTimer = setTimeout(() => {
        if (state === 'hello' || state === 'auth') {
          closeWith('UNAUTHENTICATED', 'not authenticated in time; reconnect and authenticate', 4001);
        }
      }, ctx.config.handshakeTimeoutMs);
      handshakeTimer.unref?.();
    }

    const handleReady = (frame: ClientFrame, p: AuthenticatedDevice, conn: LiveConnection): Promise<void> =>
      serveReadyFrame({ ctx, principal: p, conn, send, fail }, frame);

    /**
     * Follows the account's passphrase wrap for this connection and answers its current generation.
     * Watching starts before the stored generation is read, so a change committed in between is not lost:
     * its notice (which cannot go out before `ready`) raises the generation `ready` will carry instead.
     */
    const watchWrappedRoot = async (device: AuthenticatedDevice): Promise<number | undefined> => {
      let noticed = -1;
      unwatchWrappedRoot = ctx.wrappedRoots.watch(device.accountId, device.deviceId, (gen) => {
        noticed = Math.max(noticed, gen);
        if (state === 'ready') send({ t: 'wrappedRootChanged', gen });
      });
      // Only a hint: a store that fails here costs `ready` the field, not the device its connection.
      const stored = await ctx.store.accounts.get(device.accountId).then(
        (account) => account?.wrappedRootGen ?? -1,
        (error: unknown) => {
          request.log.warn({ err: error }, 'passphrase generation unavailable for ready');
          return -1;
        },
      );
      // Closed meanwhile: the close handler may have run before there was anything to stop.
      if (socket.readyState !== socket.OPEN) unwatchWrappedRoot();
      const gen = Math.max(stored, noticed);
      return gen >= 0 ? gen : undefined;
    };

    /**
     * The store's incarnation for `ready`, or undefined (then the device keeps what it knows): a value
     * `Incarnation` refuses would make the device refuse `ready` itself, so it never goes out.
     */
    const readIncarnation = async (): Promise<string | undefined> => {
      const stored = await ctx.store.meta.get(INCARNATION_META_KEY).catch((error: unknown) => {
        request.log.warn({ err: error }, 'store incarnation unavailable for ready');
        return null;
      });
      if (stored === null) return undefined;
      if (!validate(Incarnation, stored).ok) {
        request.log.error('store incarnation is malformed; ready goes without it');
        return undefined;
      }
      return stored;
    };

    /**
     * The device saying hello. One the store holds no row of (nor of its account) is refused NOT_FOUND,
     * not the UNAUTHENTICATED loadDevice throws for the HTTP routes: a device retries UNAUTHENTICATED (a
     * missed handshake deadline), while this one cannot sign in here until it joins again or is pointed
     * at its own server.
     */
    const loadAtHello = (deviceId: string): Promise<AuthenticatedDevice> =>
      ctx.loadDevice(deviceId).catch((error: unknown) => {
        if (error instanceof ServiceError && error.code === 'UNAUTHENTICATED') {
          throw new ServiceError(
            'NOT_FOUND',
            `${error.message}: this server holds no registration of this device (restored from an older backup, removed, or another server)`,
          );
        }
        throw error;
      });

    const handle = async (data: Buffer, isBinary: boolean): Promise<void> => {
      if (state === 'closed') return;
      const rateKey = principal ? `device:${principal.deviceId}` : `addr:${address}`;
      const limiter = principal ? ctx.deviceLimiter : ctx.addressLimiter;
      // Every frame costs a token, binary and oversize ones too: refusing them costs a reply as well.
      if (!limiter.take(rateKey)) {
        const at = ctx.now();
        // Not worth a full parse, but the client needs the rid to fail the right request: a bounded scan
        // (frame-rid.ts) finds it first or last, where devices write it, or anywhere in a small frame.
        const rid = isBinary ? undefined : scanRid(data);
        // A request is always answered (its sender waits for it; the send buffer cap bounds the replies);
        // frames nobody waits for get one reply per interval, so garbage is not answered frame for frame.
        if (rid === undefined && at - rateLimitedRepliedAt < RATE_LIMITED_REPLY_INTERVAL_MS) {
          metrics.refusals.inc({ code: 'RATE_LIMITED' });
          return;
        }
        if (rid === undefined) rateLimitedRepliedAt = at;
        fail('RATE_LIMITED', 'too many frames; slow down', rid, {
          retryAfterMs: limiter.retryAfterMs(rateKey),
        });
        return;
      }
      if (isBinary) return fail('BAD_MESSAGE', 'frames are JSON text');
      if (data.byteLength > MAX_FRAME_BYTES) {
        // Named by its rid (the bounded scan, as for a rate-limited frame): its sender waits on it.
        return fail(
          'TOO_LARGE',
          `frame of ${data.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`,
          scanRid(data),
        );
      }
      const decoded = decodeClientFrame(data.toString('utf8'));
      if (!decoded.ok) {
        const { error } = decoded;
        // Refused unparsed (past the structure bounds): named by its rid as a too large frame is.
        const rid = error.rid ?? (error.unparsed === true ? scanRid(data) : undefined);
        fail(error.code, error.message, rid, error.details);
        return;
      }
      const frame = decoded.value;
      metrics.messages.inc({ direction: 'in', type: frame.t });
      const rid = 'rid' in frame ? frame.rid : undefined;
      try {
        if (state === 'hello') {
          // protocol.md: before ready only hello/auth; anything else is refused and the socket closed.
          if (frame.t !== 'hello') return closeWith('UNAUTHENTICATED', 'send hello first', 4001, rid);
          const version = negotiateVersion(frame.versions, SUPPORTED_VERSIONS);
          if (!version.ok) return closeWith('UNSUPPORTED_VERSION', version.error.message);
          await loadAtHello(frame.deviceId);
          challenge = {
            nonce: base64urlEncode(randomBytes(32)),
            deviceId: frame.deviceId,
            expiresAt: ctx.now() + CHALLENGE_TTL_MS,
            version: version.value,
          };
          state = 'auth';
          send({
            t: 'challenge',
            nonce: challenge.nonce,
            serverId: ctx.server.serverId,
            version: version.value,
          });
          return;
        }
        if (state === 'auth') {
          if (frame.t !== 'auth' || !challenge)
            return closeWith('UNAUTHENTICATED', 'answer the challenge first', 4001, rid);
          const c = challenge;
          challenge = null; // single use, whatever the outcome
          if (challengeExpired(c.expiresAt, ctx.now()))
            return closeWith('CHALLENGE_INVALID', 'challenge expired', 4001);
          const device = await ctx.loadDevice(c.deviceId);
          const payload = authSignaturePayload({
            nonce: c.nonce,
            deviceId: c.deviceId,
            serverId: ctx.server.serverId,
          });
          if (!(await verifyPayload(ctx.ed, device.devicePublicKey, payload, frame.sig))) {
            return closeWith('BAD_SIGNATURE', 'challenge signature does not verify', 4001);
          }
          principal = device;
          const expiresAt = ctx.now() + SESSION_TTL_MS;
          const conn: LiveConnection = {
            id,
            principal: device,
            // A device acts on nothing but the handshake before `ready` (an `accessChanged` of a grant change
            // committed while it signs in would be dropped and reported as a protocol error): held for then.
            send: (frame) => afterReady(() => send(frame)),
            sendEncoded: (text, type) => {
              if (socket.readyState !== socket.OPEN) {
                // Closing (the client began it): the hub counts what it sends, so it learns now that this
                // went nowhere, and stops.
                ctx.hub.remove(conn);
                return;
              }
              // Never held in practice (changes follow a `subscribe`, served only once ready), but were one,
              // it too would wait for `ready`. Tested here so the hot path (every `changes` frame to every
              // follower) makes no closure.
              if (heldUntilReady) {
                heldUntilReady.push(() => write(text, type));
                return;
              }
              write(text, type);
            },
            bufferedAmount: () => socket.bufferedAmount,
            close: (code, reason) => {
              fail(code === 4001 ? 'DEVICE_REVOKED' : 'UNAVAILABLE', reason);
              state = 'closed';
              socket.close(code, reason);
            },
            terminate: (reason) => {
              if (socket.readyState === socket.CLOSED) return;
              dropStalled(`dropping the socket: ${reason}`);
            },
          };
          // Closed while the device was read (handshake deadline, client gone): nothing to register.
          if (isClosed()) return;
          live = conn;
          await ctx.hub.add(conn);
          // Closed while the hub took it: not held through a second read, however slow.
          if (isClosed()) {
            ctx.hub.remove(conn);
            return;
          }
          // Read again now the hub holds the connection: a revocation committed since the read above found
          // nothing to close (accounts.ts closes through the hub) and is refused here (DEVICE_REVOKED
          // closes, below); one committed after this read finds the connection and closes it.
          await ctx.loadDevice(c.deviceId);
          const wrappedRootGen = await watchWrappedRoot(device);
          const incarnation = await readIncarnation();
          // Closed while authenticating (handshake deadline, client gone): the close handler may have run
          // before there was a live connection to remove, so nothing may be left registered.
          if (isClosed()) {
            ctx.hub.remove(conn);
            unwatchWrappedRoot?.();
            return;
          }
          clearTimeout(handshakeTimer);
          state = 'ready';
          request.log.debug(
            { connection: id, deviceId: device.deviceId, version: c.version },
            'websocket authenticated',
          );
          limitFrameBytes(socket, WS_MAX_PAYLOAD_BYTES);
          sessionTimer = setTimeout(
            () => closeWith('SESSION_EXPIRED', 'session expired; reconnect', 4002),
            SESSION_TTL_MS,
          );
          sessionTimer.unref?.();
          send({
            t: 'ready',
            accountId: device.accountId,
            deviceId: device.deviceId,
            version: c.version,
            sessionExpiresAt: new Date(expiresAt).toISOString(),
            ...(wrappedRootGen === undefined ? {} : { wrappedRootGen }),
            ...(incarnation === undefined ? {} : { incarnation }),
          });
          const held = heldUntilReady;
          heldUntilReady = null;
          for (const out of held ?? []) out();
          return;
        }
        if (state === 'ready' && principal && live) await handleReady(frame, principal, live);
      } catch (error) {
        const mapped = toHttpError(error);
        if (mapped.body.code === 'INTERNAL')
          request.log.error({ err: error, frame: frame.t }, 'frame handler failed');
        // Failed while signing in (the device read again after the hub took the connection): a connection
        // that is not served holds nothing in the hub.
        if (state !== 'ready' && live) ctx.hub.remove(live);
        if (
          state !== 'ready' &&
          (mapped.body.code === 'DEVICE_REVOKED' ||
            mapped.body.code === 'UNAUTHENTICATED' ||
            mapped.body.code === 'NOT_FOUND')
        ) {
          return closeWith(mapped.body.code, mapped.body.message, 4001);
        }
        fail(mapped.body.code, mapped.body.message, rid, mapped.body.details);
      }
    };

    socket.on('message', (raw, isBinary) => {
      if (state === 'closed') return;
      const data = bytesOf(raw);
      const size = data.byteLength;
      metrics.bytes.inc({ direction: 'in' }, size);
      // ws refuses these from their header already (limitFrameBytes); this is the check should it not.
      if (state !== 'ready' && size > MAX_HANDSHAKE_FRAME_BYTES) {
        return closeWith(
          'TOO_LARGE',
          `frames before ready are at most ${MAX_HANDSHAKE_FRAME_BYTES} bytes`,
          1009,
        );
      }
      queuedFrames++;
      queuedBytes += size;
      updateReading();
      queue = queue
        .then(async () => {
          await whenWritable();
          await handle(data, isBinary);
        })
        .catch((error: unknown) => {
          request.log.error({ err: error }, 'unhandled frame failure');
        })
        .then(() => {
          queuedFrames--;
          queuedBytes -= size;
          updateReading();
        });
    });
    socket.on('close', (code: number) => {
      state = 'closed';
      request.log.debug({ connection: id, deviceId: principal?.deviceId ?? null, code }, 'websocket closed');
      open--;
      const left = (openByAddress.get(address) ?? 1) - 1;
      if (left > 0) openByAddress.set(address, left);
      else openByAddress.delete(address);
      metrics.connections.dec({ state: 'open' });
      if (sessionTimer) clearTimeout(sessionTimer);
      clearTimeout(handshakeTimer);
      clearTimeout(stallTimer);
      // Frames waiting for a drain that will not come: they run, and see the socket closed.
      for (const resolve of drainWaiters.splice(0)) resolve();
      unwatchWrappedRoot?.();
      if (live) ctx.hub.remove(live);
    });
    socket.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) {
        request.log.warn({ err: error }, 'websocket error');
        return;
      }
      // The client broke the WebSocket protocol (a frame over the size limit, invalid UTF-8, a bad
      // opcode): ws has closed the socket already. One short line, no stack: ws's stack says nothing
      // about the server, and any client could write one per connection. Not signed in: info only.
      const line = { connection: id, deviceId: principal?.deviceId ?? null, code };
      const message = 'websocket closed: the client broke the protocol';
      if (principal === null) request.log.info(line, message);
      else request.log.warn(line, message);
    });
  };

  app.route({
    method: 'GET',
    url: '/sync',
    // Runs before the upgrade, so a refused attempt costs no WebSocket: HTTP 429 with a typed body, and
    // @fastify/websocket destroys the socket once the answer is written.
    onRequest: async (request) => {
      const address = ctx.clientAddress(request);
      const key = `addr:${address}`;
      if (!upgrades.take(key)) {
        throw new ServiceError('RATE_LIMITED', 'too many connection attempts from this address; slow down', {
          retryAfterMs: upgrades.retryAfterMs(key),
        });
      }
      if ((openByAddress.get(address) ?? 0) >= ctx.config.maxConnectionsPerAddress) {
        throw new ServiceError(
          'TOO_MANY_CONNECTIONS',
          'this address holds its maximum number of connections; close one or retry later',
        );
      }
    },
    // A plain GET (no upgrade): a typed error instead of @fastify/websocket's empty 404.
    handler: async () => {
      throw new ServiceError('BAD_MESSAGE', '/sync is a WebSocket endpoint; send an upgrade request');
    },
    wsHandler: serveSocket,
  });
};
