/**
 * Bearer sessions for the HTTP API: challenge → device signature → session token, cached.
 *
 * Invariants: the device signs `authSignaturePayload({ nonce, deviceId, serverId })` exactly as the
 * server rebuilds it, with the label both as signing prefix and inside the payload. The token is reused
 * until REFRESH_MARGIN before its expiry, measured on the device clock from the lifetime the server
 * granted (session expiry − challenge issue time, both server times), so a skewed device clock neither
 * keeps a dead token nor discards a live one. Concurrent callers share one authentication in flight; it
 * ends within SIGN_IN_TIMEOUT_MS in all, the retry on a stale challenge included (each HTTP call has its
 * own limit too, but a sign-in is up to four calls, so a caller would otherwise wait up to four of those),
 * and its slot is freed however it ends, so a sign-in that hung or failed is never handed out again: the
 * next call starts a new one. `invalidate()` frees the slot at once too, and a sign-in started before it
 * no longer sets the cached token. A sign-in past its time is not retried and its late session is never
 * cached; the HTTP call still under way ends by its own limit (it takes no abort signal), and the key copy
 * it signed with is wiped when it does.
 * Failure modes (HaleClientError): a sign-in without a session within SIGN_IN_TIMEOUT_MS → TIMEOUT
 * (retryable, status 0), whichever of its calls hung; a challenge that turns out stale (CHALLENGE_INVALID)
 * is retried once with a fresh one, within the same time; `withToken` re-authenticates once when the
 * server answers SESSION_EXPIRED or
 * UNAUTHENTICATED and then gives up with that error; DEVICE_REVOKED and BAD_SIGNATURE propagate at once
 * (the device must stop, not loop).
 * Locked while opening: lock() zeroes the account's device key in place at any await. `openSession` signs
 * only with a copy taken before its first await (wiped when it ends), and answers LOCKED (AccountError)
 * when the key it was given is all zeroes before it starts or after any of its awaits: it never signs with
 * zeroes, and hands no session to a caller whose account was locked meanwhile.
 */
import { CHALLENGE_TTL_MS, SESSION_TTL_MS, authSignaturePayload } from '@hale/protocol';
import { base64urlEncode, isAllZero, signCanonical, type Ed25519 } from '@hale/crypto';
import { AccountError } from '../core/account-error';
import { HaleClientError, isHaleClientError } from './errors';
import { HTTP_TIMEOUT_MS, type HttpApi } from './http-api';
import { startTimeLimit, timerMs } from '../core/timer-ms';

/** Renew this long before the token expires (or at 90 % of a shorter lifetime). */
export const SESSION_REFRESH_MARGIN_MS = 60_000;

/**
 * Time limit of one sign-in in all (challenge, signature, session, and the retry on a stale challenge):
 * one HTTP call's default limit (HTTP_TIMEOUT_MS), so an upload or key fetch waiting on a sign-in waits no
 * longer than on any other call.
 */
export const SIGN_IN_TIMEOUT_MS = HTTP_TIMEOUT_MS;

/** The device a session manager signs in as: its id and Ed25519 secret key. */
export interface SessionDevice {
  readonly deviceId: string;
  /** Ed25519 secret key, tweetnacl layout (seed ‖ public key). */
  readonly secretKey: Uint8Array;
}

/** Options of `createSessionManager`: the challenge and session routes, the device, Ed25519, and a clock. */
export interface SessionManagerOptions {
  readonly api: Pick<HttpApi, 'challenge' | 'session'>;
  readonly device: SessionDevice;
  readonly ed: Ed25519;
  /** Device clock, ms since the epoch. */
  readonly now?: () => number;
  /** Time limit of one sign-in in all, in ms (default SIGN_IN_TIMEOUT_MS; 1…2^31−1, else RangeError). */
  readonly signInTimeoutMs?: number;
  /** Timers (default: the platform's setTimeout/clearTimeout); tests inject their own. */
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  /** Cancels a timer `setTimer` set (default `clearTimeout`). */
  readonly clearTimer?: (handle: unknown) => void;
}

/** Keeps a bearer token for one device: cached, renewed `SESSION_REFRESH_MARGIN_MS` before expiry. */
export interface SessionManager {
  /** A bearer token valid for a while yet; authenticates when there is none. */
  token(): Promise<string>;
  /** Runs `call` with a token; on SESSION_EXPIRED/UNAUTHENTICATED re-authenticates once and runs it again. */
  withToken<T>(call: (token: string) => Promise<T>): Promise<T>;
  /**
   * Forgets the cached token (e.g. after the server refused it) and any sign-in in flight: the next
   * `token()` signs in anew.
   */
  invalidate(): void;
}

