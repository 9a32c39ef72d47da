/**
 * HTTP bodies under /v1 (and /healthz), as TypeBox schemas Fastify validates with directly.
 *
 * Invariants: bodies are closed objects with bounded strings and arrays; `HTTP_ROUTES` is the one
 * list of endpoints, their status codes and schemas, so server and client cannot drift. Every error
 * answer is `HttpErrorBody` with a code from ERROR_CODES and that code's HTTP status. Schemas check
 * form; cross-field rules (a blob's digest count, a certificate matching its account) are refinements
 * that `validate()` applies — a route handler that relies on Fastify's validation alone must call
 * `validate()` (or `refinementIssues()`) too.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  AccountRecord,
  AccountRole,
  LoginName,
  SignedDeviceCertificate,
  SignedDeviceName,
  SignedDeviceRevocation,
  SignedProviderProfile,
  WrappedRoot,
} from './identity';
import {
  DEFAULT_CHUNK_BYTES,
  MAX_BLOB_BYTES,
  MAX_BLOB_CHUNKS,
  MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_FRAME_BYTES,
  MIN_CHUNK_BYTES,
} from './limits';
import { ErrorDetails } from './messages';
import {
  HttpAvailabilityParams,
  HttpAvailabilityPutRequest,
  HttpAvailabilityPutResponse,
  HttpAvailabilityResponse,
} from './availability';
import { MAX_DIRECTORY_PAGE, PageCursor } from './paging';
import {
  AccountId,
  B64uFixed,
  DeviceId,
  Epoch,
  IsoDateTime,
  Nonce,
  PublicKey,
  RecordId,
  ServerId,
  Signature,
  StreamId,
  WireErrorCode,
  WrappedRootGen,
} from './primitives';

const closed = { additionalProperties: false } as const;

export const HttpErrorBody = Type.Object(
  { code: WireErrorCode, message: Type.String({ maxLength: 1000 }), details: Type.Optional(ErrorDetails) },
  closed,
);
export type HttpErrorBody = Static<typeof HttpErrorBody>;

// ---- accounts and devices ----

/**
 * An invite code on the wire: Crockford base32 (digits and capitals without I, L, O, U), 16–64 symbols,
 * no separators. Servers hand out 32 symbols (160 random bits) shown in groups (`7K3M-Q9XD-…`); a device
 * folds what a person typed with `normalizeInviteCode` before sending. The range leaves room for another
 * length later without refusing it on older devices.
 */
export const INVITE_CODE_PATTERN = '^[0-9A-HJKMNP-TV-Z]{16,64}$';
export const InviteCode = Type.String({ pattern: INVITE_CODE_PATTERN, description: 'invite code' });
export type InviteCode = Static<typeof InviteCode>;

const INVITE_CODE = new RegExp(INVITE_CODE_PATTERN);

/**
 * The invite code as sent, from the code as a person typed or pasted it: compatibility forms folded (NFKC),
 * blanks and hyphens anywhere dropped, capitals raised, and the letters Crockford base32 reads as digits
 * (`I`, `L` → `1`, `O` → `0`) replaced. Null when what is left is not an invite code.
 */
export function normalizeInviteCode(typed: string): string | null {
  if (typeof typed !== 'string') return null;
  const code = typed
    .normalize('NFKC')
    .replace(/[\s-]+/g, '')
    .toUpperCase()
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  return INVITE_CODE.test(code) ? code : null;
}

/**
 * Who may create an account on a server (`GET /v1/server` `registration`): `open` anyone, `invite` only
 * with a valid invite code (`HttpRegisterRequest.invite`), `closed` no one (existing accounts keep working
 * and keep adding devices). The answer's field is a bounded word rather than this union, so that a mode a
 * later server adds does not make older devices refuse the whole answer; they treat a mode they do not know
 * as "try, and show the refusal".
 */
