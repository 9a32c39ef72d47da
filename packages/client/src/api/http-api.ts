/**
 * Typed client for every HTTP route of the sync server (`HTTP_ROUTES` in @hale/protocol).
 *
 * Invariants: nothing the server answers is used before `validateTolerant(schema, body)` accepted it
 * against the route's response schema for the expected status (error bodies against HttpErrorBody):
 * properties a newer server added are dropped, never passed on, while every known one is checked as
 * strictly as ever. Request bodies are validated strictly against the route's body schema before they
 * leave the device, so a local bug fails here with BAD_MESSAGE instead of as a server refusal; so are path
 * parameters and query values (against the route's `params`/`querystring` schema: no '.' or '..' id can
 * turn a request into one for another path) and the bearer token (the pattern the server requires), and
 * refused ones are BAD_MESSAGE with nothing sent. `fetch` is injected (no platform API is imported; the
 * AbortController and timers are the platform's globals unless injected).
 * Every call has a time limit covering the request and the whole answer body (`timeoutMs`, longer
 * `chunkTimeoutMs` for chunk transfers): when it runs out the fetch is aborted through its signal, a body
 * stream being read is cancelled, and the call fails TIMEOUT (retryable), so no caller, nor a sign-in that
 * callers share, waits for ever on a server that stopped answering.
 * Redirects are never followed (`redirect: 'manual'`): a 3xx, or the opaque answer a browser gives for
 * one, is BAD_RESPONSE (not retryable) with its body cancelled, so no request, body or bearer token reaches
 * another server or path than the route's. Error messages never copy a fetch failure's message (it may
 * hold the URL's credentials or a header): only the failure's name.
 * Answers are bounded: no body larger than its route allows (ANSWER_LIMITS: a sealed chunk for getChunk,
 * MAX_FRAME_BYTES for JSON, MAX_ERROR_BODY_BYTES for an error body) is held. One whose `content-length`
 * says more is refused before a byte is read; one read as a stream (`body`, as WHATWG fetch gives it) is
 * given up, and the stream cancelled, as soon as it passes the limit. A response without `body` can only
 * be read whole (`arrayBuffer()`): its size in bytes is checked after reading, so only a `content-length`
 * bounds what it makes the device hold. Text answers are decoded strictly: bytes that are not UTF-8 are a
 * BAD_RESPONSE however they came, never text with U+FFFD in their place.
 * Failure modes, all thrown as HaleClientError: no answer, or one whose body could not be read (success
 * or error alike: the request may have taken effect) → NETWORK (retry); no complete answer within the
 * call's time limit → TIMEOUT (retry; it too may have taken effect; status 0, or the status that came
 * when the body stalled); an error body → its code (an unknown code → the known code of its HTTP class,
 * see errors.ts); an unexpected status (a redirect included), non-JSON or schema-breaking answer, or one
 * larger than its route allows → BAD_RESPONSE (details.limit for the last); a request, path, query or
 * token refused before sending → BAD_MESSAGE (TOO_LARGE for an oversized value), status 0.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { utf8Decode } from '@hale/crypto';
import {
  HTTP_ROUTES,
  HttpErrorBody,
  HttpSessionResponse,
  MAX_CHUNK_BYTES,
  MAX_FRAME_BYTES,
  OCTET_STREAM,
  validate,
  validateTolerant,
  type HttpAccountDeviceResponse,
  type HttpAccountResponse,
  type HttpAccountsLookupRequest,
  type HttpAccountsLookupResponse,
  type HttpBlobChunkResponse,
  type HttpBlobCreateRequest,
  type HttpBlobCreateResponse,
  type HttpBlobDeleteResponse,
  type HttpBlobManifestResponse,
  type HttpChallengeRequest,
  type HttpChallengeResponse,
  type HttpDeviceRequest,
  type HttpDeviceResponse,
  type HttpDeviceRevokeRequest,
  type HttpDeviceNameRequest,
  type HttpDeviceNameResponse,
  type HttpDeviceRevokeResponse,
  type HttpAvailabilityPutRequest,
  type HttpAvailabilityPutResponse,
  type HttpAvailabilityResponse,
  type HttpDirectoryPutRequest,
  type HttpDirectoryPutResponse,
  type HttpDirectoryQuery,
  type HttpDirectoryResponse,
  type HttpHealthResponse,
  type HttpJoinRequest,
  type HttpJoinResponse,
  type HttpRegisterRequest,
  type HttpRegisterResponse,
  type HttpRoute,
  type HttpServerInfo,
  type HttpSessionRequest,
  type HttpWrappedRootRequest,
  type HttpWrappedRootResponse,
  type HttpWrappedRootState,
  type HttpWrappingKeyRequest,
  type HttpWrappingKeyResponse,
  type HttpAccountDeleteRequest,
  type HttpAccountDeleteResponse,
} from '@hale/protocol';
import { HaleClientError, errorFromWire, type HaleClientErrorCode } from './errors';
import { startTimeLimit, timerMs, type TimeLimit } from '../core/timer-ms';

/** The part of a WHATWG body stream reader the client uses. */
export interface BodyReaderLike {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }>;
  cancel(reason?: unknown): Promise<void>;
}

