/**
 * @hale/protocol — every message between a Hale device and the sync server.
 *
 * One WebSocket per device at `/sync` (JSON text frames, `t` discriminates, `rid` pairs a request with
 * its reply) plus HTTP under `/v1` for registration, sessions, the directory and blob chunks. Schemas
 * are TypeBox, i.e. JSON Schema: Fastify validates HTTP bodies with the same objects the codec uses.
 * docs/protocol.md is the long form of this comment.
 *
 * Messages (client → server; reply; typical errors):
 *   hello { versions, deviceId }        → challenge { nonce, serverId, version }  UNSUPPORTED_VERSION, NOT_FOUND (device unknown here), DEVICE_REVOKED
 *   auth { sig }                        → ready { accountId, deviceId, …, wrappedRootGen?, incarnation? }  CHALLENGE_INVALID, BAD_SIGNATURE, DEVICE_REVOKED
 *   pull { rid, streams, limit, maxBytes } → pulled { docs, streams, denied }     per stream in `denied`: NO_CONSENT, CONSENT_*
 *   push { rid, rows }                  → pushed { results } (one per row, ok | conflict { master, keptFrom? } | error)  per row: FORBIDDEN, STALE_EPOCH, …
 *   subscribe { rid, streams }          → ok; then unsolicited changes { docs, streams }
 *   unsubscribe { rid, streams }        → ok
 *   listStreams { rid, cursor?, limit? } → streams { streams: StreamAccess[], next? }      BAD_CURSOR
 *   listGrants { rid, cursor?, limit?, side?, active? }
 *                                       → grants { grants: [{ grant: SignedGrant, revokedAt? }], next? }  BAD_CURSOR
 *   grant { rid, grant } / revoke { rid, revocation } → ok                      BAD_SIGNATURE, FORBIDDEN, TOO_MANY_GRANTS (grant)
 *   putEnvelopes { rid, envelopes }     → ok;  getEnvelopes { rid, streams? } → envelopes
 *   listKeyHolders { rid, streams }     → keyHolders { holders: [{ stream, epoch, recipient, createdBy? }] }  FORBIDDEN (not the patient)
 *   ping { rid }                        → pong { time }
 *   acceptPatient { rid, patientId, accept } → ok                             FORBIDDEN (not a provider), NOT_FOUND, TOO_MANY_ACCEPTED
 *   listAccepted { rid, cursor?, limit? } → acceptedPatients { patients: [{ patientId, acceptedAt }], next? }  BAD_CURSOR
 *   putHead { rid, head: SignedHead }   → ok        FORBIDDEN, BAD_SIGNATURE, HEAD_NOT_CURRENT, HEAD_MISMATCH, HEAD_STALE
 *   getHead { rid, stream, after?, limit? } → head { stream, signed?, leaves, next? }  NO_CONSENT, CONSENT_*, FORBIDDEN
 *   unsolicited: changes, accessChanged { streams, removed }, wrappedRootChanged { gen },
 *                error { rid?, code, message, details? }
 *   Any request may instead be answered by `error` with its rid.
 *
 * Versions: hello offers every version the client speaks, the server picks the highest common one.
 * Version 2 adds only the passphrase-wrap generation (`ready.wrappedRootGen`, `wrappedRootChanged`),
 * sent only on version-2 connections because frames are closed objects (a version-1 client would refuse
 * them). It is a hint: the device fetches the wrap over HTTP and checks signature and generation itself.
 * Version 3 adds `listKeyHolders` (patient only): which accounts hold which key epochs of its streams, so a
 * device can wrap an epoch for a holder that another device, lost mid-rotation, never wrapped it for.
 * Version 4 adds `ready.incarnation`, the id of the server store's incarnation (see below).
 * Version 5 pages `listGrants` (paging.ts): the request may carry `cursor`, `limit`, `side`, `active`, the
 * answer `next`; older connections keep the one bounded answer.
 * Version 6 is HTTP only: the signature over generation 0 of the passphrase wrap (`wrappedRootSig` at
 * registration, `PUT /v1/accounts/me/wrapped-root` with `gen: 0`), sent only to a server that lists it.
 * Version 7 adds `acceptPatient` and `listAccepted` → `acceptedPatients`: a provider accepts patients, whose
 * grants then no longer count toward its cap on grants from strangers (MAX_ACTIVE_GRANTS_PER_GRANTEE),
 * and pages `listStreams` (STREAMS_PAGING_VERSION): the request may carry `cursor`, `limit`, the answer
 * `next`, so a provider following thousands of patients still lists its streams in frames it can read;
 * older connections keep the one whole answer.
 * Version 8 adds `keptFrom` to a push's `conflict`: the stored version was in the store when it was last
 * restored from a backup, and that backup was of the store of incarnation `keptFrom` (see below).
 * Version 9 adds `createdBy` to a `keyHolders` row, and its server stores an envelope signed by an active
 * device of the patient in place of one of the same key id whose creator the account revoked (a patient
 * device signs anew what only a revoked device had signed).
 * Version 10 adds `readExpiresAt` to a `StreamAccess` row: when reading ends, where a read grant outlasts
 * the write grant describing the stream (writing ends at `expiresAt`, reading at `readExpiresAt`).
 * Version 11 adds `chainEnd` to a push's `error` (the APPEND_ONLY refusal of an audit entry at a chain
 * position its device holds, where the server holds that device's chain end).
 * Version 12 is HTTP only: `epoch` in a blob announce (`POST /v1/blobs`), sent only to a server that lists
 * it; a server of it compares a new manifest's `epoch` with the stream's current one (STALE_EPOCH) and
 * stores an announce without one (an older device's) unchecked.
 * Version 14 adds signed stream heads (HEAD_VERSION, heads.ts): `putHead`, a patient device's signed
 * statement of a stream's state, which the server keeps when its root matches its own rows at the stream's
 * current seq, and `getHead` → `head`, the newest kept statement with its leaves in pages, for any device
 * that may pull the stream.
 *
 * State machine: connected → (hello) → challenged → (auth) → ready. Before `ready` only hello/auth
 * are accepted (else UNAUTHENTICATED); at SESSION_TTL_MS the server sends SESSION_EXPIRED and closes.
 *
 * Ordering and checkpoints: the server assigns each stored document a `seq`, strictly increasing
 * within its stream and never reused, also across a restore from a backup that could carry the replaced
 * store's positions (a restore onto an empty disk cannot: positions restart from the backup's, and the
 * new incarnation tells devices to start over). A reader never sees a gap (a
 * seq is exposed only once every lower seq of the stream is committed). `pulled`/`changes` list docs in seq order per stream, and
 * per stream a `checkpoint` = last seq delivered (or scanned), to pass as `since` next time.
 * Checkpoints are per stream, so a newly granted stream starts from `since: 0` and its whole history
 * arrives. Tombstones (`deleted: true`) are documents like any other. After a restore from a backup the
 * store's content is the backup's (documents stored after it are gone) and `ready.incarnation` changes: a
 * device that sees a new incarnation pulls every stream from 0 and pushes what it holds again
 * (`incarnationAction`); one that cannot see it (older version) still never misses a later document
 * (unless positions restarted). Which stored versions the store already held at the restore is told with
 * each conflict (`keptFrom`, version 8), never inferred from seqs: a device overwrites a server version on
 * the strength of having seen it before the restore only when `keptFrom` names the incarnation it synced with.
 *
 * Conflicts: each push row names the revision tag it assumes is stored (`null` = new). The server
 * stores the row iff the assumption equals the stored tag, else answers `conflict` with the stored
 * document; the device merges (never silently drops a clinical side) and pushes again.
 *
 * Failure modes: oversize frame or batch → TOO_LARGE (split); malformed → BAD_MESSAGE with issues
 * (client bug: do not resend unchanged); lost consent → the stream is reported in `denied` or
 * `accessChanged.removed` and must be dropped from sync; transient server trouble → UNAVAILABLE /
 * INTERNAL / RATE_LIMITED (back off and retry: every request is idempotent by (stream, id, rev) or
 * by its signed object). ERROR_CODES gives each code's HTTP status, retry flag and client action.
 */