export const REGISTRATION_MODES = ['open', 'invite', 'closed'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

export const HttpRegisterRequest = Type.Object(
  {
    account: AccountRecord,
    /** The registering device's certificate (must name `account.accountId`). */
    device: SignedDeviceCertificate,
    /** Identity key over `accountSignaturePayload(account)`. */
    sig: Signature,
    /**
     * Identity key over `wrappingKeySignaturePayload(account)`: relayed to other accounts so they wrap
     * only to the account's own wrapping key. Optional for older clients; an account registered without
     * it cannot be wrapped to until it publishes one (`putWrappingKey`).
     */
    wrappingKeySig: Type.Optional(Signature),
    /**
     * Identity key over `wrappedRootSignaturePayload({ accountId, wrappedRoot: account.wrappedRoot, gen: 0 })`:
     * generation 0 of the passphrase wrap, signed like every later one, so a device can refuse a wrap
     * relabelled as generation 0.
     */
    wrappedRootSig: Signature,
    /**
     * Identity key over `roleSignaturePayload(account)`: relayed with the account answer, so a joining
     * device refuses a role the account did not sign (when the answer carries it).
     */
    roleSig: Type.Optional(Signature),
    /**
     * The invite code (`normalizeInviteCode` form) on a server whose registration is `invite`; one valid
     * use of it is consumed in the same step that stores the account. A server in another mode ignores it.
     * Sent only to a server whose `GET /v1/server` answer has `registration` (an older one refuses the
     * field as BAD_MESSAGE, and its registration is open anyway).
     */
    invite: Type.Optional(InviteCode),
  },
  closed,
);
export type HttpRegisterRequest = Static<typeof HttpRegisterRequest>;

export const HttpRegisterResponse = Type.Object({ accountId: AccountId }, closed);
export type HttpRegisterResponse = Static<typeof HttpRegisterResponse>;

export const HttpDeviceRequest = Type.Object({ device: SignedDeviceCertificate }, closed);
export type HttpDeviceRequest = Static<typeof HttpDeviceRequest>;

export const HttpDeviceResponse = Type.Object({ deviceId: DeviceId }, closed);
export type HttpDeviceResponse = Static<typeof HttpDeviceResponse>;

export const HttpDeviceRevokeRequest = SignedDeviceRevocation;
export type HttpDeviceRevokeRequest = Static<typeof HttpDeviceRevokeRequest>;

export const HttpDeviceRevokeResponse = Type.Object({ deviceId: DeviceId, revokedAt: IsoDateTime }, closed);
export type HttpDeviceRevokeResponse = Static<typeof HttpDeviceRevokeResponse>;

export const HttpDeviceNameRequest = SignedDeviceName;
export type HttpDeviceNameRequest = Static<typeof HttpDeviceNameRequest>;

export const HttpDeviceNameResponse = Type.Object(
  { deviceId: DeviceId, seq: Type.Integer({ minimum: 1 }) },
  closed,
);
export type HttpDeviceNameResponse = Static<typeof HttpDeviceNameResponse>;

export const HttpAccountParams = Type.Object({ accountId: AccountId }, closed);
export type HttpAccountParams = Static<typeof HttpAccountParams>;

export const HttpAccountResponse = Type.Object(
  {
    accountId: AccountId,
    role: AccountRole,
    identityPublicKey: PublicKey,
    wrappingPublicKey: PublicKey,
    /**
     * The account's identity key over `wrappingKeySignaturePayload({ accountId, identityPublicKey,
     * wrappingPublicKey })`, as the account published it; absent when it never did (registered by an
     * older client). Clients wrap to `wrappingPublicKey` only when it verifies.
     */
    wrappingKeySig: Type.Optional(Signature),
    /**
     * The account's identity key over `roleSignaturePayload({ accountId, identityPublicKey, role })`, as
     * sent at registration or published later (`HttpWrappingKeyRequest.roleSig`); absent
     * for an account that has not (or dropped by a dishonest server: a joining device cannot tell, unless
     * told to require it). A joining device refuses a `role` it does not verify.
     */
    roleSig: Type.Optional(Signature),
    /** Active (not revoked) devices. */
    devices: Type.Array(SignedDeviceCertificate, { maxItems: MAX_DEVICES_PER_ACCOUNT }),
    revokedDevices: Type.Array(DeviceId, { maxItems: MAX_DEVICE_REGISTRATIONS_PER_ACCOUNT }),
    /**
     * The newest name record of each active device renamed since it joined (`POST /v1/devices/name`);
     * absent when none was. A reader verifies each against the identity key and shows the highest `seq`.
     */
    deviceNames: Type.Optional(Type.Array(SignedDeviceName, { maxItems: MAX_DEVICES_PER_ACCOUNT })),
  },
  closed,
);
export type HttpAccountResponse = Static<typeof HttpAccountResponse>;

export const HttpAccountDeviceParams = Type.Object({ accountId: AccountId, deviceId: DeviceId }, closed);
export type HttpAccountDeviceParams = Static<typeof HttpAccountDeviceParams>;

/**
 * One device of an account, active or revoked (`GET /v1/accounts/:accountId/devices/:deviceId`): so a
 * device can still check what a revoked device signed before its revocation. `revokedAt` is the server's
 * time of the first revocation; `revocation` is the account's signed revocation as the server received
 * it, absent for one revoked before the server kept them (schema version 13) and for an active device.
 * Neither is proof by itself: a reader verifies the certificate and the revocation against the account's
 * identity key, as for the account answer's `devices`.
 */
export const HttpAccountDeviceResponse = Type.Object(
  {
    certificate: SignedDeviceCertificate,
    revokedAt: Type.Optional(IsoDateTime),
    revocation: Type.Optional(SignedDeviceRevocation),
  },
  closed,
);
export type HttpAccountDeviceResponse = Static<typeof HttpAccountDeviceResponse>;

/**
 * Most accounts one `POST /v1/accounts/lookup` names. A typical account answer (one or two devices) is
 * under 1.5 KB, so a full lookup is answered in some 300 KB; a clinic's 400 patients take two requests.
 */
export const MAX_ACCOUNTS_PER_LOOKUP = 200;

/**
 * Most bytes of JSON a lookup answer carries (half of MAX_FRAME_BYTES, the most a device reads of a JSON
 * answer): the server answers accounts in the order asked while they fit and leaves the rest `deferred`.
 * One account's answer at its schema's largest (1,000 certificates, 10,000 revoked ids) is under 2 MiB, so
 * the first account asked always fits.
 */
export const MAX_ACCOUNT_LOOKUP_ANSWER_BYTES = MAX_FRAME_BYTES / 2;

/** The device lists of several accounts at once (`lookupAccounts`): each id once. */
export const HttpAccountsLookupRequest = Type.Object(
  {
    accountIds: Type.Array(AccountId, { minItems: 1, maxItems: MAX_ACCOUNTS_PER_LOOKUP, uniqueItems: true }),
  },
  closed,
);
export type HttpAccountsLookupRequest = Static<typeof HttpAccountsLookupRequest>;

/**
 * Every id asked for is in exactly one list: `accounts` (the same answer `GET /v1/accounts/:accountId`
 * gives, in the order asked), `unknown` (no such account: that route's NOT_FOUND), or `deferred` (left out
 * to keep the answer within MAX_ACCOUNT_LOOKUP_ANSWER_BYTES: ask again).
 */
export const HttpAccountsLookupResponse = Type.Object(
  {
    accounts: Type.Array(HttpAccountResponse, { maxItems: MAX_ACCOUNTS_PER_LOOKUP }),
    unknown: Type.Array(AccountId, { maxItems: MAX_ACCOUNTS_PER_LOOKUP }),
    deferred: Type.Array(AccountId, { maxItems: MAX_ACCOUNTS_PER_LOOKUP }),
  },
  closed,
);
export type HttpAccountsLookupResponse = Static<typeof HttpAccountsLookupResponse>;

/**
 * Publishes the wrapping-key signature of an account registered without one (see `HttpRegisterRequest`),
 * and with it, when given, the role signature of an account registered without that one.
 */
export const HttpWrappingKeyRequest = Type.Object(
  {
    sig: Signature,
    /**
     * Identity key over `roleSignaturePayload` for the role stored with the account: the server takes it
     * only when it verifies (BAD_SIGNATURE, nothing stored, otherwise) and keeps the first it took, so a
     * signature once relayed is never replaced.
     */
    roleSig: Type.Optional(Signature),
  },
  closed,
);
export type HttpWrappingKeyRequest = Static<typeof HttpWrappingKeyRequest>;

export const HttpWrappingKeyResponse = Type.Object({ accountId: AccountId }, closed);
export type HttpWrappingKeyResponse = Static<typeof HttpWrappingKeyResponse>;

/**
 * Deletes the calling account for good (`POST /v1/accounts/me/delete`, a patient's session): its records'
 * ciphertext, key envelopes, files, grants given and received, links, sessions and devices. `accountId`
 * must be the caller's own (FORBIDDEN otherwise): a typed confirmation, so no request meant for another
 * route or account erases one. UNAVAILABLE when the server's store cannot erase accounts.
 */
export const HttpAccountDeleteRequest = Type.Object({ accountId: AccountId }, closed);
export type HttpAccountDeleteRequest = Static<typeof HttpAccountDeleteRequest>;

const Count = Type.Integer({ minimum: 0 });
export const HttpAccountDeleteResponse = Type.Object(
  {
    accountId: AccountId,
    deletedAt: Type.String({ maxLength: 40 }),
    docs: Count,
    blobs: Count,
    grants: Count,
    devices: Count,
  },
  closed,
);
export type HttpAccountDeleteResponse = Static<typeof HttpAccountDeleteResponse>;

export const HttpJoinRequest = Type.Object({ loginName: LoginName }, closed);
export type HttpJoinRequest = Static<typeof HttpJoinRequest>;

/**
 * The account's current wrapped root, its generation and the identity signature over both
 * (`wrappedRootSignaturePayload`; generation 0 is signed at registration). A signed-in device reads it, so
 * a passphrase changed elsewhere reaches its vault.
 */
export const HttpWrappedRootState = Type.Object(
  {
    accountId: AccountId,
    wrappedRoot: WrappedRoot,
    gen: WrappedRootGen,
    sig: Signature,
  },
  closed,
);
export type HttpWrappedRootState = Static<typeof HttpWrappedRootState>;

/** Joining an account on a new device answers its current wrapped-root state. */
export const HttpJoinResponse = HttpWrappedRootState;
export type HttpJoinResponse = HttpWrappedRootState;

/**
 * Passphrase change: the same root, wrapped under a new passphrase-derived key, as generation `gen`
 * (above the server's current generation, else CONFLICT: another device changed it first).
 */
export const HttpWrappedRootRequest = Type.Object(
  {
    wrappedRoot: WrappedRoot,
    gen: WrappedRootGen,
    sig: Signature,
  },
  closed,
);
export type HttpWrappedRootRequest = Static<typeof HttpWrappedRootRequest>;

export const HttpWrappedRootResponse = Type.Object({ accountId: AccountId, gen: WrappedRootGen }, closed);
export type HttpWrappedRootResponse = Static<typeof HttpWrappedRootResponse>;

// ---- sessions ----

export const ChallengeId = B64uFixed(16, 'challenge id');

export const HttpChallengeRequest = Type.Object({ deviceId: DeviceId }, closed);
export type HttpChallengeRequest = Static<typeof HttpChallengeRequest>;

export const HttpChallengeResponse = Type.Object(
  { challengeId: ChallengeId, nonce: Nonce, serverId: ServerId, expiresAt: IsoDateTime },
  closed,
);
export type HttpChallengeResponse = Static<typeof HttpChallengeResponse>;

export const HttpSessionRequest = Type.Object(
  {
    challengeId: ChallengeId,
    deviceId: DeviceId,
    /** Device key over `authSignaturePayload({ nonce, deviceId, serverId })`. */
    sig: Signature,
  },
  closed,
);
export type HttpSessionRequest = Static<typeof HttpSessionRequest>;

export const HttpSessionResponse = Type.Object(
  {
    /** Opaque bearer token for `Authorization: Bearer …`. */
    token: Type.String({ pattern: '^[A-Za-z0-9_.-]{16,512}$' }),
    expiresAt: IsoDateTime,
  },
  closed,
);
export type HttpSessionResponse = Static<typeof HttpSessionResponse>;

// ---- server ----

export const HttpServerInfo = Type.Object(
  {
    serverId: ServerId,
    /** Ed25519 key the server signs its own audit entries (access events) with. */
    publicKey: PublicKey,
    versions: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { minItems: 1, maxItems: 16 }),
    /**
     * Who may create an account here: one of REGISTRATION_MODES (a later server may add another word).
     * Absent from servers older than registration control, whose registration is open.
     */
    registration: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' })),
  },
  closed,
);
export type HttpServerInfo = Static<typeof HttpServerInfo>;

