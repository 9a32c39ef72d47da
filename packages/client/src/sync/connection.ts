/**
 * The device's one WebSocket to the sync server: authentication, request/reply by rid, reconnects.
 *
 * Invariants:
 * - Nothing but hello/auth is sent before the server's `ready`; requests made earlier wait for it.
 * - Handshake in protocol order: one `challenge` for an offered version, then one `ready` naming this device.
 * - Before `ready` only `challenge`, `ready`, `error` count; others, or out of turn: BAD_MESSAGE, dropped.
 * - Frames are decoded against the protocol schemas (unknown properties dropped); invalid ones are ignored.
 * - A reply's type must fit MESSAGE_TABLE; a misshapen reply naming a pending rid fails it (BAD_MESSAGE).
 * - A request whose connection drops rejects NETWORK (retryable); callers retry idempotently.
 * - Not `ready` within `requestTimeoutMs`: the socket is given up and the device reconnects with backoff.
 * - A request unanswered for `requestTimeoutMs` fails TIMEOUT and gives its socket up (the others: NETWORK).
 * - Nothing goes out on a closing socket; `wait: false` never waits for a connection (NETWORK at once).
 * - Whether a request may go out is decided as it is sent (a stop, lock or drop in the same turn counts).
 * - `rid` is a frame's first member; RATE_LIMITED `retryAfterMs` resends, within `requestTimeoutMs` in all.
 * - Reconnects back off exponentially with jitter (capped) and reset at `ready`.
 * - A failing `onFrame`, `onReady` or status listener skips none of the connection's work: LIVE_APPLY_FAILED.
 * Failure modes: fatal (no reconnect; `failure()`, `whenReady()` rejects): DEVICE_REVOKED, BAD_SIGNATURE,
 * UNSUPPORTED_VERSION; NOT_FOUND before `ready` as DEVICE_UNKNOWN; BAD_HANDSHAKE (version not offered,
 * another device's `ready`); LOCKED (zeroed key, a signer or `createWebSocket` refusing LOCKED,
 * `lockedOut()`). A fatal socket is given up, nothing it sends acted on; only `start()` starts again.
 * Everything else is retried with backoff.
 */
import { HaleError } from '../core/hale-error';
import type { HaleErrorCode } from '../core/error-codes';
import {
  MESSAGE_TABLE,
  isErrorCode,
  type ErrorCode,
  SUPPORTED_VERSIONS,
  authSignaturePayload,
  decodeServerFrameTolerant,
  encodeFrame,
  exceedsBytes,
  utf8ByteLength,
  type ClientFrame,
  type ReadyFrame,
  type ServerFrame,
} from '@hale/protocol';
import { base64urlEncode, isAllZero, signCanonical, type Ed25519 } from '@hale/crypto';
import { HTTP_TIMEOUT_MS } from '../api/http-api';
import { isAccountError } from '../core/account-error';

/** The subset of the WHATWG WebSocket the client needs (browser, Electron and `ws` all provide it). */
export interface WebSocketLike {
  readonly readyState: number;
  /** Sends a text frame. */
  send(data: string): void;
  /** Closes the socket with a close code and reason. */
  close(code?: number, reason?: string): void;
  /** Called once the socket is open. */
  onopen: ((ev: unknown) => void) | null;
  /** Called with each frame received. */
  onmessage: ((ev: { data: unknown }) => void) | null;
  /** Called once the socket closed, with the close code and reason. */
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  /** Called when the socket fails (a close follows). */
  onerror: ((ev: unknown) => void) | null;
}

/** Opens a WebSocket to `url`: the platform's (`browserWebSocket`, or the `ws` package in Node). */
export type WebSocketFactory = (url: string) => WebSocketLike;

/** The most a WebSocket close frame's reason may hold, in bytes of UTF-8 (RFC 6455: 125 less the code). */
const MAX_CLOSE_REASON_BYTES = 123;

/** Where the sync connection stands; `fatal` ends it (no retry). */
export type ConnectionStatus = 'offline' | 'connecting' | 'ready' | 'stopped' | 'fatal';

