/**
 * @hale/protocol — every message between a Hale device and the sync server (long form: docs/protocol.md).
 *
 * One WebSocket per device at `/sync` (JSON text frames, `t` discriminates, `rid` pairs a request with its
 * reply) plus HTTP under `/v1`. Schemas are TypeBox (JSON Schema): Fastify validates HTTP bodies with the
 * same objects the codec uses. MESSAGE_TABLE lists each client frame's reply and typical errors;
 * UNSOLICITED_FRAMES the frames sent without a request; ERROR_CODES each code's HTTP status, retry flag and
 * client action; docs/protocol.md#versioning what each protocol version adds.
 *
 * Session: connected → (hello) → challenged → (auth) → ready. Before `ready` only hello/auth are accepted
 * (else UNAUTHENTICATED); at SESSION_TTL_MS the server sends SESSION_EXPIRED and closes.
 *
 * Invariants:
 * - The server picks the highest version both speak; what a later version adds goes only to its connections.
 * - `seq` strictly increases per stream and is never reused; it is exposed only once all lower seqs commit.
 * - Docs arrive in seq order per stream, each stream with a `checkpoint` (last seq delivered) for `since`.
 * - Checkpoints are per stream: a newly granted stream starts at `since: 0`. Tombstones are ordinary docs.
 * - A restore changes `ready.incarnation`: a device seeing a new one pulls all from 0 and pushes again.
 * - Versions kept across a restore are named by a conflict's `keptFrom`, never inferred from seqs.
 * - A push row is stored iff its assumed rev (`null` = new) is the stored one, else `conflict` + stored doc.
 * - A device merges a conflict and pushes again, never silently dropping a clinical side.
 * - Every request is idempotent (by (stream, id, rev) or its signed object): retry transient errors.
 * - Lost consent: the stream comes back in `denied` or `accessChanged.removed` and leaves sync.
 * - Any request may be answered by `error` with its rid; TOO_LARGE → split; BAD_MESSAGE → not resent as is.
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
    errors: [
      ...session,
      'BAD_SIGNATURE',
      'FORBIDDEN',
      'NOT_FOUND',
      'ALREADY_EXISTS',
      'TOO_MANY_GRANTS',
      'GRANT_NOT_SUPERSEDABLE',
    ],
  },
  revoke: {
    reply: ['ok'],
    beforeReady: false,
    errors: [...session, 'BAD_SIGNATURE', 'FORBIDDEN', 'NOT_FOUND', 'GRANT_SUPERSEDED'],
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