export const HttpHealthResponse = Type.Object(
  {
    status: Type.Literal('ok'),
    store: Type.String({ maxLength: 100 }),
    version: Type.String({ maxLength: 100 }),
  },
  closed,
);
export type HttpHealthResponse = Static<typeof HttpHealthResponse>;

// ---- directory ----

export const HttpDirectoryPutRequest = SignedProviderProfile;
export type HttpDirectoryPutRequest = Static<typeof HttpDirectoryPutRequest>;

export const HttpDirectoryPutResponse = Type.Object({ accountId: AccountId }, closed);
export type HttpDirectoryPutResponse = Static<typeof HttpDirectoryPutResponse>;

/**
 * Query strings arrive as text: the server converts `limit` (decimal digits only) before checking; other
 * callers convert first. Paging (paging.ts): `cursor` (a `next` of the previous page, with the same `q`)
 * continues a search.
 */
export const HttpDirectoryQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DIRECTORY_PAGE })),
    cursor: Type.Optional(PageCursor),
  },
  closed,
);
export type HttpDirectoryQuery = Static<typeof HttpDirectoryQuery>;

export const DirectoryEntry = Type.Object(
  { ...SignedProviderProfile.properties, identityPublicKey: PublicKey },
  closed,
);
export type DirectoryEntry = Static<typeof DirectoryEntry>;