/** A bearer token and when it expires, as `openSession` answers it. */
export interface Session {
  readonly token: string;
  /** Server time, as the server sent it. */
  readonly expiresAt: string;
  /** Server-granted lifetime in ms (clamped to 0…SESSION_TTL_MS). */
  readonly lifetimeMs: number;
}

/** One challenge/response round: no caching, no retries. */
export async function openSession(
  api: Pick<HttpApi, 'challenge' | 'session'>,
  device: SessionDevice,
  ed: Ed25519,
): Promise<Session> {
  // The caller's bytes may be the account's own, which lock() zeroes at any await below.
  const assertNotLocked = (): void => {
    if (isAllZero(device.secretKey)) {
      throw new AccountError('LOCKED', 'the device key was zeroed (the account was locked); unlock it again');
    }
  };
  assertNotLocked();
  const secretKey = device.secretKey.slice();
  let challenge: Awaited<ReturnType<typeof api.challenge>>;
  let session: Awaited<ReturnType<typeof api.session>>;
  try {
    challenge = await api.challenge({ deviceId: device.deviceId });
    assertNotLocked();
    const payload = authSignaturePayload({
      nonce: challenge.nonce,
      deviceId: device.deviceId,
      serverId: challenge.serverId,
    });
    const sig = base64urlEncode(await signCanonical(ed, secretKey, payload.label, payload));
    assertNotLocked();
    session = await api.session({ challengeId: challenge.challengeId, deviceId: device.deviceId, sig });
    assertNotLocked();
  } finally {
    secretKey.fill(0);
  }
  const issuedAt = Date.parse(challenge.expiresAt) - CHALLENGE_TTL_MS;
  const lifetime = Date.parse(session.expiresAt) - issuedAt;
  return {
    token: session.token,
    expiresAt: session.expiresAt,
    lifetimeMs: Math.min(Math.max(Number.isFinite(lifetime) ? lifetime : 0, 0), SESSION_TTL_MS),
  };
}

const isSessionError = (e: unknown): boolean =>
  isHaleClientError(e) && (e.code === 'SESSION_EXPIRED' || e.code === 'UNAUTHENTICATED');

/**
 * A session manager over `openSession`: caches the token, renews it before it expires, signs in again once on
 * `SESSION_EXPIRED` or `UNAUTHENTICATED` (`withToken`), and bounds a whole sign-in by `SIGN_IN_TIMEOUT_MS`.
 *
 * @throws `HaleClientError` when signing in fails (`TIMEOUT` past `SIGN_IN_TIMEOUT_MS`).
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const { api, device, ed } = options;
  const now = options.now ?? Date.now;
  const signInTimeoutMs = timerMs('signInTimeoutMs', options.signInTimeoutMs ?? SIGN_IN_TIMEOUT_MS);
  let cached: { token: string; renewAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function signIn(expired: () => boolean): Promise<Session> {
    try {
      return await openSession(api, device, ed);
    } catch (e) {
      if (!(isHaleClientError(e) && e.code === 'CHALLENGE_INVALID') || expired()) throw e;
      return openSession(api, device, ed);
    }
  }

  async function authenticate(): Promise<{ token: string; renewAt: number }> {
    const startedAt = now();
    const limit = startTimeLimit(
      signInTimeoutMs,
      options,
      () =>
        new HaleClientError({
          code: 'TIMEOUT',
          message: `sign-in: no session within ${signInTimeoutMs} ms`,
          status: 0,
        }),
    );
    const attempt = signIn(limit.expired);
    // Whichever loses the race is left unobserved; its outcome matters to no one.
    attempt.catch(() => undefined);
    let session: Session;
    try {
      session = await limit.within(attempt);
    } finally {
      limit.end();
    }
    const margin = Math.min(SESSION_REFRESH_MARGIN_MS, session.lifetimeMs / 10);
    return { token: session.token, renewAt: startedAt + session.lifetimeMs - margin };
  }

  function token(): Promise<string> {
    if (cached !== undefined && now() < cached.renewAt) return Promise.resolve(cached.token);
    cached = undefined;
    if (inFlight !== undefined) return inFlight;
    // Only the sign-in still in the slot caches its token and frees the slot: invalidate() may have
    // emptied it, or put a newer sign-in there, meanwhile.
    const started: Promise<string> = authenticate()
      .then((signedIn) => {
        if (inFlight === started) cached = signedIn;
        return signedIn.token;
      })
      .finally(() => {
        if (inFlight === started) inFlight = undefined;
      });
    inFlight = started;
    return started;
  }

  return {
    token,
    invalidate() {
      cached = undefined;
      inFlight = undefined;
    },
    async withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
      const first = await token();
      try {
        return await call(first);
      } catch (e) {
        if (!isSessionError(e)) throw e;
        // Another caller may have renewed meanwhile; only drop the token that failed.
        if (cached?.token === first) cached = undefined;
        return call(await token());
      }
    },
  };
}
