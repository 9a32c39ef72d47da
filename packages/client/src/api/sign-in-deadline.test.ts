// A sign-in (challenge → signature → session, retried once on a stale challenge) has one time limit in all,
// not one per HTTP call: a caller waiting on it waits at most SIGN_IN_TIMEOUT_MS.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHALLENGE_TTL_MS, SESSION_TTL_MS } from '@hale/protocol';
import { base64urlEncode } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { HaleClientError, isHaleClientError } from './errors';
import {
  HTTP_TIMEOUT_MS,
  createHttpApi,
  type FetchLike,
  type FetchResponseLike,
  type HttpApi,
} from './http-api';
import { SIGN_IN_TIMEOUT_MS, createSessionManager } from './session-manager';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const device = { deviceId: 'D'.repeat(22), secretKey: new Uint8Array(64).fill(7) };
const ed = nodeEd25519;

const jsonAnswer = (status: number, body: unknown): FetchResponseLike => {
  const text = JSON.stringify(body);
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: () => null },
    json: async () => body,
    text: async () => text,
    arrayBuffer: async () => new TextEncoder().encode(text).buffer,
  };
};

const challengeBody = (at: number) => ({
  challengeId: base64urlEncode(new Uint8Array(16).fill(1)),
  nonce: base64urlEncode(new Uint8Array(32).fill(2)),
  serverId: 'S'.repeat(22),
  expiresAt: new Date(at + CHALLENGE_TTL_MS).toISOString(),
});

/** What a sign-in promise has come to so far. */
const watch = (pending: Promise<string>) => {
  const state: { outcome?: { token: string } | { error: unknown } } = {};
  pending.then(
    (token) => (state.outcome = { token }),
    (error: unknown) => (state.outcome = { error }),
  );
  return state;
};

const codeOf = (outcome: { token: string } | { error: unknown } | undefined): string | undefined =>
  outcome === undefined
    ? undefined
    : 'token' in outcome
      ? 'signed in'
      : isHaleClientError(outcome.error)
        ? outcome.error.code
        : String(outcome.error);

describe('a sign-in through the HTTP API, on the platform timers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A server that answers each call of `script` (by path, in order) after its delay, or never (null). */
  const scriptedServer = (
    script: { path: string; afterMs: number | null; status?: number; body?: unknown }[],
  ) => {
    const seen: string[] = [];
    const fetch: FetchLike = (url) => {
      const path = new URL(url).pathname;
      seen.push(path);
      const step = script[seen.length - 1];
      if (step === undefined || step.path !== path) throw new Error(`unexpected call ${path}`);
      if (step.afterMs === null) return new Promise<FetchResponseLike>(() => undefined);
      const answer = step.body ?? challengeBody(Date.now() + step.afterMs);
      return new Promise((resolve) =>
        setTimeout(() => resolve(jsonAnswer(step.status ?? 200, answer)), step.afterMs ?? 0),
      );
    };
    return { api: createHttpApi({ baseUrl: 'http://x', fetch }), seen };
  };

  it('fails TIMEOUT once SIGN_IN_TIMEOUT_MS has passed, when the second call never answers', async () => {
    expect(SIGN_IN_TIMEOUT_MS).toBeLessThanOrEqual(HTTP_TIMEOUT_MS);
    const server = scriptedServer([
      { path: '/v1/auth/challenge', afterMs: 40_000 },
      { path: '/v1/auth/session', afterMs: null },
    ]);
    const sessions = createSessionManager({ api: server.api, device, ed });
    const signIn = watch(sessions.token());
    await vi.advanceTimersByTimeAsync(SIGN_IN_TIMEOUT_MS - 1);
    expect(server.seen).toEqual(['/v1/auth/challenge', '/v1/auth/session']);
    expect(codeOf(signIn.outcome)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(codeOf(signIn.outcome)).toBe('TIMEOUT');
    const error =
      signIn.outcome !== undefined && 'error' in signIn.outcome ? signIn.outcome.error : undefined;
    expect(error).toMatchObject({ code: 'TIMEOUT', status: 0, retry: true });
  });

  it('the retry on a stale challenge runs within the same time, not a time of its own', async () => {
    const server = scriptedServer([
      { path: '/v1/auth/challenge', afterMs: 10_000 },
      {
        path: '/v1/auth/session',
        afterMs: 10_000,
        status: 401,
        body: { code: 'CHALLENGE_INVALID', message: 'stale' },
      },
      { path: '/v1/auth/challenge', afterMs: null },
    ]);
    const sessions = createSessionManager({ api: server.api, device, ed });
    const signIn = watch(sessions.token());
    await vi.advanceTimersByTimeAsync(SIGN_IN_TIMEOUT_MS);
    expect(server.seen).toHaveLength(3);
    expect(codeOf(signIn.outcome)).toBe('TIMEOUT');
  });
});