/**
 * Providers whose display name, specialty, clinic or identifier contains `q` (case-insensitive), by display
 * name (case-folded), then account id. `next`: more may match; pass it as `cursor`.
 */
export const HttpDirectoryResponse = Type.Object(
  {
    providers: Type.Array(DirectoryEntry, { maxItems: MAX_DIRECTORY_PAGE }),
    next: Type.Optional(PageCursor),
  },
  closed,
);
export type HttpDirectoryResponse = Static<typeof HttpDirectoryResponse>;

// ---- blobs ----

const blobManifestProperties = {
  blobId: RecordId,
  /** Stream whose access rules govern the blob (usually the patient's `document` stream). */
  stream: StreamId,
  /** Plaintext bytes. */
  size: Type.Integer({ minimum: 0, maximum: MAX_BLOB_BYTES }),
  /** Plaintext bytes per chunk; the last chunk may be shorter. */
  chunkSize: Type.Integer({ minimum: MIN_CHUNK_BYTES, maximum: DEFAULT_CHUNK_BYTES }),
  /** max(1, ceil(size / chunkSize)). */
  chunkCount: Type.Integer({ minimum: 1, maximum: MAX_BLOB_CHUNKS }),
  /** sha256 of each sealed chunk, in order. */
  digests: Type.Array(B64uFixed(32), { minItems: 1, maxItems: MAX_BLOB_CHUNKS }),
};
const chunkIndexes = Type.Array(Type.Integer({ minimum: 0, maximum: MAX_BLOB_CHUNKS - 1 }), {
  maxItems: MAX_BLOB_CHUNKS,
});

