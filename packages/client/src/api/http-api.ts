/**
 * Typed client for every HTTP route of the sync server (`HTTP_ROUTES` in @hale/protocol).
 *
 * Invariants: nothing the server answers is used before `validateTolerant(schema, body)` accepted it
 * against the route's response schema for the expected status (error bodies against HttpErrorBody):
 * properties a newer server added are dropped, never passed on, while every known one is checked as
 * strictly as ever. Request bodies are validated strictly against the route's body schema before they
 * leave the device, so a local bug fails here with BAD_MESSAGE instead of as a server refusal. `fetch` is
 * injected (no platform API is imported). Path parameters are URL-encoded.
 * Failure modes, all thrown as HaleClientError: no answer, or one whose body could not be read (success
 * or error alike: the request may have taken effect) → NETWORK (retry); an error body → its code
 * (an unknown code → the known code of its HTTP class, see errors.ts); an unexpected status, non-JSON
 * or schema-breaking answer → BAD_RESPONSE.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import {
  HTTP_ROUTES,
  HttpErrorBody,
  OCTET_STREAM,
  validate,
  validateTolerant,
  type HttpAccountResponse,
  type HttpBlobChunkResponse,
  type HttpBlobCreateRequest,
  type HttpBlobCreateResponse,
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

/** The part of a fetch Response the client reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
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
  searchDirectory(query: HttpDirectoryQuery, token: string): Promise<HttpDirectoryResponse>;
  createBlob(body: HttpBlobCreateRequest, token: string): Promise<HttpBlobCreateResponse>;
  putChunk(blobId: string, index: number, bytes: Uint8Array, token: string): Promise<HttpBlobChunkResponse>;
  getBlob(blobId: string, token: string): Promise<HttpBlobManifestResponse>;
  getChunk(blobId: string, index: number, token: string): Promise<Uint8Array>;
  health(): Promise<HttpHealthResponse>;
}

type RouteName = keyof typeof HTTP_ROUTES;

interface CallOptions {
  readonly params?: Readonly<Record<string, string | number>>;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly json?: unknown;
  readonly bytes?: Uint8Array;
  readonly token?: string;
}

const MAX_ERROR_TEXT = 64 * 1024;

function fillPath(url: string, params: Readonly<Record<string, string | number>> = {}): string {
  return url.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`http-api: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Readonly<Record<string, string | number | undefined>> = {}): string {
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

async function errorFromResponse(name: RouteName, res: FetchResponseLike): Promise<HaleClientError> {
  let text: string;
  try {
    text = await res.text();
  } catch {
    return connectionLost(name, res.status);
  }
  let body: unknown;
  try {
    body = JSON.parse(text.slice(0, MAX_ERROR_TEXT));
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
    let text: string;
    try {
      text = await res.text();
    } catch {
      // The server may well have acted (a registration landed): callers must be able to tell this from
      // an answer that is wrong, and check or retry, exactly as for an error answer cut off.
      throw connectionLost(name, res.status);
    }
    let body: unknown;
    try {
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
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch {
      throw new HaleClientError({
        code: 'NETWORK',
        message: `${name}: connection lost reading bytes`,
        status: 0,
      });
    }
  }

  const R = HTTP_ROUTES;
  return {
    baseUrl,
    register: (body) => callJson('register', R.register.schema.response[201], { json: body }),
    addDevice: (body) => callJson('addDevice', R.addDevice.schema.response[201], { json: body }),
    revokeDevice: (body) => callJson('revokeDevice', R.revokeDevice.schema.response[200], { json: body }),
    getAccount: (accountId) =>
      callJson('getAccount', R.getAccount.schema.response[200], { params: { accountId } }),
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
        query: { q: query.q, limit: query.limit },
        token,
      }),
    createBlob: (body, token) =>
      callJson('createBlob', R.createBlob.schema.response[200], { json: body, token }),
    putChunk: (blobId, index, bytes, token) =>
      callJson('putChunk', R.putChunk.schema.response[200], { params: { blobId, index }, bytes, token }),
    getBlob: (blobId, token) =>
      callJson('getBlob', R.getBlob.schema.response[200], { params: { blobId }, token }),
    getChunk: (blobId, index, token) => callBytes('getChunk', { params: { blobId, index }, token }),
    health: () => callJson('health', R.health.schema.response[200], {}),
  };
}