describe('a sign-in with injected timers', () => {
  /** Timers on a clock the test moves (`advance`). */
  const virtualTimers = () => {
    let now = 0;
    const set = new Map<number, { fn: () => void; due: number }>();
    let next = 1;
    return {
      set,
      setTimer: (fn: () => void, ms: number): unknown => {
        set.set(next, { fn, due: now + ms });
        return next++;
      },
      clearTimer: (handle: unknown): void => {
        if (typeof handle === 'number') set.delete(handle);
      },
      advance(ms: number): void {
        now += ms;
        for (const [id, timer] of [...set]) {
          if (timer.due <= now) {
            set.delete(id);
            timer.fn();
          }
        }
      },
    };
  };

  /** An API whose answers the test gives by hand, one deferred answer per call. */
  const handApi = () => {
    const calls: {
      name: 'challenge' | 'session';
      resolve: (v: never) => void;
      reject: (e: unknown) => void;
    }[] = [];
    const call = (name: 'challenge' | 'session') => () =>
      new Promise<never>((resolve, reject) => calls.push({ name, resolve, reject }));
    const api: Pick<HttpApi, 'challenge' | 'session'> = {
      challenge: call('challenge'),
      session: call('session'),
    };
    const answer = (index: number, value: unknown) => (calls[index]!.resolve as (v: unknown) => void)(value);
    return { api, calls, answer };
  };

  const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  const sessionBody = () => ({
    token: 'tok_0123456789abcdef',
    expiresAt: new Date(Date.now() + SESSION_TTL_MS).toISOString(),
  });

  it('honours signInTimeoutMs, and a sign-in that ends in time leaves no timer behind', async () => {
    const timers = virtualTimers();
    const hand = handApi();
    const sessions = createSessionManager({ api: hand.api, device, ed, signInTimeoutMs: 5_000, ...timers });
    const ok = watch(sessions.token());
    await flush();
    hand.answer(0, challengeBody(Date.now()));
    await flush();
    hand.answer(1, sessionBody());
    await flush();
    expect(codeOf(ok.outcome)).toBe('signed in');
    expect(timers.set.size).toBe(0);

    sessions.invalidate();
    const late = watch(sessions.token());
    await flush();
    timers.advance(4_999);
    await flush();
    expect(codeOf(late.outcome)).toBeUndefined();
    timers.advance(1);
    await flush();
    expect(codeOf(late.outcome)).toBe('TIMEOUT');
  });

  it('past its time: no retry on a stale challenge', async () => {
    const timers = virtualTimers();
    const hand = handApi();
    const sessions = createSessionManager({ api: hand.api, device, ed, signInTimeoutMs: 5_000, ...timers });
    const first = watch(sessions.token());
    await flush();
    hand.answer(0, challengeBody(Date.now()));
    await flush();
    timers.advance(5_000);
    await flush();
    expect(codeOf(first.outcome)).toBe('TIMEOUT');
    hand.calls[1]!.reject(new HaleClientError({ code: 'CHALLENGE_INVALID', message: 'stale', status: 401 }));
    await flush();
    expect(hand.calls.map((c) => c.name)).toEqual(['challenge', 'session']);
  });

  it('past its time: its late session is not cached, the next call signs in anew', async () => {
    const timers = virtualTimers();
    const hand = handApi();
    const sessions = createSessionManager({ api: hand.api, device, ed, signInTimeoutMs: 5_000, ...timers });
    const first = watch(sessions.token());
    await flush();
    hand.answer(0, challengeBody(Date.now()));
    await flush();
    timers.advance(5_000);
    await flush();
    expect(codeOf(first.outcome)).toBe('TIMEOUT');
    hand.answer(1, { ...sessionBody(), token: 'tok_late_0123456789' });
    await flush();

    const second = watch(sessions.token());
    await flush();
    expect(hand.calls.map((c) => c.name)).toEqual(['challenge', 'session', 'challenge']);
    hand.answer(2, challengeBody(Date.now()));
    await flush();
    hand.answer(3, sessionBody());
    await flush();
    expect(second.outcome).toEqual({ token: 'tok_0123456789abcdef' });
    expect(await sessions.token()).toBe('tok_0123456789abcdef');
    expect(hand.calls).toHaveLength(4);
  });
});