/** The part of a fetch Response the client reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: {
    /** The value of header `name` (the client asks in lower case), or null when it is absent. */
    get(name: string): string | null;
  };
  /**
   * The body as a stream (a fetch Response has it): read up to the route's limit and cancelled beyond.
   * Without it the body is read whole with `arrayBuffer()`, bounded only by `content-length`.
   */
  readonly body?: {
    /** A reader of the body's chunks; the client cancels it past the route's limit. */
    getReader(): BodyReaderLike;
  } | null;
  /** Not read by the client (kept so existing fetch wrappers still type-check). */
  json(): Promise<unknown>;
  /** Not read by the client: it repairs bytes that are not UTF-8 and hides the size in bytes. */
  text(): Promise<string>;
  /** The whole body, when there is no `body` stream. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The part of `RequestInit` the HTTP API passes to the injected `fetch`. */
export interface FetchInitLike {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** Always 'manual': a redirect is answered to the client, which refuses it, and never followed. */
  readonly redirect?: 'manual';
  /** Aborted when the call's time limit runs out (absent only where the platform has no AbortController). */
  readonly signal?: AbortSignal;
}

/** Structural type of `fetch`: the platform injects the global one (or a wrapper that passes `init` on). */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

/** Default time limit of one call, request and answer body: the sync socket's `requestTimeoutMs` default. */
export const HTTP_TIMEOUT_MS = 60_000;

/**
 * Default time limit of a chunk upload or download (`putChunk`, `getChunk`): a sealed chunk of
 * MAX_CHUNK_BYTES still gets through at about 30 kB/s.
 */
export const CHUNK_TIMEOUT_MS = 300_000;

/** Options of `createHttpApi`: the server's base URL, the platform's `fetch`, and time limits. */
export interface HttpApiOptions {
  /** e.g. `https://hale.example.org` (a trailing slash is ignored). */
  readonly baseUrl: string;
  readonly fetch: FetchLike;
  /** Time limit of one call, request and whole answer, in ms (default HTTP_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** The same for `putChunk` and `getChunk` (default CHUNK_TIMEOUT_MS). */
  readonly chunkTimeoutMs?: number;
  /** Timers (default: the platform's setTimeout/clearTimeout); tests inject their own. */
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  /** Cancels a timer `setTimer` set (default `clearTimeout`). */
  readonly clearTimer?: (handle: unknown) => void;
}

/**
 * The sync server's HTTP routes (`HTTP_ROUTES` of `@hale/protocol`), one typed method each.
 * - Bodies, path parameters and the bearer token are checked against the route's schema before sending.
 * - Every answer is validated and bounded in size before use; redirects are never followed.
 * - One time limit covers a request and its whole answer (`TIMEOUT`).
 * - Every HTTP write is safe to send again unchanged: after a `retry` failure, repeat the same request, never
 *   a new one.
 *
 * @throws `HaleClientError` for every failure: a protocol code, `NETWORK`, `BAD_RESPONSE` or `TIMEOUT`.
 */