/**
 * `epoch`: the stream key epoch the chunks are sealed under. A new manifest is stored only while it is the
 * stream's current epoch (STALE_EPOCH, `details.epoch` the current one, and nothing stored otherwise: fetch
 * the envelopes, seal anew, announce again), so no new blob is sealed under a key a re-keying replaced.
 * Announcing a stored manifest again (resuming) is not compared: its epoch was checked when it was stored.
 * A writer holds the keys and could seal under any of them anyway: the check keeps honest devices from
 * sealing under their own stale view of the stream.
 */
export const HttpBlobCreateRequest = Type.Object({ ...blobManifestProperties, epoch: Epoch }, closed);
export type HttpBlobCreateRequest = Static<typeof HttpBlobCreateRequest>;

/** `have`: indexes of chunks the server already holds, so an interrupted upload resumes. */
export const HttpBlobCreateResponse = Type.Object({ blobId: RecordId, have: chunkIndexes }, closed);
export type HttpBlobCreateResponse = Static<typeof HttpBlobCreateResponse>;

export const HttpBlobParams = Type.Object({ blobId: RecordId }, closed);
export type HttpBlobParams = Static<typeof HttpBlobParams>;

/** Path parameters arrive as text: Fastify's default Ajv coerces `index`. */
export const HttpBlobChunkParams = Type.Object(
  { blobId: RecordId, index: Type.Integer({ minimum: 0, maximum: MAX_BLOB_CHUNKS - 1 }) },
  closed,
);
export type HttpBlobChunkParams = Static<typeof HttpBlobChunkParams>;