/** SyncError's own codes (it carries the protocol's too); meanings and words: HALE_ERRORS. */
export const SYNC_ERROR_CODES = [
  'NETWORK',
  'TIMEOUT',
  'STOPPED',
  'NO_KEY',
  'DEVICE_UNKNOWN',
  'BAD_HANDSHAKE',
  'FATAL',
  'LOCKED',
  'DISMISSAL_NOT_AUDITED',
  'CONFLICT_WAIT',
  'NOT_QUARANTINED',
  'VERSION_NOT_KEPT',
  'SERVER_CODE_UNKNOWN',
] as const satisfies readonly HaleErrorCode[];
export type SyncErrorCode = ErrorCode | (typeof SYNC_ERROR_CODES)[number];

/** A sync failure or refusal (`SyncErrorCode`, or a server code this build does not know in `wireCode`). */
export class SyncError extends HaleError {
  /** The code exactly as the server sent it, when this build does not know it (`code`: SERVER_CODE_UNKNOWN). */
  readonly wireCode?: string;

  constructor(
    readonly code: SyncErrorCode,
    message: string,
    readonly retry: boolean,
    wireCode?: string,
  ) {
    super(message);
    this.name = 'SyncError';
    if (wireCode !== undefined) this.wireCode = wireCode;
  }
}

/** The SyncError of an `error` frame: its code when this build knows it, else SERVER_CODE_UNKNOWN. */
export const syncErrorFromWire = (code: string, message: string, retry: boolean): SyncError =>
  isErrorCode(code)
    ? new SyncError(code, message, retry)
    : new SyncError('SERVER_CODE_UNKNOWN', `${code}: ${message}`, retry, code);

/**
 * SyncError codes of a request that got no answer, so it may or may not have reached the server: the
 * socket dropped or was not up (NETWORK), no reply in time (TIMEOUT), or the connection was stopped while
 * it waited (STOPPED: the app went offline, or the session closed).
 */
export const CONNECTION_CODES: ReadonlySet<string> = new Set(['NETWORK', 'TIMEOUT', 'STOPPED']);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RequestFrame = DistributiveOmit<Exclude<ClientFrame, { t: 'hello' } | { t: 'auth' }>, 'rid'>;

export interface ConnectionOptions {
  url: string;
  createWebSocket: WebSocketFactory;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  /**
   * Unsolicited frames once ready (`changes`, `accessChanged`, `wrappedRootChanged`, errors without rid),
   * the BAD_MESSAGE error frames reporting a frame not acted on (invalid, or out of turn), and the
   * LIVE_APPLY_FAILED error frames reporting a failure of this handler or of `onReady` (see the header).
   */
  onFrame: (frame: ServerFrame) => void;
  onStatus?: (status: ConnectionStatus, reason?: string) => void;
  /** After each successful authentication, with the server's `ready` frame. */
  onReady?: (ready: ReadyFrame) => void;
  backoff?: { initialMs: number; maxMs: number };
  requestTimeoutMs?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** WebSocket readyState OPEN (the same in the WHATWG API and `ws`). */
const OPEN = 1;
const FATAL_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'DEVICE_REVOKED',
  'UNSUPPORTED_VERSION',
  'BAD_SIGNATURE',
]);

/** What the person reads when the server does not know this device: why, and what they can do. */
const DEVICE_UNKNOWN_MESSAGE =
  'this server does not know this device: its registration is not there (the server was restored from a ' +
  'backup older than this device, the device or its account was removed, or the app points at another ' +
  'server). Check the server address, or join again with your passphrase or recovery key';

/**
 * The error a refusal before `ready` ends the connection with, or undefined when a later attempt can
 * succeed. NOT_FOUND is only ever the device itself before `ready` (the hello and auth rows of
 * MESSAGE_TABLE); a server that predates it answers UNAUTHENTICATED, which stays retried.
 */
const handshakeRefusal = (code: string, message: string): SyncError | undefined => {
  if (code === 'NOT_FOUND')
    return new SyncError('DEVICE_UNKNOWN', `${DEVICE_UNKNOWN_MESSAGE} (${message})`, false);
  return FATAL_CODES.has(code) ? syncErrorFromWire(code, message, false) : undefined;
};