export interface HttpApi {
  readonly baseUrl: string;
  /** `POST /v1/accounts`: registers an account with its first device (a replay is answered as done). */
  register(body: HttpRegisterRequest): Promise<HttpRegisterResponse>;
  /** Adds a device the account certified (a replay is answered as done). */
  addDevice(body: HttpDeviceRequest): Promise<HttpDeviceResponse>;
  /**
   * Revokes a device of the account: its certificate and sessions end at once (a replay is answered as done).
   */
  revokeDevice(body: HttpDeviceRevokeRequest): Promise<HttpDeviceRevokeResponse>;
  /** A device's new name (signed, sealed): CONFLICT with `details.seq` when the server holds a later one. */
  renameDevice(body: HttpDeviceNameRequest): Promise<HttpDeviceNameResponse>;
  /** An account's identity key and certified devices, revoked ones included. */
  getAccount(accountId: string): Promise<HttpAccountResponse>;
  /**
   * One device of the account, active or revoked, with its revocation time and the signed revocation when
   * the server kept it. NOT_FOUND for a device the server does not hold for this account, and (HTTP 404)
   * from a server older than the route. Proves nothing alone: the device directory verifies it.
   */
  getAccountDevice(accountId: string, deviceId: string): Promise<HttpAccountDeviceResponse>;
  /**
   * The device lists of up to MAX_ACCOUNTS_PER_LOOKUP accounts in one request, each id in one of
   * `accounts`, `unknown` or `deferred` (ask again: left out to keep the answer within its limit). NOT_FOUND
   * (HTTP 404) from a server older than the route: use `getAccount` for each instead.
   */
  lookupAccounts(body: HttpAccountsLookupRequest, token: string): Promise<HttpAccountsLookupResponse>;
  /** The passphrase wrap of an account, by login name, for a device joining it. */
  join(body: HttpJoinRequest): Promise<HttpJoinResponse>;
  /** The server's version and audit signing key. */
  serverInfo(): Promise<HttpServerInfo>;
  /** A sign-in challenge for a device (first half of `openSession`). */
  challenge(body: HttpChallengeRequest): Promise<HttpChallengeResponse>;
  /** Answers a signed challenge with a bearer token (second half of `openSession`). */
  session(body: HttpSessionRequest): Promise<HttpSessionResponse>;
  /** The account's current passphrase wrap and its generation. */
  getWrappedRoot(token: string): Promise<HttpWrappedRootState>;
  /** Replaces the passphrase wrap (a passphrase change), guarded by the generation it replaces. */
  putWrappedRoot(body: HttpWrappedRootRequest, token: string): Promise<HttpWrappedRootResponse>;
  /**
   * Publishes the identity key's signature over the session's account's wrapping key
   * (`wrappingKeySignaturePayload`); signed by the caller (`publishWrappingKey` in account.ts).
   */
  putWrappingKey(body: HttpWrappingKeyRequest, token: string): Promise<HttpWrappingKeyResponse>;
  /** Deletes the session's account for good (`body.accountId` must be it): everything the server holds of it. */
  deleteAccount(body: HttpAccountDeleteRequest, token: string): Promise<HttpAccountDeleteResponse>;
  /** Publishes (or replaces) a provider's signed directory profile. */
  putDirectory(body: HttpDirectoryPutRequest, token: string): Promise<HttpDirectoryPutResponse>;
  /**
   * One page of a directory search (`cursor`: the `next` of the page before); `next` when more may match.
   */
  searchDirectory(query: HttpDirectoryQuery, token: string): Promise<HttpDirectoryResponse>;
  /** A provider publishes its signed availability (404 NOT_FOUND from a server without the route). */
  putAvailability(body: HttpAvailabilityPutRequest, token: string): Promise<HttpAvailabilityPutResponse>;
  /** A provider's signed availability and its identity key; NOT_FOUND when none is published. */
  getAvailability(accountId: string, token: string): Promise<HttpAvailabilityResponse>;
  /** Starts an encrypted file upload (a replay is answered as done). */
  createBlob(body: HttpBlobCreateRequest, token: string): Promise<HttpBlobCreateResponse>;
  /** Uploads one sealed chunk of a file (a replay is answered as done). */
  putChunk(blobId: string, index: number, bytes: Uint8Array, token: string): Promise<HttpBlobChunkResponse>;
  /** A file's metadata: its size and chunks. */
  getBlob(blobId: string, token: string): Promise<HttpBlobManifestResponse>;
  /** One sealed chunk of a file. */
  getChunk(blobId: string, index: number, token: string): Promise<Uint8Array>;
  /**
   * Deletes the blob (manifest and every chunk) for good: by a device of the patient whose stream it is,
   * or of the account that uploaded it while that account may still upload there. BLOB_DELETED when it
   * was deleted already (a retry after a lost answer lands here: done); NOT_FOUND when no such blob was
   * ever stored, or the server is older than the route. The id is never taken again (`createBlob`
   * answers BLOB_DELETED).
   */
  deleteBlob(blobId: string, token: string): Promise<HttpBlobDeleteResponse>;
  /** The server's liveness answer. */
  health(): Promise<HttpHealthResponse>;
}

