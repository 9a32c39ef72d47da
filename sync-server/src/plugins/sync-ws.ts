/**
 * The device WebSocket at /sync: one per device, multiplexing all its streams.
 *
 * Invariants:
 * - State machine hello → challenge → auth → ready; nothing but hello/auth is served before ready. The
 *   challenge nonce is fresh per connection and single-use, so a recorded auth frame is useless elsewhere.
 * - Every frame is size-checked and schema-validated (`decodeClientFrame`) before anything else; a bad
 *   frame gets a typed `error` (with its rid when one could be read), changes nothing, and the connection
 *   stays usable. Frames of one connection are handled strictly in arrival order.
 * - Per-device and per-address rate limits and a cap on connections, all answered with typed errors. A
 *   socket not `ready` within `handshakeTimeoutMs` of opening gets UNAUTHENTICATED and is closed (4001), so
 *   sockets that never authenticate do not keep slots under the cap.
 * - On a connection of version WRAPPED_ROOT_GEN_VERSION or later (never earlier: frames are closed, an
 *   older client would refuse them), `ready` carries the account's passphrase-wrap generation and every
 *   change made by another device while connected is announced (`wrappedRootChanged`), never before
 *   `ready`; a change committed while `ready` is being prepared is reflected in it.
 * Failure modes: an unexpected exception in a handler answers INTERNAL for that request only; the
 * connection is closed only for auth failures (a missed handshake deadline included), revocation,
 * session expiry, shutdown or abuse.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import {
  CHALLENGE_TTL_MS,
  MAX_FRAME_BYTES,
  SESSION_TTL_MS,
  SUPPORTED_VERSIONS,
  WRAPPED_ROOT_GEN_VERSION,
  authSignaturePayload,
  decodeClientFrame,
  encodeFrame,
  errorFrame,
  negotiateVersion,
  protocolError,
  type ClientFrame,
  type ErrorCode,
  type ServerFrame,
} from '@hale/protocol';
import { base64urlEncode, randomBytes } from '@hale/crypto';
import type { AppContext } from '../context';
import { verifyPayload, type AuthenticatedDevice } from '../core/sync-service';
import type { LiveConnection } from '../core/hub';
import { toHttpError } from '../errors';

let nextConnectionId = 1;

const RID_PREFIX = /^\s*\{[^{}[\]]*?"rid"\s*:\s*(\d{1,15})\s*[,}]/;

export const syncWsPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { metrics } = ctx;
  let open = 0;

  app.get('/sync', { websocket: true }, (socket: WebSocket, request) => {
    const address = request.ip;
    const id = nextConnectionId++;
    metrics.connections.inc({ state: 'open' });
    open++;
    let state: 'hello' | 'auth' | 'ready' | 'closed' = 'hello';
    let challenge: { nonce: string; deviceId: string; expiresAt: number; version: number } | null = null;
    let principal: AuthenticatedDevice | null = null;
    let live: LiveConnection | null = null;
    let queue: Promise<void> = Promise.resolve();
    let sessionTimer: ReturnType<typeof setTimeout> | undefined;
    let handshakeTimer: ReturnType<typeof setTimeout> | undefined;
    let unwatchWrappedRoot: (() => void) | undefined;

    // A function, not an inline test: `state` changes across the awaits of a handler.
    const isClosed = (): boolean => state === 'closed' || socket.readyState !== socket.OPEN;

    const send = (frame: ServerFrame): void => {
      if (socket.readyState !== socket.OPEN) return;
      const text = encodeFrame(frame);
      metrics.messages.inc({ direction: 'out', type: frame.t });
      metrics.bytes.inc({ direction: 'out' }, text.length);
      socket.send(text);
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
      socket.close(wsCode, code);
    };

    if (open > ctx.config.maxConnections) {
      closeWith(
        'TOO_MANY_CONNECTIONS',
        'the server holds its maximum number of connections; retry later',
        1013,
      );
    } else {
      // Without it a client could hold every connection slot by opening sockets and never authenticating.
      handshakeTimer = setTimeout(() => {
        if (state === 'hello' || state === 'auth') {
          closeWith('UNAUTHENTICATED', 'not authenticated in time; reconnect and authenticate', 4001);
        }
      }, ctx.config.handshakeTimeoutMs);
      handshakeTimer.unref?.();
    }

    const handleReady = async (
      frame: ClientFrame,
      p: AuthenticatedDevice,
      conn: LiveConnection,
    ): Promise<void> => {
      switch (frame.t) {
        case 'pull': {
          const end = metrics.latency.startTimer({ op: 'pull' });
          const result = await ctx.service.pull(p, frame);
          end();
          metrics.pulls.inc({ outcome: result.denied.length > 0 ? 'partly-denied' : 'ok' });
          metrics.pulledDocs.inc(result.docs.length);
          for (const d of result.denied) metrics.refusals.inc({ code: d.code });
          send({ t: 'pulled', rid: frame.rid, ...result });
          return;
        }
        case 'push': {
          const end = metrics.latency.startTimer({ op: 'push' });
          const results = await ctx.service.push(p, frame);
          end();
          for (const r of results) if (r.status === 'error') metrics.refusals.inc({ code: r.code });
          send({ t: 'pushed', rid: frame.rid, results });
          return;
        }
        case 'subscribe': {
          const result = await ctx.hub.subscribe(conn, frame.streams);
          if (!result.ok) {
            fail(
              result.code as ErrorCode,
              'not allowed to follow every requested stream; nothing subscribed',
              frame.rid,
              {
                denied: result.denied,
              },
            );
            return;
          }
          send({ t: 'ok', rid: frame.rid });
          return;
        }
        case 'unsubscribe':
          ctx.hub.unsubscribe(conn, frame.streams);
          send({ t: 'ok', rid: frame.rid });
          return;
        case 'listStreams':
          send({ t: 'streams', rid: frame.rid, streams: await ctx.service.listStreams(p) });
          return;
        case 'listGrants':
          send({ t: 'grants', rid: frame.rid, grants: await ctx.service.listGrants(p) });
          return;
        case 'grant':
          await ctx.service.grant(p, frame.grant);
          send({ t: 'ok', rid: frame.rid });
          return;
        case 'revoke':
          await ctx.service.revoke(p, frame.revocation);
          send({ t: 'ok', rid: frame.rid });
          return;
        case 'putEnvelopes':
          await ctx.service.putEnvelopes(p, frame.envelopes);
          send({ t: 'ok', rid: frame.rid });
          return;
        case 'getEnvelopes':
          send({
            t: 'envelopes',
            rid: frame.rid,
            envelopes: await ctx.service.getEnvelopes(p, frame.streams),
          });
          return;
        case 'listKeyHolders':
          send({
            t: 'keyHolders',
            rid: frame.rid,
            holders: await ctx.service.listKeyHolders(p, frame.streams),
          });
          return;
        case 'ping':
          send({ t: 'pong', rid: frame.rid, time: new Date(ctx.now()).toISOString() });
          return;
        case 'hello':
        case 'auth':
          fail('BAD_MESSAGE', 'already authenticated', undefined);
          return;
      }
    };

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

    const handle = async (text: string): Promise<void> => {
      if (state === 'closed') return;
      const rateKey = principal ? `device:${principal.deviceId}` : `addr:${address}`;
      const limiter = principal ? ctx.deviceLimiter : ctx.addressLimiter;
      if (!limiter.take(rateKey)) {
        // Not worth a full parse, but the client needs the rid to fail the right request.
        const rid = RID_PREFIX.exec(text.slice(0, 256))?.[1];
        fail('RATE_LIMITED', 'too many frames; slow down', rid === undefined ? undefined : Number(rid), {
          retryAfterMs: limiter.retryAfterMs(rateKey),
        });
        return;
      }
      const decoded = decodeClientFrame(text);
      if (!decoded.ok) {
        fail(decoded.error.code, decoded.error.message, decoded.error.rid, decoded.error.details);
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
          await ctx.loadDevice(frame.deviceId);
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
          if (ctx.now() > c.expiresAt) return closeWith('CHALLENGE_INVALID', 'challenge expired', 4001);
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
          live = {
            id,
            principal: device,
            send,
            sendEncoded: (text, type) => {
              if (socket.readyState !== socket.OPEN) return;
              metrics.messages.inc({ direction: 'out', type });
              metrics.bytes.inc({ direction: 'out' }, text.length);
              socket.send(text);
            },
            bufferedAmount: () => socket.bufferedAmount,
            close: (code, reason) => {
              fail(code === 4001 ? 'DEVICE_REVOKED' : 'UNAVAILABLE', reason);
              state = 'closed';
              socket.close(code, reason);
            },
          };
          await ctx.hub.add(live);
          const wrappedRootGen =
            c.version >= WRAPPED_ROOT_GEN_VERSION ? await watchWrappedRoot(device) : undefined;
          // Closed while authenticating (handshake deadline, client gone): the close handler may have run
          // before there was a live connection to remove, so nothing may be left registered.
          if (isClosed()) {
            ctx.hub.remove(live);
            unwatchWrappedRoot?.();
            return;
          }
          clearTimeout(handshakeTimer);
          state = 'ready';
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
          });
          return;
        }
        if (state === 'ready' && principal && live) await handleReady(frame, principal, live);
      } catch (error) {
        const mapped = toHttpError(error);
        if (mapped.body.code === 'INTERNAL')
          request.log.error({ err: error, frame: frame.t }, 'frame handler failed');
        if (
          state !== 'ready' &&
          (mapped.body.code === 'DEVICE_REVOKED' || mapped.body.code === 'UNAUTHENTICATED')
        ) {
          return closeWith(mapped.body.code, mapped.body.message, 4001);
        }
        fail(mapped.body.code, mapped.body.message, rid, mapped.body.details);
      }
    };

    socket.on('message', (data, isBinary) => {
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
      metrics.bytes.inc({ direction: 'in' }, size);
      if (isBinary) {
        fail('BAD_MESSAGE', 'frames are JSON text');
        return;
      }
      if (size > MAX_FRAME_BYTES) {
        fail('TOO_LARGE', `frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}`);
        return;
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : (data as Buffer).toString('utf8');
      queue = queue
        .then(() => handle(text))
        .catch((error: unknown) => {
          request.log.error({ err: error }, 'unhandled frame failure');
        });
    });
    socket.on('close', () => {
      state = 'closed';
      open--;
      metrics.connections.dec({ state: 'open' });
      if (sessionTimer) clearTimeout(sessionTimer);
      clearTimeout(handshakeTimer);
      unwatchWrappedRoot?.();
      if (live) ctx.hub.remove(live);
    });
    socket.on('error', (error) => request.log.warn({ err: error }, 'websocket error'));
  });
};
