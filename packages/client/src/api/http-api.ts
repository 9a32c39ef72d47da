/**
 * Typed client for every HTTP route of the sync server (`HTTP_ROUTES` in @hale/protocol).
 *
 * Invariants: nothing the server answers is used before `validateTolerant(schema, body)` accepted it
 * against the route's response schema for the expected status (error bodies against HttpErrorBody):
 * properties a newer server added are dropped, never passed on, while every known one is checked as
 * strictly as ever. Request bodies are validated strictly against the route's body schema before they
 * leave the device, so a local bug fails here with BAD_MESSAGE instead of as a server refusal. `fetch` is
 * injected (no platform API is imported). Path parameters are URL-encoded.
 * Answers are bounded: no body larger than its route allows (ANSWER_LIMITS: a sealed chunk for getChunk,
 * MAX_FRAME_BYTES for JSON, MAX_ERROR_BODY_BYTES for an error body) is held. One whose `content-length`
 * says more is refused before a byte is read; one read as a stream (`body`, as WHATWG fetch gives it) is
 * given up, and the stream cancelled, as soon as it passes the limit. A response without `body` can only
 * be read whole (`text()`/`arrayBuffer()`): its size is checked after reading, so only a `content-length`
 * bounds what it makes the device hold.
 * Failure modes, all thrown as HaleClientError: no answer, or one whose body could not be read (success
 * or error alike: the request may have taken effect) → NETWORK (retry); an error body → its code
 * (an unknown code → the known code of its HTTP class, see errors.ts); an unexpected status, non-JSON
 * or schema-breaking answer, or one larger than its route allows → BAD_RESPONSE (details.limit for the
 * last).
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { utf8Decode } from '@hale/crypto';
import {
  HTTP_ROUTES,
  HttpErrorBody,
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
  type HttpDeviceRevokeResponse,
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
  type HttpSessionResponse,
  type HttpWrappedRootRequest,
  type HttpWrappedRootResponse,
  type HttpWrappedRootState,
  type HttpWrappingKeyRequest,
  type HttpWrappingKeyResponse,
} from '@hale/protocol';
import { HaleClientError, errorFromWire } from './errors';

/** The part of a WHATWG body stream reader the client uses. */
export interface BodyReaderLike {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }>;
  cancel(reason?: unknown): Promise<void>;
}

/** The part of a fetch Response the client reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  /**
   * The body as a stream (a fetch Response has it): read up to the route's limit and cancelled beyond.
   * Without it the body is read whole with `text()` or `arrayBuffer()`, bounded only by `content-length`.
   */
  readonly body?: { getReader(): BodyReaderLike } | null;
  json(): Promise<unknown>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface FetchInitLike {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
}

/** Structural type of `fetch`: the platform injects the global one (or a wrapper with timeouts). */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

export interface HttpApiOptions {
  /** e.g. `https://hale.example.org` (a trailing slash is ignored). */
  readonly baseUrl: string;
  readonly fetch: FetchLike;
}