/** The device key is zeroed (its account was locked): no attempt of this connection can sign in again. */
const lockedError = (): SyncError =>
  new SyncError(
    'LOCKED',
    'the account was locked, so this device cannot sign in; open the session again once unlocked',
    false,
  );

/** `"rid"` as a top-level member before any nested value, as the server writes its frames. */
const RID_PREFIX = /^\s*\{[^{}[\]"]*(?:"[^"\\]*"\s*:\s*"[^"\\]*"\s*,\s*)*"rid"\s*:\s*(\d{1,16})\s*[,}]/;

/**
 * The `rid` of a frame refused before it was parsed (its size, or its structure: `unparsed`), read from its
 * first bytes; only members that are plain strings may come before it, so text inside a string is never
 * taken for it. One past the protocol's range (2^53 - 1) names none.
 */
const unparsedRid = (error: { code: string; unparsed?: true }, text: string): number | undefined => {
  if (error.code !== 'TOO_LARGE' && error.unparsed !== true) return undefined;
  const m = RID_PREFIX.exec(text.slice(0, 256));
  const rid = m === null ? NaN : Number(m[1]);
  return Number.isSafeInteger(rid) ? rid : undefined;
};

/** A promise (of any realm) or another thenable: what an async handler answers. */
const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

interface PendingRequest {
  resolve: (f: ServerFrame) => void;
  reject: (e: Error) => void;
  /** The reply's deadline, or the wait before sending again after RATE_LIMITED. */
  timer: unknown;
}

/**
 * The wait a RATE_LIMITED answer names (`retryAfterMs`, at least 10 ms so a server answering 0 is not
 * hammered), or undefined when it names none usable (the request then fails and its caller backs off).
 */
const rateLimitWait = (details: Record<string, unknown> | undefined): number | undefined => {
  const after = details?.['retryAfterMs'];
  if (typeof after !== 'number' || !Number.isFinite(after) || after < 0) return undefined;
  return Math.max(10, after);
};

/**
 * The sync socket: sign-in, framing, request ids and timeouts.
 *
 * @throws `SyncError` for its failures.
 */
export const createConnection = (options: ConnectionOptions) => {
  const setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const backoff = options.backoff ?? { initialMs: 250, maxMs: 15_000 };
  const requestTimeout = options.requestTimeoutMs ?? HTTP_TIMEOUT_MS;
  let ws: WebSocketLike | null = null;
  let status: ConnectionStatus = 'offline';
  let attempt = 0;
  let reconnectTimer: unknown = null;
  let nextRid = 1;
  const pending = new Map<number, PendingRequest>();
  /** Date.now() before which no RATE_LIMITED request is sent again (they go one wait apart). */
  let resendNotBefore = 0;
  let readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  let lastReason: string | undefined;
  /** The error that made the connection fatal, until `start()`. */
  let failure: SyncError | undefined;
  /** Protocol version of the current authenticated connection (from `ready`), null when not ready. */
  let version: number | null = null;

  /** Listeners besides `options.onStatus` (`onStatusChange`): modules that watch the link while they wait. */
  const statusListeners = new Set<(status: ConnectionStatus) => void>();
  const setStatus = (next: ConnectionStatus, reason?: string): void => {
    status = next;
    if (next !== 'ready') version = null;
    lastReason = reason;
    // Through `callHandler`: a listener's throw would skip the other listeners and the work after the
    // change (scheduling the reconnect at a drop, rejecting the waiters at a fatal error).
    callHandler('a status listener', () => options.onStatus?.(next, reason));
    for (const listener of [...statusListeners]) callHandler('a status listener', () => listener(next));
  };

  /** Stops for good (until `start()`): no reconnect, waiters for `ready` rejected with `error`. */
  const goFatal = (error: SyncError): void => {
    endHandshakeTimer();
    failure = error;
    setStatus('fatal', `${error.code}: ${error.message}`);
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const w of waiters) w.reject(error);
  };

  /**
   * Calls a handler (`onFrame`, `onReady`, a status listener) from the socket's handlers so that its
   * failure (a throw, or the rejection of a promise it answers) stays here: escaped, it would be an uncaught
   * exception under `ws` (whose socket then reads no more) and an uncaught error in a browser. It is told
   * as a LIVE_APPLY_FAILED error frame to `onFrame` (the issue the engine raises for a live frame it could
   * not apply, which is what this is), whose own failure then is dropped (nothing is left to tell it to);
   * the connection goes on as if the handler had returned.
   */
  const callHandler = (what: string, call: () => unknown): void => {
    const failed = (error: unknown): void => {
      try {
        const why = error instanceof Error ? error.message : String(error);
        // No longer than a server's error frame may be, so that it reads as any other.
        const message = `${what} failed on this device: ${why}`.slice(0, 1000);
        const told: unknown = options.onFrame({ t: 'error', code: 'LIVE_APPLY_FAILED', message });
        if (isThenable(told)) told.then(undefined, () => undefined);
      } catch {
        // onFrame failed at its own report: there is no one else to tell.
      }
    };
    try {
      const result = call();
      if (isThenable(result)) result.then(undefined, failed);
    } catch (error) {
      failed(error);
    }
  };
  /** `frame` to `onFrame` (see `callHandler`). */
  const handOn = (frame: ServerFrame): void =>
    callHandler(`handling ${frame.t} from the server`, () => options.onFrame(frame));

  /** The socket kept after `lockedOut()` for the replies to requests sent before it; null otherwise. */
  let draining: WebSocketLike | null = null;
  const endDrain = (): void => {
    const socket = draining;
    draining = null;
    if (socket === null || ws !== socket) return;
    ws = null;
    failPending(new SyncError('NETWORK', 'connection given up (the account was locked)', true));
    try {
      socket.close(4000, 'account locked');
    } catch {
      // Already closing: nothing more to do with it.
    }
  };

  const failPending = (error: SyncError): void => {
    resendNotBefore = 0;
    for (const [rid, p] of pending) {
      clearTimer(p.timer);
      p.reject(error);
      pending.delete(rid);
    }
  };

  /**
   * `reason` cut to what a close frame holds (123 bytes of UTF-8), whole characters only: a longer one makes
   * `close()` throw (browsers and `ws` alike) and the socket would be left open.
   */
  const closeReason = (reason: string): string => {
    if (!exceedsBytes(reason, MAX_CLOSE_REASON_BYTES)) return reason;
    let bytes = 0;
    let cut = '';
    for (const char of reason) {
      bytes += utf8ByteLength(char);
      if (bytes > MAX_CLOSE_REASON_BYTES) break;
      cut += char;
    }
    return cut;
  };
  /**
   * Gives `socket` up as if it had closed (its own close event is ignored afterwards): requests in flight
   * fail NETWORK, later ones wait for the reconnect.
   */
  const abandon = (socket: WebSocketLike, reason: string): void => {
    if (ws !== socket) return;
    ws = null;
    failPending(new SyncError('NETWORK', `connection given up (${reason})`, true));
    if (status !== 'stopped' && status !== 'fatal') {
      setStatus('offline', reason);
      scheduleReconnect();
    }
    try {
      socket.close(4000, closeReason(reason));
    } catch {
      // Already closing: nothing more to do with it.
    }
  };

  /** The deadline of the socket being opened for its `ready` (see `open`), one at a time. */
  let handshakeTimer: unknown;
  const endHandshakeTimer = (): void => {
    if (handshakeTimer !== undefined) clearTimer(handshakeTimer);
    handshakeTimer = undefined;
  };

  const scheduleReconnect = (): void => {
    // A socket there already was opened by `start()` from a status listener told `offline` just before.
    if (status === 'stopped' || status === 'fatal' || reconnectTimer !== null || ws !== null) return;
    const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    attempt++;
    reconnectTimer = setTimer(() => {
      reconnectTimer = null;
      open();
    }, delay);
  };

  const open = (): void => {
    if (status === 'stopped' || status === 'fatal') return;
    setStatus('connecting');
    let socket: WebSocketLike;
    try {
      socket = options.createWebSocket(options.url);
    } catch (error) {
      // The platform's refusal because the account was locked (the session's factory): no later attempt
      // can sign in either, so it ends the connection as a zeroed key does, rather than leave requests
      // waiting for a `ready` that cannot come until the session closes.
      if (isAccountError(error) && error.code === 'LOCKED') {
        goFatal(lockedError());
        return;
      }
      setStatus('offline', error instanceof Error ? error.message : String(error));
      scheduleReconnect();
      return;
    }
    ws = socket;
    /** `signing`: the challenge is taken and its `auth` being signed, not sent yet. */
    let phase: 'hello' | 'signing' | 'auth' | 'ready' = 'hello';
    // A deadline of this device's own for the socket to open and the handshake to end: a server (or
    // anything in between) that accepts the socket and never answers would otherwise hold it for ever,
    // every request waiting for a `ready` that never comes. Given up, it reconnects with backoff.
    endHandshakeTimer();
    handshakeTimer = setTimer(() => {
      handshakeTimer = undefined;
      if (phase !== 'ready') abandon(socket, `no ready within ${requestTimeout} ms of connecting`);
    }, requestTimeout);
    const offered = [...SUPPORTED_VERSIONS];
    /** The version the server's `challenge` chose (one of `offered`); `ready` must keep it. */
    let chosen: number | null = null;
    const sendRaw = (frame: ClientFrame): void => socket.send(encodeFrame(frame));
    /**
     * Ends the connection for good before `ready`, giving the socket up: nothing the server sends on it
     * afterwards (a `challenge`, a `ready`) is acted on.
     */
    // Fatal first, so that giving the socket up schedules no reconnect; nothing is pending before `ready`
    // (requests wait in whenReady, which goFatal rejects).
    const endHandshake = (error: SyncError): void => {
      goFatal(error);
      abandon(socket, 'handshake refused');
    };
    /** Over a handshake the protocol does not allow (see the header). */
    const refuseHandshake = (message: string): void =>
      endHandshake(new SyncError('BAD_HANDSHAKE', message, false));
    /** A frame not acted on, told by its type alone: what a frame carries is not for logs or the person. */
    const reportIgnored = (type: ServerFrame['t'], when: string): void =>
      handOn({ t: 'error', code: 'BAD_MESSAGE', message: `unexpected ${type} from server ${when}` });
    socket.onopen = () => {
      sendRaw({ t: 'hello', versions: offered, deviceId: options.device.deviceId });
    };
    socket.onmessage = (ev) => {
      if (ws !== socket) return;
      const text = ev.data;
      if (typeof text !== 'string') {
        // Every frame of the protocol is text: a binary one is invalid, reported as any other is.
        if (draining !== socket) {
          handOn({
            t: 'error',
            code: 'BAD_MESSAGE',
            message: 'invalid frame from server: not text',
          });
        }
        return;
      }
      const decoded = decodeServerFrameTolerant(text);
      if (!decoded.ok) {
        // A broken reply to a pending request fails that request now instead of leaving it to time out.
        const rid = phase === 'ready' ? (decoded.error.rid ?? unparsedRid(decoded.error, text)) : undefined;
        const p = rid === undefined ? undefined : pending.get(rid);
        if (rid !== undefined && p) {
          pending.delete(rid);
          clearTimer(p.timer);
          p.reject(
            new SyncError('BAD_MESSAGE', `invalid reply from server: ${decoded.error.message}`, false),
          );
          if (draining === socket && pending.size === 0) endDrain();
          return;
        }
        if (draining === socket) return;
        handOn({
          t: 'error',
          code: 'BAD_MESSAGE',
          message: `invalid frame from server: ${decoded.error.message}`,
        });
        return;
      }
      const frame = decoded.value;
      // Given up at a lock: only the replies to requests already sent are taken.
      if (draining === socket && !('rid' in frame && pending.has(frame.rid))) return;
      if (frame.t === 'challenge' || frame.t === 'ready') {
        const expected = phase === 'hello' ? 'challenge' : phase === 'auth' ? 'ready' : undefined;
        if (frame.t !== expected) {
          reportIgnored(
            frame.t,
            expected !== undefined
              ? `awaiting ${expected}`
              : phase === 'signing'
                ? 'before auth was sent'
                : 'after ready',
          );
          return;
        }
      }
      if (phase === 'hello') {
        if (frame.t === 'challenge') {
          if (!offered.includes(frame.version)) {
            refuseHandshake(
              `server chose protocol version ${frame.version}, not one offered (${offered.join(', ')})`,
            );
            return;
          }
          chosen = frame.version;
          phase = 'signing';
          const secretKey = options.device.secretKey;
          // Never signed under zeroes: the server would refuse it BAD_SIGNATURE, a reason that misleads.
          if (isAllZero(secretKey)) {
            endHandshake(lockedError());
            return;
          }
          const payload = authSignaturePayload({
            nonce: frame.nonce,
            deviceId: options.device.deviceId,
            serverId: frame.serverId,
          });
          void signCanonical(options.ed, secretKey, payload.label, payload).then(
            (sig) => {
              if (ws !== socket) return;
              // Zeroed while it was signed: the signature may be over zeroes.
              if (isAllZero(secretKey)) return endHandshake(lockedError());
              phase = 'auth';
              sendRaw({ t: 'auth', sig: base64urlEncode(sig) });
            },
            (error: unknown) => {
              if (ws !== socket) return;
              if (isAllZero(secretKey) || (isAccountError(error) && error.code === 'LOCKED')) {
                endHandshake(lockedError());
                return;
              }
              // Not this device's standing: a later attempt may sign (the server's deadline would only
              // end this one later).
              const why = error instanceof Error ? error.message : String(error);
              abandon(socket, `auth could not be signed: ${why}`);
            },
          );
          return;
        }
      } else if (phase === 'auth' && frame.t === 'ready') {
        if (frame.version !== chosen) {
          refuseHandshake(
            `server answered ready for version ${frame.version}, its challenge chose ${chosen}`,
          );
          return;
        }
        if (frame.deviceId !== options.device.deviceId) {
          refuseHandshake(`server answered ready for device ${frame.deviceId}, not this device`);
          return;
        }
        phase = 'ready';
        endHandshakeTimer();
        attempt = 0;
        version = frame.version;
        setStatus('ready');
        const waiters = readyWaiters;
        readyWaiters = [];
        for (const w of waiters) w.resolve();
        callHandler('handling ready', () => options.onReady?.(frame));
        return;
      }
      if (phase !== 'ready') {
        // No request has gone out before `ready`, so any other frame is the server's mistake, and acting on
        // it would take what a session not yet authenticated said as this device's. Dropping it loses
        // nothing a caller relies on: after each `ready` the engine lists its streams and pulls afresh.
        if (frame.t !== 'error') reportIgnored(frame.t, 'before ready');
        else {
          const refusal = handshakeRefusal(frame.code, frame.message);
          if (refusal) endHandshake(refusal);
          else lastReason = `${frame.code}: ${frame.message}`;
        }
        return;
      }
      const rid = 'rid' in frame ? frame.rid : undefined;
      if (rid !== undefined) {
        const p = pending.get(rid);
        if (p) {
          pending.delete(rid);
          clearTimer(p.timer);
          p.resolve(frame);
          if (draining === socket && pending.size === 0) endDrain();
          return;
        }
      }
      // Only without a rid: one naming a request (settled already: a repeated answer) refused that request
      // (a grant's signature, …), not this device, and must not end the connection for every other.
      if (frame.t === 'error' && rid === undefined && FATAL_CODES.has(frame.code)) {
        // As before `ready`: fatal first, so that giving the socket up schedules no reconnect, and nothing
        // the server sends on it afterwards is acted on or handed on.
        goFatal(syncErrorFromWire(frame.code, frame.message, false));
        abandon(socket, `refused: ${frame.code}`);
      }
      handOn(frame);
    };
    socket.onclose = (ev) => {
      if (ws !== socket) return;
      endHandshakeTimer();
      ws = null;
      failPending(new SyncError('NETWORK', `connection closed (${ev.code} ${ev.reason})`, true));
      if (status !== 'stopped' && status !== 'fatal') {
        setStatus('offline', lastReason ?? `closed ${ev.code}`);
        scheduleReconnect();
      }
    };
    socket.onerror = () => {
      // onclose follows and owns the reconnect.
    };
  };

  const whenReady = (): Promise<void> => {
    if (status === 'ready') return Promise.resolve();
    if (status === 'fatal')
      return Promise.reject(failure ?? new SyncError('FATAL', lastReason ?? status, false));
    if (status === 'stopped') return Promise.reject(new SyncError('STOPPED', lastReason ?? status, false));
    return new Promise((resolve, reject) => readyWaiters.push({ resolve, reject }));
  };

  return {
    /**
     * Opens the socket and authenticates, reconnecting with backoff after each drop.
     * - Also after `stop()` or a fatal refusal: the failure is cleared.
     * - Does nothing while a socket, a reconnect or an open is under way.
     */
    start(): void {
      endDrain();
      if (status === 'stopped' || status === 'fatal') status = 'offline';
      failure = undefined;
      // `connecting` without a socket: `open()` is under way (a status listener of its own calls this).
      if (ws === null && reconnectTimer === null && status !== 'connecting') open();
    },
    /**
     * Closes the socket, with no reconnect: status `stopped`.
     * - Requests under way and waiters for `ready` reject with SyncError STOPPED.
     */
    stop(): void {
      setStatus('stopped');
      endHandshakeTimer();
      if (reconnectTimer !== null) clearTimer(reconnectTimer);
      reconnectTimer = null;
      const socket = ws;
      ws = null;
      socket?.close(1000, 'client stopped');
      failPending(new SyncError('STOPPED', 'connection stopped', false));
      const waiters = readyWaiters;
      readyWaiters = [];
      for (const w of waiters) w.reject(new SyncError('STOPPED', 'connection stopped', false));
    },
    /** Drops the socket as a network failure would (tests, and "go offline" in the UI). */
    drop(): void {
      ws?.close(4000, 'dropped by client');
    },
    /**
     * The account was locked: fatal LOCKED at once, as a zeroed key met at sign-in makes it (no reconnect,
     * waiters for `ready` and new requests refused LOCKED); an idle session would else stay signed in until
     * it next needed a key. Requests already sent keep their socket until answered (work under way
     * finishes: a revocation the server took is told), then it is closed; nothing else it brings is handed
     * on. Also when stopped (`goOffline()`): what waits for the connection (`awaitInSync`) must end LOCKED,
     * not wait for a connection that will never authenticate. Not once fatal.
     */
    lockedOut(): void {
      if (status === 'fatal') return;
      if (reconnectTimer !== null) clearTimer(reconnectTimer);
      reconnectTimer = null;
      goFatal(lockedError());
      draining = ws;
      if (pending.size === 0) endDrain();
    },
    /** The connection's status now. */
    status: (): ConnectionStatus => status,
    /** Calls `listener` with each status set from now on; answers the function that stops it. */
    onStatusChange(listener: (status: ConnectionStatus) => void): () => void {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    /** Negotiated protocol version while ready (frames added later must not be sent on older ones). */
    version: (): number | null => version,
    /** Why the status last changed (a close, a refusal), if told; for display. */
    reason: (): string | undefined => lastReason,
    /** The error that made the connection fatal (its `code`: DEVICE_UNKNOWN, DEVICE_REVOKED, …), if it is. */
    failure: (): SyncError | undefined => (status === 'fatal' ? failure : undefined),
    /**
     * Resolves once the connection is `ready` (at once when it is).
     * @throws SyncError STOPPED once stopped; once fatal, its failure (DEVICE_REVOKED, LOCKED, …; else
     * FATAL).
     */
    whenReady,
    /**
     * Sends `frame` and answers its reply (see the header). `wait: false`: rejects NETWORK at once when the
     * connection is not ready or its socket is closing, instead of waiting for the next connection (a
     * caller that keeps what it sends and sends it again at the next connection, e.g. a revocation).
     * Whether it may go out is decided when it is sent, not when it was made: stopped or locked meanwhile
     * (in the same turn included), it fails as a request made then would.
     */
    async request<T extends ServerFrame = ServerFrame>(
      frame: RequestFrame,
      { wait = true }: { wait?: boolean } = {},
    ): Promise<T> {
      let socket: WebSocketLike | null = null;
      while (socket === null) {
        if (!wait && (status === 'offline' || status === 'connecting')) {
          throw new SyncError('NETWORK', 'not connected', true);
        }
        await whenReady();
        // Taken again as a request made now: `stop()`, `lockedOut()` or a drop may have come in the turn
        // the wait ended in. Stopped or fatal, the next wait rejects as it would for one made now (STOPPED,
        // LOCKED, …), not NETWORK, and nothing goes out on a socket a lock keeps for earlier replies.
        if (status !== 'ready') continue;
        if (ws !== null && ws.readyState !== OPEN) {
          // Closing under us (its close event is still to come): wait for the next connection instead.
          abandon(ws, 'socket closing');
          if (!wait) throw new SyncError('NETWORK', 'not connected (the socket was closing)', true);
          continue;
        }
        // Never met (`ready` always has its socket); kept so that no state can spin this loop.
        if (ws === null) throw new SyncError('NETWORK', 'not connected', true);
        socket = ws;
      }
      const sending = socket;
      const rid = nextRid++;
      // `rid` first: a server refusing the frame for load reads only its start (older servers too).
      const text = encodeFrame({ rid, ...frame });
      return new Promise<T>((resolve, reject) => {
        const replies: readonly string[] = MESSAGE_TABLE[frame.t].reply;
        /** Time spent waiting as RATE_LIMITED answers asked, bounded by `requestTimeout`. */
        let waited = 0;
        const send = (): void => {
          entry.timer = setTimer(() => {
            pending.delete(rid);
            reject(new SyncError('TIMEOUT', `no reply to ${frame.t} within ${requestTimeout} ms`, true));
            abandon(sending, `no reply to ${frame.t} within ${requestTimeout} ms`);
          }, requestTimeout);
          pending.set(rid, entry);
          sending.send(text);
        };
        const entry: PendingRequest = {
          resolve: (f) => {
            if (f.t === 'error') {
              const wait = f.code === 'RATE_LIMITED' ? rateLimitWait(f.details) : undefined;
              // Requests refused together go again one wait apart, not all at once (the bucket gives a
              // token a wait): each would otherwise be refused again but one, round after round.
              const now = Date.now();
              const at = wait === undefined ? now : Math.max(now, resendNotBefore) + wait;
              if (wait === undefined || waited + (at - now) > requestTimeout) {
                reject(syncErrorFromWire(f.code, f.message, true));
                return;
              }
              resendNotBefore = at;
              // The server refuses a frame for load before reading it (and every request is idempotent), so
              // it goes again: on the same socket (it answered), after the wait the server named, pending
              // meanwhile (a drop or a stop fails it as any other).
              waited += at - now;
              pending.set(rid, entry);
              entry.timer = setTimer(() => {
                if (pending.get(rid) !== entry) return;
                // A drop or a stop cleared this timer (failPending); a socket closing whose close has not
                // arrived yet is given up, which fails this request NETWORK with the others.
                if (sending.readyState !== OPEN) return abandon(sending, 'socket closing');
                send();
              }, at - now);
            } else if (!replies.includes(f.t)) {
              reject(new SyncError('BAD_MESSAGE', `server answered ${frame.t} with ${f.t}`, false));
            } else resolve(f as T);
          },
          reject,
          timer: undefined,
        };
        send();
      });
    },
  };
};

/** The sync connection of a device session: what `createConnection` answers. */
export type Connection = ReturnType<typeof createConnection>;
