/**
 * The pairing relay as the devices see it (`PairingRelay`), and its HTTP form over the sync server's
 * `PAIRING_ROUTES`. The flows take any `PairingRelay`, so tests put a hostile one in the server's place.
 *
 * Invariants: request bodies are checked against their schema before they leave; answers are read up to
 * MAX_ANSWER_BYTES and used only once their schema accepts them (extra properties dropped); redirects are
 * refused; every call has a time limit (the wait it asked for plus `timeoutMs`) and an abort signal.
 * Failure modes, thrown as HaleClientError: an error body → its code (PAIRING_UNKNOWN, PAIRING_TAKEN,
 * UNAUTHENTICATED, RATE_LIMITED, …), no answer → NETWORK, too late → TIMEOUT, anything unexpected →
 * BAD_RESPONSE. The flows turn the pairing codes into PairingError.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { utf8Decode } from '@hale/crypto';
import {
  HttpErrorBody,
  PAIRING_ROUTES,
  PairingMessage,
  parseJson,
  validate,
  validateTolerant,
  type HttpPairingClaimResponse,
  type HttpPairingCreateResponse,
  type HttpPairingMessagesResponse,
} from '@hale/protocol';
import { HaleClientError, errorFromWire } from '../api/errors';
import type { FetchLike, FetchResponseLike } from '../api/http-api';

export interface PairingRelay {
  create(commit: string): Promise<HttpPairingCreateResponse>;
  claim(code: string): Promise<HttpPairingClaimResponse>;
  post(code: string, token: string, message: PairingMessage): Promise<void>;
  /** The other side's messages after `after`, waiting up to `waitMs` for one. */
  messages(
    code: string,
    token: string,
    after: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<HttpPairingMessagesResponse>;
}

/** Largest answer read from the relay: its answers are a few hundred bytes. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Time limit of a call beyond the wait it asks the relay for. */
export const RELAY_TIMEOUT_MS = 30_000;

export interface HttpPairingRelayOptions {
  readonly baseUrl: string;
  readonly fetch: FetchLike;
  readonly timeoutMs?: number;
}

const R = PAIRING_ROUTES;

const bad = (what: string, status: number, message: string): HaleClientError =>
  new HaleClientError({ code: 'BAD_RESPONSE', message: `pairing ${what}: ${message}`, status });

async function readBounded(res: FetchResponseLike, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > MAX_ANSWER_BYTES) throw bad(what, res.status, 'answer larger than the relay may send');
  const reader = res.body?.getReader();
  if (reader === undefined) {
    const whole = new Uint8Array(await res.arrayBuffer());
    if (whole.length > MAX_ANSWER_BYTES) throw bad(what, res.status, 'answer larger than the relay may send');
    return whole;
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value === undefined) continue;
    size += value.length;
    if (size > MAX_ANSWER_BYTES) {
      void reader.cancel().catch(() => undefined);
      throw bad(what, res.status, 'answer larger than the relay may send');
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function httpPairingRelay(options: HttpPairingRelayOptions): PairingRelay {
  const base = options.baseUrl.replace(/\/$/, '');
  const timeoutMs = options.timeoutMs ?? RELAY_TIMEOUT_MS;

  async function call<S extends TSchema>(
    what: string,
    method: 'GET' | 'POST',
    path: string,
    expect: { status: number; schema: S },
    extra: { body?: unknown; token?: string; waitMs?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<Static<S>> {
    const controller = new AbortController();
    const ms = timeoutMs + (extra.waitMs ?? 0);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, ms);
    const onAbort = (): void => controller.abort();
    extra.signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (extra.body !== undefined) headers['content-type'] = 'application/json';
    if (extra.token !== undefined) headers.authorization = `Bearer ${extra.token}`;
    try {
      let res: FetchResponseLike;
      try {
        res = await options.fetch(base + path, {
          method,
          headers,
          ...(extra.body === undefined ? {} : { body: JSON.stringify(extra.body) }),
          redirect: 'manual',
          signal: controller.signal,
        });
      } catch (e) {
        if (timedOut) {
          throw new HaleClientError({
            code: 'TIMEOUT',
            message: `pairing ${what}: no answer in ${ms} ms`,
            status: 0,
          });
        }
        const name = e instanceof Error ? e.name.slice(0, 60) : typeof e;
        throw new HaleClientError({
          code: 'NETWORK',
          message: `pairing ${what}: no answer (${name})`,
          status: 0,
        });
      }
      let bytes: Uint8Array;
      try {
        bytes = await readBounded(res, what);
      } catch (e) {
        if (e instanceof HaleClientError) throw e;
        throw new HaleClientError({
          code: timedOut ? 'TIMEOUT' : 'NETWORK',
          message: `pairing ${what}: the answer did not arrive whole`,
          status: res.status,
        });
      }
      const text = utf8Decode(bytes);
      const json = text.ok ? parseJson(text.value) : null;
      if (res.status !== expect.status) {
        const body = json?.ok ? validateTolerant(HttpErrorBody, json.value) : null;
        if (body?.ok) {
          const { code, message, details } = body.value;
          throw errorFromWire(code, message, res.status, details);
        }
        throw bad(what, res.status, `unexpected status ${res.status}`);
      }
      const checked = json?.ok ? validateTolerant(expect.schema, json.value) : null;
      if (!checked?.ok) throw bad(what, res.status, 'the answer is not what the protocol promises');
      return checked.value;
    } finally {
      clearTimeout(timer);
      extra.signal?.removeEventListener('abort', onAbort);
    }
  }

  const path = (url: string, code: string): string => url.replace(':code', encodeURIComponent(code));

  return {
    create: (commit) => {
      const body = { v: 1 as const, commit };
      return call(
        'create',
        'POST',
        R.create.url,
        { status: 201, schema: R.create.schema.response[201] },
        { body },
      );
    },
    claim: (code) =>
      call('claim', 'POST', path(R.claim.url, code), { status: 200, schema: R.claim.schema.response[200] }),
    post: async (code, token, message) => {
      const checked = validate(PairingMessage, message);
      if (!checked.ok)
        throw new HaleClientError({ code: 'BAD_MESSAGE', message: checked.error.message, status: 0 });
      await call(
        'send',
        'POST',
        path(R.post.url, code),
        { status: 200, schema: R.post.schema.response[200] },
        {
          body: message,
          token,
        },
      );
    },
    messages: (code, token, after, waitMs, signal) =>
      call(
        'receive',
        'GET',
        `${path(R.messages.url, code)}?after=${after}&waitMs=${waitMs}`,
        { status: 200, schema: R.messages.schema.response[200] },
        { token, waitMs, signal },
      ),
  };
}