import type { ErrorCode } from './errors';
import type { ClientFrameType, ServerFrameType } from './messages';

export * from './result';
export * from './limits';
export * from './errors';
export * from './primitives';
export * from './documents';
export * from './consent';
export * from './identity';
export * from './signing';
export * from './heads';
export * from './messages';
export * from './http-api';
export * from './availability';
export * from './paging';
export type { Checker, Issue } from './checker';
export { createChecker, checkerFor } from './checker';
export { refinementIssues, docIssues, type RefinementIssue } from './semantics';
export * from './codec';

export interface MessageTableRow {
  /** Server frame types that answer this request (besides `error`). */
  readonly reply: readonly ServerFrameType[];
  /** Allowed before `ready`. */
  readonly beforeReady: boolean;
  /** Codes the server typically answers with, in an `error` frame or per row/stream. */
  readonly errors: readonly ErrorCode[];
}

const common: readonly ErrorCode[] = ['BAD_MESSAGE', 'TOO_LARGE', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL'];
const session: readonly ErrorCode[] = [...common, 'UNAUTHENTICATED', 'SESSION_EXPIRED', 'DEVICE_REVOKED'];

/** Every client frame, what answers it, and which errors to expect. */
export const MESSAGE_TABLE = {
  hello: {
    reply: ['challenge'],
    beforeReady: true,
    // NOT_FOUND: the server holds no registration of this device; DEVICE_REVOKED: it was revoked.
    errors: [...common, 'UNSUPPORTED_VERSION', 'TOO_MANY_CONNECTIONS', 'NOT_FOUND', 'DEVICE_REVOKED'],
  },
  auth: {
    reply: ['ready'],
    beforeReady: true,
    errors: [...common, 'CHALLENGE_INVALID', 'BAD_SIGNATURE', 'DEVICE_REVOKED', 'NOT_FOUND'],
  },
  pull: {
    reply: ['pulled'],
    beforeReady: false,
    errors: [...session, 'NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED', 'FORBIDDEN'],
  },
  push: {
    reply: ['pushed'],
    beforeReady: false,
    errors: [
      ...session,
      'FORBIDDEN',
      'NO_CONSENT',
      'CONSENT_EXPIRED',
      'CONSENT_REVOKED',
      'CONFLICT',
      'APPEND_ONLY',
      'STALE_EPOCH',
      'REV_MISMATCH',
      'BAD_SIGNATURE',
    ],
  },
  subscribe: {
    reply: ['ok'],
    beforeReady: false,
    errors: [...session, 'NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED'],
  },
  unsubscribe: { reply: ['ok'], beforeReady: false, errors: session },
  listStreams: { reply: ['streams'], beforeReady: false, errors: [...session, 'BAD_CURSOR'] },
  listGrants: { reply: ['grants'], beforeReady: false, errors: [...session, 'BAD_CURSOR'] },
  grant: {
    reply: ['ok'],
    beforeReady: false,
    errors: [...session, 'BAD_SIGNATURE', 'FORBIDDEN', 'NOT_FOUND', 'ALREADY_EXISTS', 'TOO_MANY_GRANTS'],
  },
  revoke: {
    reply: ['ok'],
    beforeReady: false,
    errors: [...session, 'BAD_SIGNATURE', 'FORBIDDEN', 'NOT_FOUND'],
  },
  putEnvelopes: {
    reply: ['ok'],
    beforeReady: false,
    // No ALREADY_EXISTS: the first envelope per (stream, epoch, recipient) stays and a repeat answers ok.
    errors: [...session, 'FORBIDDEN', 'NOT_FOUND', 'BAD_SIGNATURE'],
  },
  getEnvelopes: { reply: ['envelopes'], beforeReady: false, errors: session },
  listKeyHolders: {
    reply: ['keyHolders'],
    beforeReady: false,
    errors: [...session, 'FORBIDDEN', 'TOO_LARGE'],
  },
  ping: { reply: ['pong'], beforeReady: false, errors: session },
  acceptPatient: {
    reply: ['ok'],
    beforeReady: false,
    errors: [...session, 'FORBIDDEN', 'NOT_FOUND', 'TOO_MANY_ACCEPTED'],
  },
  listAccepted: { reply: ['acceptedPatients'], beforeReady: false, errors: [...session, 'BAD_CURSOR'] },
  putHead: {
    reply: ['ok'],
    beforeReady: false,
    errors: [...session, 'FORBIDDEN', 'BAD_SIGNATURE', 'HEAD_NOT_CURRENT', 'HEAD_MISMATCH', 'HEAD_STALE'],
  },
  getHead: {
    reply: ['head'],
    beforeReady: false,
    errors: [...session, 'FORBIDDEN', 'NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED'],
  },
} as const satisfies Record<ClientFrameType, MessageTableRow>;

/** Server frames sent without a request. */
export const UNSOLICITED_FRAMES: readonly ServerFrameType[] = [
  'changes',
  'accessChanged',
  'wrappedRootChanged',
  'error',
];