export interface HttpApi {
  readonly baseUrl: string;
  register(body: HttpRegisterRequest): Promise<HttpRegisterResponse>;
  addDevice(body: HttpDeviceRequest): Promise<HttpDeviceResponse>;
  revokeDevice(body: HttpDeviceRevokeRequest): Promise<HttpDeviceRevokeResponse>;
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
  join(body: HttpJoinRequest): Promise<HttpJoinResponse>;
  serverInfo(): Promise<HttpServerInfo>;
  challenge(body: HttpChallengeRequest): Promise<HttpChallengeResponse>;
  session(body: HttpSessionRequest): Promise<HttpSessionResponse>;
  getWrappedRoot(token: string): Promise<HttpWrappedRootState>;
  putWrappedRoot(body: HttpWrappedRootRequest, token: string): Promise<HttpWrappedRootResponse>;
  /**
   * Publishes the identity key's signature over the session's account's wrapping key
   * (`wrappingKeySignaturePayload`); signed by the caller (`publishWrappingKey` in account.ts).
   */
  putWrappingKey(body: HttpWrappingKeyRequest, token: string): Promise<HttpWrappingKeyResponse>;
  putDirectory(body: HttpDirectoryPutRequest, token: string): Promise<HttpDirectoryPutResponse>;
  /**
   * One page of a directory search. `paged` and `cursor` only against a server whose `serverInfo().versions`
   * include PAGING_VERSION (an older one refuses them as BAD_MESSAGE); the answer then carries `next` when
   * more may match. `searchProviders` (account.ts) does this check.
   */
  searchDirectory(query: HttpDirectoryQuery, token: string): Promise<HttpDirectoryResponse>;
  createBlob(body: HttpBlobCreateRequest, token: string): Promise<HttpBlobCreateResponse>;
  putChunk(blobId: string, index: number, bytes: Uint8Array, token: string): Promise<HttpBlobChunkResponse>;
  getBlob(blobId: string, token: string): Promise<HttpBlobManifestResponse>;
  getChunk(blobId: string, index: number, token: string): Promise<Uint8Array>;
  /**
   * Deletes the blob (manifest and every chunk) for good: by a device of the patient whose stream it is,
   * or of the account that uploaded it while that account may still upload there. BLOB_DELETED when it
   * was deleted already (a retry after a lost answer lands here: done); NOT_FOUND when no such blob was
   * ever stored, or the server is older than the route. The id is never taken again (`createBlob`
   * answers BLOB_DELETED).
   */
  deleteBlob(blobId: string, token: string): Promise<HttpBlobDeleteResponse>;
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

function fillPath(url: string, params: Readonly<Record<string, string | number>> = {}): string {
  return url.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`http-api: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Readonly<Record<string, string | number | boolean | undefined>> = {}): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
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

/**
 * The body, at most `limit` bytes of it: TOO_LARGE for a larger one (refused by its `content-length`
 * before reading, or as soon as a stream passes the limit); throws when reading failed. `read` is the
 * whole-body fallback for a response without `body`, `size` measures what it read.
 */
async function readCapped<T>(
  res: FetchResponseLike,
  limit: number,
  decode: (bytes: Uint8Array) => T,
  read: () => Promise<T>,
  size: (value: T) => number,
): Promise<T | typeof TOO_LARGE> {
  const declared = res.headers.get('content-length');
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > limit) {
    const body = res.body;
    if (body !== undefined && body !== null) cancelQuietly(body.getReader());
    return TOO_LARGE;
  }
  const stream = res.body;
  if (stream === undefined || stream === null) {
    const value = await read();
    if (size(value) > limit) return TOO_LARGE;
    return value;
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
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

/** The body as text, at most `limit` bytes; null when it is not UTF-8. */
const readText = (res: FetchResponseLike, limit: number): Promise<string | null | typeof TOO_LARGE> =>
  readCapped<string | null>(
    res,
    limit,
    (bytes) => {
      const text = utf8Decode(bytes);
      return text.ok ? text.value : null;
    },
    () => res.text(),
    // A UTF-16 unit is at least one byte of UTF-8: more units than the limit are more bytes than it.
    (text) => text?.length ?? 0,
  );

async function errorFromResponse(name: RouteName, res: FetchResponseLike): Promise<HaleClientError> {
  let text: string | null | typeof TOO_LARGE;
  try {
    text = await readText(res, MAX_ERROR_BODY_BYTES);
  } catch {
    return connectionLost(name, res.status);
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

export function createHttpApi(options: HttpApiOptions): HttpApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch;

  async function send(name: RouteName, call: CallOptions): Promise<FetchResponseLike> {
    const route: HttpRoute = HTTP_ROUTES[name];
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | Uint8Array | undefined;
    if (call.json !== undefined) {
      const schema = route.schema.body;
      if (schema !== undefined) {
        const checked = validate(schema, call.json);
        if (!checked.ok) {
          throw new HaleClientError({
            code: checked.error.code,
            message: `${name}: request refused before sending: ${checked.error.message}`,
            status: 0,
            details: checked.error.details,
          });
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
      headers['authorization'] = `Bearer ${call.token}`;
    }
    const url = baseUrl + fillPath(route.url, call.params) + queryString(call.query);
    try {
      return await doFetch(url, { method: route.method, headers, ...(body === undefined ? {} : { body }) });
    } catch (e) {
      const reason = e instanceof Error ? e.message : 'request failed';
      throw new HaleClientError({ code: 'NETWORK', message: `${name}: ${reason}`, status: 0 });
    }
  }

  async function callJson<S extends TSchema>(
    name: RouteName,
    schema: S,
    call: CallOptions,
  ): Promise<Static<S>> {
    const res = await send(name, call);
    const expected = successStatus(HTTP_ROUTES[name]);
    if (res.status !== expected) {
      if (res.status >= 200 && res.status < 300) {
        throw badResponse(name, res.status, `expected HTTP ${expected}, got ${res.status}`);
      }
      throw await errorFromResponse(name, res);
    }
    let text: string | null | typeof TOO_LARGE;
    try {
      text = await readText(res, ANSWER_LIMITS[name]);
    } catch {
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

  async function callBytes(name: RouteName, call: CallOptions): Promise<Uint8Array> {
    const res = await send(name, call);
    if (res.status !== successStatus(HTTP_ROUTES[name])) throw await errorFromResponse(name, res);
    let bytes: Uint8Array | typeof TOO_LARGE;
    try {
      bytes = await readCapped(
        res,
        ANSWER_LIMITS[name],
        (read) => read,
        async () => new Uint8Array(await res.arrayBuffer()),
        (read) => read.length,
      );
    } catch {
      throw new HaleClientError({
        code: 'NETWORK',
        message: `${name}: connection lost reading bytes`,
        status: 0,
      });
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
    putDirectory: (body, token) =>
      callJson('putDirectory', R.putDirectory.schema.response[200], { json: body, token }),
    searchDirectory: (query, token) =>
      callJson('searchDirectory', R.searchDirectory.schema.response[200], {
        query: { q: query.q, limit: query.limit, cursor: query.cursor, paged: query.paged },
        token,
      }),
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