export const HttpBlobChunkResponse = Type.Object({ have: chunkIndexes }, closed);
export type HttpBlobChunkResponse = Static<typeof HttpBlobChunkResponse>;

export const HttpBlobManifestResponse = Type.Object(
  { ...blobManifestProperties, have: chunkIndexes, complete: Type.Boolean() },
  closed,
);
export type HttpBlobManifestResponse = Static<typeof HttpBlobManifestResponse>;

/**
 * A deleted blob: its manifest and every chunk are gone, its bytes no longer count against the uploader's
 * quota, and its id is kept (with `stream` and `deletedAt`) so it is never announced again (BLOB_DELETED).
 */
export const HttpBlobDeleteResponse = Type.Object(
  { blobId: RecordId, stream: StreamId, deletedAt: IsoDateTime },
  closed,
);
export type HttpBlobDeleteResponse = Static<typeof HttpBlobDeleteResponse>;

export const OCTET_STREAM = 'application/octet-stream';

export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  /** Needs `Authorization: Bearer <token>`. */
  readonly auth: boolean;
  /** Body content type when it is not JSON. */
  readonly contentType?: typeof OCTET_STREAM;
  readonly schema: {
    readonly body?: TSchema;
    readonly params?: TSchema;
    readonly querystring?: TSchema;
    /** By status; `'4xx'`/`'5xx'` are HttpErrorBody. A raw-bytes answer has no schema. */
    readonly response: Readonly<Record<string, TSchema>>;
  };
}

const errors = { '4xx': HttpErrorBody, '5xx': HttpErrorBody } as const;