type RouteName = keyof typeof HTTP_ROUTES;

interface CallOptions {
  readonly params?: Readonly<Record<string, string | number>>;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
  readonly token?: string;
}

/** Largest error body read: the protocol's are a code, a message and a few details. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Largest success answer per route, in bytes: a sealed chunk for getChunk, a frame's worth for JSON
 * (every JSON answer of the protocol is far smaller: account, manifest, directory page).
 */
export const ANSWER_LIMITS: Readonly<Record<RouteName, number>> = Object.fromEntries(
  Object.keys(HTTP_ROUTES).map((name) => [name, name === 'getChunk' ? MAX_CHUNK_BYTES : MAX_FRAME_BYTES]),
) as Record<RouteName, number>;

function fillPath(url: string, params: Readonly<Record<string, string | number>>): string {
  return url.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`http-api: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Readonly<Record<string, string | number | boolean>>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/** The pattern the server requires of a bearer token (it answers UNAUTHENTICATED for any other). */
const SessionToken = HttpSessionResponse.properties.token;

/** A request the device refuses to send; nothing went out. */
const refusedBeforeSending = (
  name: RouteName,
  code: HaleClientErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
) =>
  new HaleClientError({
    code,
    message: `${name}: request refused before sending: ${message}`,
    status: 0,
    ...(details === undefined ? {} : { details }),
  });

/** Only the name of a thrown value: its message may carry the URL's credentials or a header. */
const failureName = (e: unknown): string => (e instanceof Error ? e.name.slice(0, 60) : typeof e);

/** The route's path and query string, each value checked against the route's schema first. */
function requestPath(name: RouteName, route: HttpRoute, call: CallOptions): string {
  const params = call.params ?? {};
  const query: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(call.query ?? {})) if (value !== undefined) query[key] = value;
  for (const [schema, value, what] of [
    [route.schema.params, params, 'path'],
    [route.schema.querystring, query, 'query'],
  ] as const) {
    if (schema === undefined) continue;
    const checked = validate(schema, value);
    if (!checked.ok) {
      const { code, message, details } = checked.error;
      throw refusedBeforeSending(name, code, `${what}: ${message}`, details);
    }
  }
  try {
    return fillPath(route.url, params) + queryString(query);
  } catch {
    // encodeURIComponent throws URIError for a lone surrogate, which a plain string schema lets through.
    throw refusedBeforeSending(name, 'BAD_MESSAGE', 'a path or query value is not well-formed Unicode');
  }
}

/** When the call must have its whole answer, and how it stops waiting when that passes. */
interface Deadline extends TimeLimit {
  readonly ms: number;
  readonly signal: AbortSignal | undefined;
}

/** The route's 2xx status (201 for creations), 200 when the route declares none (raw answers). */
function successStatus(route: HttpRoute): number {
  for (const key of Object.keys(route.schema.response)) {
    const status = Number(key);
    if (status >= 200 && status < 300) return status;
  }
  return 200;
}

function badResponse(name: RouteName, status: number, message: string, details?: Record<string, unknown>) {
  return new HaleClientError({
    code: 'BAD_RESPONSE',
    message: `${name}: ${message}`,
    status,
    ...(details === undefined ? {} : { details }),
  });
}

const connectionLost = (name: RouteName, status: number) =>
  new HaleClientError({ code: 'NETWORK', message: `${name}: connection lost reading the answer`, status });

/** What reading a body answers instead of a value when the body is larger than its limit. */
const TOO_LARGE = Symbol('too large');

const tooLarge = (name: RouteName, status: number, limit: number) =>
  badResponse(name, status, `answer refused: larger than the ${limit} bytes this route may answer`, {
    limit,
  });

/** Cancels a stream given up on; the connection may already be gone, which changes nothing. */
const cancelQuietly = (reader: BodyReaderLike): void => {
  reader.cancel().catch(() => undefined);
};

/** Cancels the body of an answer given up on unread, so its connection is not held open for it. */
const discardBody = (res: FetchResponseLike): void => {
  const body = res.body;
  if (body === undefined || body === null) return;
  try {
    cancelQuietly(body.getReader());
  } catch {
    // Locked or already gone: nothing left to release.
  }
};

const timedOut = (name: RouteName, status: number, ms: number) =>
  new HaleClientError({ code: 'TIMEOUT', message: `${name}: no complete answer within ${ms} ms`, status });

/**
 * The body, at most `limit` bytes of it, as `decode` makes it: TOO_LARGE for a larger one (refused by its
 * `content-length` before reading, or as soon as a stream passes the limit); throws when reading failed or
 * `deadline` passed (a stream is then cancelled). A response without `body` is read whole as bytes
 * (`arrayBuffer()`, never `text()`: that one would count UTF-16 units and turn bytes that are not UTF-8
 * into U+FFFD), and refused after reading when larger than the limit.
 */
async function readCapped<T>(
  res: FetchResponseLike,
  limit: number,
  deadline: Deadline,
  decode: (bytes: Uint8Array) => T,
): Promise<T | typeof TOO_LARGE> {
  const declared = res.headers.get('content-length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > limit) {
    discardBody(res);
    return TOO_LARGE;
  }
  const stream = res.body;
  if (stream === undefined || stream === null) {
    const whole = new Uint8Array(await deadline.within(res.arrayBuffer()));
    if (whole.length > limit) return TOO_LARGE;
    return decode(whole);
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    let piece: Awaited<ReturnType<BodyReaderLike['read']>>;
    try {
      piece = await deadline.within(reader.read());
    } catch (e) {
      cancelQuietly(reader);
      throw e;
    }
    const { done, value } = piece;
    if (done) break;
    if (value === undefined) continue;
    length += value.length;
    if (length > limit) {
      cancelQuietly(reader);
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  // Copied into one array of its own, as arrayBuffer() gives it: a piece may be a view into a larger buffer.
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return decode(bytes);
}

/** The body as text, at most `limit` bytes; null when it is not UTF-8 (decoded strictly, never repaired). */
const readText = (
  res: FetchResponseLike,
  limit: number,
  deadline: Deadline,
): Promise<string | null | typeof TOO_LARGE> =>
  readCapped(res, limit, deadline, (bytes) => {
    const text = utf8Decode(bytes);
    return text.ok ? text.value : null;
  });

async function errorFromResponse(
  name: RouteName,
  res: FetchResponseLike,
  deadline: Deadline,
): Promise<HaleClientError> {
  let text: string | null | typeof TOO_LARGE;
  try {
    text = await readText(res, MAX_ERROR_BODY_BYTES, deadline);
  } catch {
    return deadline.expired() ? timedOut(name, res.status, deadline.ms) : connectionLost(name, res.status);
  }
  if (text === TOO_LARGE) {
    const message = `HTTP ${res.status} with an error body over ${MAX_ERROR_BODY_BYTES} bytes`;
    return badResponse(name, res.status, message, { limit: MAX_ERROR_BODY_BYTES });
  }
  let body: unknown;
  try {
    if (text === null) throw new SyntaxError('not UTF-8');
    body = JSON.parse(text);
  } catch {
    return badResponse(name, res.status, `HTTP ${res.status} without an error body`);
  }
  const checked = validateTolerant(HttpErrorBody, body);
  if (!checked.ok) return badResponse(name, res.status, `HTTP ${res.status} with a malformed error body`);
  const { code, message, details } = checked.value;
  return errorFromWire(code, message, res.status, details);
}

/**
 * The typed HTTP client of the sync server: one method per route, see `HttpApi` for what every call keeps.
 */
export function createHttpApi(options: HttpApiOptions): HttpApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch;
  const timeoutMs = timerMs('timeoutMs', options.timeoutMs ?? HTTP_TIMEOUT_MS);
  const chunkTimeoutMs = timerMs('chunkTimeoutMs', options.chunkTimeoutMs ?? CHUNK_TIMEOUT_MS);

  function startDeadline(name: RouteName): Deadline {
    const ms = name === 'getChunk' || name === 'putChunk' ? chunkTimeoutMs : timeoutMs;
    const controller = typeof AbortController === 'function' ? new AbortController() : undefined;
    const limit = startTimeLimit(
      ms,
      options,
      () => new Error('time limit passed'),
      () => controller?.abort(),
    );
    return { ms, signal: controller?.signal, ...limit };
  }

  /** Runs one call under its deadline, cleared however the call ends. */
  async function timed<T>(name: RouteName, run: (deadline: Deadline) => Promise<T>): Promise<T> {
    const deadline = startDeadline(name);
    try {
      return await run(deadline);
    } finally {
      deadline.end();
    }
  }

  async function send(name: RouteName, call: CallOptions, deadline: Deadline): Promise<FetchResponseLike> {
    const route: HttpRoute = HTTP_ROUTES[name];
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | Uint8Array | undefined;
    if (call.json !== undefined) {
      const schema = route.schema.body;
      if (schema !== undefined) {
        const checked = validate(schema, call.json);
        if (!checked.ok) {
          const { code, message, details } = checked.error;
          throw refusedBeforeSending(name, code, message, details);
        }
      }
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.json);
    } else if (call.bytes !== undefined) {
      headers['content-type'] = route.contentType ?? OCTET_STREAM;
      body = call.bytes;
    }
    if (route.auth) {
      if (call.token === undefined || call.token.length === 0) {
        throw new HaleClientError({
          code: 'UNAUTHENTICATED',
          message: `${name}: needs a session`,
          status: 0,
        });
      }
      // Never into the message: a malformed token is still a token.
      if (!validate(SessionToken, call.token).ok) {
        throw refusedBeforeSending(name, 'BAD_MESSAGE', 'the session token is malformed');
      }
      headers['authorization'] = `Bearer ${call.token}`;
    }
    const url = baseUrl + requestPath(name, route, call);
    let res: FetchResponseLike;
    try {
      res = await deadline.within(
        doFetch(url, {
          method: route.method,
          headers,
          redirect: 'manual',
          ...(body === undefined ? {} : { body }),
          ...(deadline.signal === undefined ? {} : { signal: deadline.signal }),
        }),
      );
    } catch (e) {
      if (deadline.expired()) throw timedOut(name, 0, deadline.ms);
      throw new HaleClientError({
        code: 'NETWORK',
        message: `${name}: no answer (${failureName(e)})`,
        status: 0,
      });
    }
    // Status 0 is how a browser's fetch shows a redirect it did not follow (an opaque answer).
    if (res.status === 0 || (res.status >= 300 && res.status < 400)) {
      discardBody(res);
      throw badResponse(name, res.status, `answered with a redirect (HTTP ${res.status}), not followed`);
    }
    return res;
  }

  /**
   * Throws unless `res` has the route's own success status. A 2xx other than that one is never read as
   * an error answer (its body left unread), so an error-shaped body under a 2xx cannot make a call look
   * refused for a reason the server chose: BAD_RESPONSE naming both statuses.
   */
  async function refuseUnlessSuccess(
    name: RouteName,
    res: FetchResponseLike,
    deadline: Deadline,
  ): Promise<void> {
    const expected = successStatus(HTTP_ROUTES[name]);
    if (res.status === expected) return;
    if (res.status >= 200 && res.status < 300) {
      discardBody(res);
      throw badResponse(name, res.status, `expected HTTP ${expected}, got ${res.status}`);
    }
    throw await errorFromResponse(name, res, deadline);
  }

  const callJson = <S extends TSchema>(name: RouteName, schema: S, call: CallOptions): Promise<Static<S>> =>
    timed(name, (deadline) => readJson(name, schema, call, deadline));

  async function readJson<S extends TSchema>(
    name: RouteName,
    schema: S,
    call: CallOptions,
    deadline: Deadline,
  ): Promise<Static<S>> {
    const res = await send(name, call, deadline);
    await refuseUnlessSuccess(name, res, deadline);
    let text: string | null | typeof TOO_LARGE;
    try {
      text = await readText(res, ANSWER_LIMITS[name], deadline);
    } catch {
      if (deadline.expired()) throw timedOut(name, res.status, deadline.ms);
      // The server may well have acted (a registration landed): callers must be able to tell this from
      // an answer that is wrong, and check or retry, exactly as for an error answer cut off.
      throw connectionLost(name, res.status);
    }
    if (text === TOO_LARGE) throw tooLarge(name, res.status, ANSWER_LIMITS[name]);
    let body: unknown;
    try {
      if (text === null) throw new SyntaxError('not UTF-8');
      body = JSON.parse(text);
    } catch {
      throw badResponse(name, res.status, 'answer is not JSON');
    }
    const checked = validateTolerant(schema, body);
    if (!checked.ok) {
      throw badResponse(name, res.status, `answer breaks its schema: ${checked.error.message}`, {
        issues: checked.error.details.issues,
      });
    }
    return checked.value;
  }

  const callBytes = (name: RouteName, call: CallOptions): Promise<Uint8Array> =>
    timed(name, (deadline) => readBytes(name, call, deadline));

  async function readBytes(name: RouteName, call: CallOptions, deadline: Deadline): Promise<Uint8Array> {
    const res = await send(name, call, deadline);
    await refuseUnlessSuccess(name, res, deadline);
    let bytes: Uint8Array | typeof TOO_LARGE;
    try {
      bytes = await readCapped(res, ANSWER_LIMITS[name], deadline, (read) => read);
    } catch {
      if (deadline.expired()) throw timedOut(name, res.status, deadline.ms);
      throw connectionLost(name, res.status);
    }
    if (bytes === TOO_LARGE) throw tooLarge(name, res.status, ANSWER_LIMITS[name]);
    return bytes;
  }

  const R = HTTP_ROUTES;
  return {
    baseUrl,
    register: (body) => callJson('register', R.register.schema.response[201], { json: body }),
    addDevice: (body) => callJson('addDevice', R.addDevice.schema.response[201], { json: body }),
    revokeDevice: (body) => callJson('revokeDevice', R.revokeDevice.schema.response[200], { json: body }),
    renameDevice: (body) => callJson('renameDevice', R.renameDevice.schema.response[200], { json: body }),
    getAccount: (accountId) =>
      callJson('getAccount', R.getAccount.schema.response[200], { params: { accountId } }),
    getAccountDevice: (accountId, deviceId) =>
      callJson('getAccountDevice', R.getAccountDevice.schema.response[200], {
        params: { accountId, deviceId },
      }),
    lookupAccounts: (body, token) =>
      callJson('lookupAccounts', R.lookupAccounts.schema.response[200], { json: body, token }),
    join: (body) => callJson('join', R.join.schema.response[200], { json: body }),
    serverInfo: () => callJson('serverInfo', R.serverInfo.schema.response[200], {}),
    challenge: (body) => callJson('challenge', R.challenge.schema.response[200], { json: body }),
    session: (body) => callJson('session', R.session.schema.response[200], { json: body }),
    getWrappedRoot: (token) => callJson('getWrappedRoot', R.getWrappedRoot.schema.response[200], { token }),
    putWrappedRoot: (body, token) =>
      callJson('putWrappedRoot', R.putWrappedRoot.schema.response[200], { json: body, token }),
    putWrappingKey: (body, token) =>
      callJson('putWrappingKey', R.putWrappingKey.schema.response[200], { json: body, token }),
    deleteAccount: (body, token) =>
      callJson('deleteAccount', R.deleteAccount.schema.response[200], { json: body, token }),
    putDirectory: (body, token) =>
      callJson('putDirectory', R.putDirectory.schema.response[200], { json: body, token }),
    searchDirectory: (query, token) =>
      callJson('searchDirectory', R.searchDirectory.schema.response[200], {
        query: { q: query.q, limit: query.limit, cursor: query.cursor },
        token,
      }),
    putAvailability: (body, token) =>
      callJson('putAvailability', R.putAvailability.schema.response[200], { json: body, token }),
    getAvailability: (accountId, token) =>
      callJson('getAvailability', R.getAvailability.schema.response[200], { params: { accountId }, token }),
    createBlob: (body, token) =>
      callJson('createBlob', R.createBlob.schema.response[200], { json: body, token }),
    putChunk: (blobId, index, bytes, token) =>
      callJson('putChunk', R.putChunk.schema.response[200], { params: { blobId, index }, bytes, token }),
    getBlob: (blobId, token) =>
      callJson('getBlob', R.getBlob.schema.response[200], { params: { blobId }, token }),
    getChunk: (blobId, index, token) => callBytes('getChunk', { params: { blobId, index }, token }),
    deleteBlob: (blobId, token) =>
      callJson('deleteBlob', R.deleteBlob.schema.response[200], { params: { blobId }, token }),
    health: () => callJson('health', R.health.schema.response[200], {}),
  };
}