/** Every HTTP endpoint. `schema` plugs into Fastify's route `schema` option as is. */
export const HTTP_ROUTES = {
  register: {
    method: 'POST',
    url: '/v1/accounts',
    auth: false,
    schema: { body: HttpRegisterRequest, response: { 201: HttpRegisterResponse, ...errors } },
  },
  // Device routes are authorised by the identity signature inside the body: a joining device has no session yet.
  addDevice: {
    method: 'POST',
    url: '/v1/devices',
    auth: false,
    schema: { body: HttpDeviceRequest, response: { 201: HttpDeviceResponse, ...errors } },
  },
  revokeDevice: {
    method: 'POST',
    url: '/v1/devices/revoke',
    auth: false,
    schema: { body: HttpDeviceRevokeRequest, response: { 200: HttpDeviceRevokeResponse, ...errors } },
  },
  renameDevice: {
    method: 'POST',
    url: '/v1/devices/name',
    auth: false,
    schema: { body: HttpDeviceNameRequest, response: { 200: HttpDeviceNameResponse, ...errors } },
  },
  getWrappedRoot: {
    method: 'GET',
    url: '/v1/accounts/me/wrapped-root',
    auth: true,
    schema: { response: { 200: HttpWrappedRootState, ...errors } },
  },
  putWrappedRoot: {
    method: 'PUT',
    url: '/v1/accounts/me/wrapped-root',
    auth: true,
    schema: { body: HttpWrappedRootRequest, response: { 200: HttpWrappedRootResponse, ...errors } },
  },
  putWrappingKey: {
    method: 'PUT',
    url: '/v1/accounts/me/wrapping-key',
    auth: true,
    schema: { body: HttpWrappingKeyRequest, response: { 200: HttpWrappingKeyResponse, ...errors } },
  },
  deleteAccount: {
    method: 'POST',
    url: '/v1/accounts/me/delete',
    auth: true,
    schema: { body: HttpAccountDeleteRequest, response: { 200: HttpAccountDeleteResponse, ...errors } },
  },
  challenge: {
    method: 'POST',
    url: '/v1/auth/challenge',
    auth: false,
    schema: { body: HttpChallengeRequest, response: { 200: HttpChallengeResponse, ...errors } },
  },
  session: {
    method: 'POST',
    url: '/v1/auth/session',
    auth: false,
    schema: { body: HttpSessionRequest, response: { 200: HttpSessionResponse, ...errors } },
  },
  getAccount: {
    method: 'GET',
    url: '/v1/accounts/:accountId',
    auth: false,
    schema: { params: HttpAccountParams, response: { 200: HttpAccountResponse, ...errors } },
  },
  /**
   * One device of the account whatever its state (active or revoked): NOT_FOUND for a device id the server
   * does not hold for this account (unknown, or another account's). No session, as `getAccount`, which
   * answers active devices' certificates (name, creation time) and revoked ids: this adds the certificate
   * and revocation time of a revoked one. A server without the route answers 404 NOT_FOUND as well: a
   * device then treats revoked devices as it did before the route.
   */
  getAccountDevice: {
    method: 'GET',
    url: '/v1/accounts/:accountId/devices/:deviceId',
    auth: false,
    schema: { params: HttpAccountDeviceParams, response: { 200: HttpAccountDeviceResponse, ...errors } },
  },
  /**
   * The device lists of up to MAX_ACCOUNTS_PER_LOOKUP accounts in one request (a device checking the
   * envelopes of many patients' streams). A server without the route answers 404 NOT_FOUND: ask
   * `getAccount` for each instead.
   */
  lookupAccounts: {
    method: 'POST',
    url: '/v1/accounts/lookup',
    auth: true,
    schema: {
      body: HttpAccountsLookupRequest,
      response: { 200: HttpAccountsLookupResponse, ...errors },
    },
  },
  join: {
    method: 'POST',
    url: '/v1/join',
    auth: false,
    schema: { body: HttpJoinRequest, response: { 200: HttpJoinResponse, ...errors } },
  },
  serverInfo: {
    method: 'GET',
    url: '/v1/server',
    auth: false,
    schema: { response: { 200: HttpServerInfo, ...errors } },
  },
  putDirectory: {
    method: 'PUT',
    url: '/v1/directory/me',
    auth: true,
    schema: { body: HttpDirectoryPutRequest, response: { 200: HttpDirectoryPutResponse, ...errors } },
  },
  searchDirectory: {
    method: 'GET',
    url: '/v1/directory',
    auth: true,
    schema: { querystring: HttpDirectoryQuery, response: { 200: HttpDirectoryResponse, ...errors } },
  },
  /**
   * A provider publishes its signed availability (availability.ts); bodies over MAX_AVAILABILITY_BYTES are
   * TOO_LARGE, a version not above the stored one AVAILABILITY_STALE. A server without the route answers
   * 404 NOT_FOUND.
   */
  putAvailability: {
    method: 'PUT',
    url: '/v1/directory/me/availability',
    auth: true,
    schema: {
      body: HttpAvailabilityPutRequest,
      response: { 200: HttpAvailabilityPutResponse, ...errors },
    },
  },
  /** Any signed-in account reads a provider's availability; NOT_FOUND when none is published. */
  getAvailability: {
    method: 'GET',
    url: '/v1/directory/:accountId/availability',
    auth: true,
    schema: { params: HttpAvailabilityParams, response: { 200: HttpAvailabilityResponse, ...errors } },
  },
  createBlob: {
    method: 'POST',
    url: '/v1/blobs',
    auth: true,
    schema: { body: HttpBlobCreateRequest, response: { 200: HttpBlobCreateResponse, ...errors } },
  },
  putChunk: {
    method: 'PUT',
    url: '/v1/blobs/:blobId/chunks/:index',
    auth: true,
    contentType: OCTET_STREAM,
    schema: { params: HttpBlobChunkParams, response: { 200: HttpBlobChunkResponse, ...errors } },
  },
  getBlob: {
    method: 'GET',
    url: '/v1/blobs/:blobId',
    auth: true,
    schema: { params: HttpBlobParams, response: { 200: HttpBlobManifestResponse, ...errors } },
  },
  getChunk: {
    method: 'GET',
    url: '/v1/blobs/:blobId/chunks/:index',
    auth: true,
    contentType: OCTET_STREAM,
    schema: { params: HttpBlobChunkParams, response: { ...errors } },
  },
  /**
   * By a device of the patient whose stream the blob is in, or of the uploading account while it may
   * upload to that stream. Deleting again answers BLOB_DELETED (410), so NOT_FOUND means never stored.
   */
  deleteBlob: {
    method: 'DELETE',
    url: '/v1/blobs/:blobId',
    auth: true,
    schema: { params: HttpBlobParams, response: { 200: HttpBlobDeleteResponse, ...errors } },
  },
  health: {
    method: 'GET',
    url: '/healthz',
    auth: false,
    schema: { response: { 200: HttpHealthResponse, ...errors } },
  },
} as const satisfies Record<string, HttpRoute>;
