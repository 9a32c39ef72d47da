/**
 * WebSocket frames between a device and the sync server: JSON text, one object per frame, `t`
 * discriminates, `rid` (client-chosen integer) pairs a request with its reply.
 *
 * Invariants: every frame schema is closed (`additionalProperties: false`), and every array is bounded by
 * its own `maxItems` or, for the server's lists (`streams.streams`, `accessChanged`, `envelopes`), by the
 * frame's byte and member limits (MAX_FRAME_BYTES, codec.ts), so a decoded frame has a known shape and
 * size. Replies carry the request's `rid`; unsolicited frames (`changes`, `accessChanged`,
 * `wrappedRootChanged`, and `error` without `rid`) do not.
 * Because schemas are closed, a field or frame a later protocol version adds is sent only on a connection
 * that negotiated that version; an older peer would refuse it as BAD_MESSAGE. Decoding lives in codec.ts.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  AcceptedPatient,
  AccessRemovedReason,
  KeyEnvelope,
  SignedGrant,
  SignedRevocation,
  StreamAccess,
} from './consent';
import { AuditHeader, PushDoc, ServedDoc } from './documents';
import { HeadLeaf, SignedHead } from './heads';
import { GrantListSide, MAX_GRANTS_PAGE, MAX_STREAMS_PAGE, PageCursor } from './paging';
import {
  MAX_ACCEPTED_PAGE,
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  MAX_HEAD_LEAVES_PAGE,
  MAX_KEY_HOLDER_STREAMS,
  MAX_KEY_HOLDERS,
  MAX_LISTED_GRANTS,
  MAX_OFFERED_VERSIONS,
  MAX_STREAMS_PER_REQUEST,
} from './limits';
import {
  AccountId,
  B64u,
  DeviceId,
  Epoch,
  IsoDateTime,
  Nonce,
  RecordId,
  RevTag,
  Rid,
  Seq,
  ServerId,
  Signature,
  StreamId,
  WireErrorCode,
  WrappedRootGen,
} from './primitives';

const closed = { additionalProperties: false } as const;
const Version = Type.Integer({ minimum: 1, maximum: 65535 });
const StreamCursor = Type.Object({ stream: StreamId, since: Seq }, closed);
export type StreamCursor = Static<typeof StreamCursor>;
const streamCursors = Type.Array(StreamCursor, { minItems: 1, maxItems: MAX_STREAMS_PER_REQUEST });
const streamIds = Type.Array(StreamId, { minItems: 1, maxItems: MAX_STREAMS_PER_REQUEST });

// ---- client → server ----

export const HelloFrame = Type.Object(
  {
    t: Type.Literal('hello'),
    versions: Type.Array(Version, { minItems: 1, maxItems: MAX_OFFERED_VERSIONS, uniqueItems: true }),
    deviceId: DeviceId,
  },
  closed,
);
export type HelloFrame = Static<typeof HelloFrame>;

export const AuthFrame = Type.Object({ t: Type.Literal('auth'), sig: Signature }, closed);
export type AuthFrame = Static<typeof AuthFrame>;

export const PullFrame = Type.Object(
  {
    t: Type.Literal('pull'),
    rid: Rid,
    streams: streamCursors,
    limit: Type.Integer({ minimum: 1, maximum: MAX_BATCH_DOCS }),
    maxBytes: Type.Integer({ minimum: 1, maximum: MAX_BATCH_BYTES }),
  },
  closed,
);
export type PullFrame = Static<typeof PullFrame>;

/**
 * Rows of one push frame sharing `group` are one user action: stored all or none (a group never spans
 * frames).
 */
export const PushGroup = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' });
export const PushRow = Type.Object(
  { doc: PushDoc, assumedRev: Type.Union([RevTag, Type.Null()]), group: Type.Optional(PushGroup) },
  closed,
);
export type PushRow = Static<typeof PushRow>;

export const PushFrame = Type.Object(
  {
    t: Type.Literal('push'),
    rid: Rid,
    rows: Type.Array(PushRow, { minItems: 1, maxItems: MAX_BATCH_DOCS }),
  },
  closed,
);
export type PushFrame = Static<typeof PushFrame>;

export const SubscribeFrame = Type.Object(
  { t: Type.Literal('subscribe'), rid: Rid, streams: streamCursors },
  closed,
);
export type SubscribeFrame = Static<typeof SubscribeFrame>;

export const UnsubscribeFrame = Type.Object(
  { t: Type.Literal('unsubscribe'), rid: Rid, streams: streamIds },
  closed,
);
export type UnsubscribeFrame = Static<typeof UnsubscribeFrame>;

/**
 * The streams the caller may sync (see StreamsFrame), one page (paging.ts): `cursor` (a `next` of the
 * previous page) continues a walk, `limit` sizes the page (DEFAULT_STREAMS_PAGE when absent).
 */
export const ListStreamsFrame = Type.Object(
  {
    t: Type.Literal('listStreams'),
    rid: Rid,
    cursor: Type.Optional(PageCursor),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_STREAMS_PAGE })),
  },
  closed,
);
export type ListStreamsFrame = Static<typeof ListStreamsFrame>;

/**
 * The grants the caller's account issued (as patient) or received (as grantee), signed, with their state;
 * one page (paging.ts; see GrantsFrame): `cursor` (a `next` of the previous page) continues a walk,
 * `limit` sizes the page, `side` keeps one side only, `active` only grants unended when the page is read.
 */
export const ListGrantsFrame = Type.Object(
  {
    t: Type.Literal('listGrants'),
    rid: Rid,
    cursor: Type.Optional(PageCursor),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_GRANTS_PAGE })),
    side: Type.Optional(GrantListSide),
    active: Type.Optional(Type.Boolean()),
  },
  closed,
);
export type ListGrantsFrame = Static<typeof ListGrantsFrame>;

export const GrantFrame = Type.Object({ t: Type.Literal('grant'), rid: Rid, grant: SignedGrant }, closed);
export type GrantFrame = Static<typeof GrantFrame>;

export const RevokeFrame = Type.Object(
  { t: Type.Literal('revoke'), rid: Rid, revocation: SignedRevocation },
  closed,
);
export type RevokeFrame = Static<typeof RevokeFrame>;

export const PutEnvelopesFrame = Type.Object(
  {
    t: Type.Literal('putEnvelopes'),
    rid: Rid,
    envelopes: Type.Array(KeyEnvelope, { minItems: 1, maxItems: MAX_STREAMS_PER_REQUEST }),
  },
  closed,
);
export type PutEnvelopesFrame = Static<typeof PutEnvelopesFrame>;

export const GetEnvelopesFrame = Type.Object(
  { t: Type.Literal('getEnvelopes'), rid: Rid, streams: Type.Optional(streamIds) },
  closed,
);
export type GetEnvelopesFrame = Static<typeof GetEnvelopesFrame>;

/** Patient only: who holds which key epochs of its own streams (no key material). */
export const ListKeyHoldersFrame = Type.Object(
  {
    t: Type.Literal('listKeyHolders'),
    rid: Rid,
    streams: Type.Array(StreamId, { minItems: 1, maxItems: MAX_KEY_HOLDER_STREAMS, uniqueItems: true }),
  },
  closed,
);
export type ListKeyHoldersFrame = Static<typeof ListKeyHoldersFrame>;

/**
 * A provider only: accept `patientId` (`accept: true`), so that its grants
 * to the caller stop counting toward MAX_ACTIVE_GRANTS_PER_GRANTEE, or stop accepting it (`false`; its
 * grants count again for new grants, and none of them ends). Answered `ok`; repeating it changes nothing.
 */
export const AcceptPatientFrame = Type.Object(
  { t: Type.Literal('acceptPatient'), rid: Rid, patientId: AccountId, accept: Type.Boolean() },
  closed,
);
export type AcceptPatientFrame = Static<typeof AcceptPatientFrame>;

/**
 * One page of the patients the caller accepted, by patient id (keyset
 * paging as `listGrants`, paging.ts): `cursor` (a `next` of the previous page) continues a walk, `limit`
 * sizes the page (DEFAULT_ACCEPTED_PAGE when absent).
 */
export const ListAcceptedFrame = Type.Object(
  {
    t: Type.Literal('listAccepted'),
    rid: Rid,
    cursor: Type.Optional(PageCursor),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ACCEPTED_PAGE })),
  },
  closed,
);
export type ListAcceptedFrame = Static<typeof ListAcceptedFrame>;

export const PingFrame = Type.Object({ t: Type.Literal('ping'), rid: Rid }, closed);
export type PingFrame = Static<typeof PingFrame>;

/**
 * A device of the stream's patient: its signed statement of the stream's state
 * (heads.ts). Stored only if it verifies, its `seq` is the stream's current seq and its root and count are
 * those of the server's rows; answered `ok` (also when the same statement is kept already).
 */
export const PutHeadFrame = Type.Object({ t: Type.Literal('putHead'), rid: Rid, head: SignedHead }, closed);
export type PutHeadFrame = Static<typeof PutHeadFrame>;

/**
 * A device that may pull `stream`: the newest statement the server accepted for it
 * and one page of its leaves by id, strictly after `after` (at most `limit`, MAX_HEAD_LEAVES_PAGE when
 * absent).
 */
export const GetHeadFrame = Type.Object(
  {
    t: Type.Literal('getHead'),
    rid: Rid,
    stream: StreamId,
    after: Type.Optional(RecordId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HEAD_LEAVES_PAGE })),
  },
  closed,
);
export type GetHeadFrame = Static<typeof GetHeadFrame>;

/** Client frame schemas by `t`. */
export const CLIENT_FRAMES = {
  hello: HelloFrame,
  auth: AuthFrame,
  pull: PullFrame,
  push: PushFrame,
  subscribe: SubscribeFrame,
  unsubscribe: UnsubscribeFrame,
  listStreams: ListStreamsFrame,
  listGrants: ListGrantsFrame,
  grant: GrantFrame,
  revoke: RevokeFrame,
  putEnvelopes: PutEnvelopesFrame,
  getEnvelopes: GetEnvelopesFrame,
  listKeyHolders: ListKeyHoldersFrame,
  ping: PingFrame,
  acceptPatient: AcceptPatientFrame,
  listAccepted: ListAcceptedFrame,
  putHead: PutHeadFrame,
  getHead: GetHeadFrame,
} as const satisfies Record<string, TSchema>;

export const ClientFrame = Type.Union([
  HelloFrame,
  AuthFrame,
  PullFrame,
  PushFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  ListStreamsFrame,
  ListGrantsFrame,
  GrantFrame,
  RevokeFrame,
  PutEnvelopesFrame,
  GetEnvelopesFrame,
  ListKeyHoldersFrame,
  PingFrame,
  AcceptPatientFrame,
  ListAcceptedFrame,
  PutHeadFrame,
  GetHeadFrame,
]);
export type ClientFrame = Static<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['t'];

// ---- server → client ----

/** Random id of a server store's incarnation: new at creation and at every restore from a backup. */
export const Incarnation = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' });
export type Incarnation = Static<typeof Incarnation>;

export const ChallengeFrame = Type.Object(
  { t: Type.Literal('challenge'), nonce: Nonce, serverId: ServerId, version: Version },
  closed,
);
export type ChallengeFrame = Static<typeof ChallengeFrame>;

export const ReadyFrame = Type.Object(
  {
    t: Type.Literal('ready'),
    accountId: AccountId,
    deviceId: DeviceId,
    version: Version,
    sessionExpiresAt: IsoDateTime,
    /**
     * Generation of the account's current passphrase wrap (`GET /v1/accounts/me/wrapped-root`
     * serves it). Only a hint: a device takes a wrap after checking its signature and generation itself.
     */
    wrappedRootGen: Type.Optional(WrappedRootGen),
    /**
     * Identifies the server's store. It changes whenever the store is
     * restored from a backup; see `incarnationAction` for what a device does then.
     */
    incarnation: Type.Optional(Incarnation),
  },
  closed,
);
export type ReadyFrame = Static<typeof ReadyFrame>;

/**
 * What a device does with `ready.incarnation`, given the one it recorded for this server (`undefined`
 * when none). A restore keeps every stream's seq above all seqs served before it when it can carry the
 * replaced store's positions (not onto an empty disk), but the store's content goes back to the backup:
 * documents stored after the backup are gone from the server.
 * - `keep`: unchanged, or not sent (the server could not read it).
 * - `adopt`: nothing recorded yet (first connection, or the first to a server that sends it): record it.
 * - `reset`: it changed, the store was restored. Pull every stream again from `since: 0`, push every local
 *   document again (normal conflict handling applies), then record the new incarnation; record it only
 *   once that is durably done, so a device interrupted halfway starts over at its next `ready`.
 */
export const incarnationAction = (
  recorded: string | undefined,
  served: string | undefined,
): 'keep' | 'adopt' | 'reset' => {
  if (served === undefined || served === recorded) return 'keep';
  return recorded === undefined ? 'adopt' : 'reset';
};

export const StreamCheckpoint = Type.Object(
  { stream: StreamId, checkpoint: Seq, done: Type.Boolean() },
  closed,
);
export type StreamCheckpoint = Static<typeof StreamCheckpoint>;

export const DeniedStream = Type.Object({ stream: StreamId, code: WireErrorCode }, closed);
export type DeniedStream = Static<typeof DeniedStream>;

const servedDocs = Type.Array(ServedDoc, { maxItems: MAX_BATCH_DOCS });

export const PulledFrame = Type.Object(
  {
    t: Type.Literal('pulled'),
    rid: Rid,
    docs: servedDocs,
    streams: Type.Array(StreamCheckpoint, { maxItems: MAX_STREAMS_PER_REQUEST }),
    denied: Type.Array(DeniedStream, { maxItems: MAX_STREAMS_PER_REQUEST }),
  },
  closed,
);
export type PulledFrame = Static<typeof PulledFrame>;

export const PushResultOk = Type.Object(
  { status: Type.Literal('ok'), stream: StreamId, id: RecordId, rev: RevTag, seq: Seq },
  closed,
);
export const PushResultConflict = Type.Object(
  {
    status: Type.Literal('conflict'),
    stream: StreamId,
    id: RecordId,
    /** The stored document; null when the device assumed a document the server does not have. */
    master: Type.Union([ServedDoc, Type.Null()]),
    /**
     * `master` is a version the store held when it was last restored from a
     * backup (not one stored since), and that backup was of the store of this incarnation. Absent for a
     * version stored since the restore, and whenever the server cannot tell (a store never restored, or
     * restored by a server that did not record it).
     */
    keptFrom: Type.Optional(Incarnation),
  },
  closed,
);
/**
 * Where the server holds the end of one device's audit chain in one audit stream: the position of that
 * device's latest stored entry there (its highest: a device stores its chain in order) and that entry's
 * link hash (`chainLinkHash` in @hale/crypto over its `auditSignaturePayload` and signature), which the
 * device's next entry names as `prevHash`.
 */
export const AuditChainEnd = Type.Object(
  { authorSeq: AuditHeader.properties.authorSeq, linkHash: B64u(64) },
  closed,
);
export type AuditChainEnd = Static<typeof AuditChainEnd>;

export const PushResultError = Type.Object(
  {
    status: Type.Literal('error'),
    stream: StreamId,
    id: RecordId,
    code: WireErrorCode,
    message: Type.String({ maxLength: 1000 }),
    /**
     * Only on the `APPEND_ONLY` refusal of a new audit entry at a chain
     * position its device already holds in the stream: where the server holds the end of the pushing
     * device's own chain there, so the device can continue after it. Only ever about the pushing device's
     * own entries (an entry's author must be the pushing device). Absent otherwise (the device then gives
     * the entry up).
     */
    chainEnd: Type.Optional(AuditChainEnd),
  },
  closed,
);
export const PushResult = Type.Union([PushResultOk, PushResultConflict, PushResultError]);
export type PushResult = Static<typeof PushResult>;

export const PushedFrame = Type.Object(
  {
    t: Type.Literal('pushed'),
    rid: Rid,
    results: Type.Array(PushResult, { minItems: 1, maxItems: MAX_BATCH_DOCS }),
  },
  closed,
);
export type PushedFrame = Static<typeof PushedFrame>;

export const OkFrame = Type.Object({ t: Type.Literal('ok'), rid: Rid }, closed);
export type OkFrame = Static<typeof OkFrame>;

export const ChangesCheckpoint = Type.Object({ stream: StreamId, checkpoint: Seq }, closed);
export type ChangesCheckpoint = Static<typeof ChangesCheckpoint>;

export const ChangesFrame = Type.Object(
  {
    t: Type.Literal('changes'),
    docs: servedDocs,
    streams: Type.Array(ChangesCheckpoint, { minItems: 1, maxItems: MAX_STREAMS_PER_REQUEST }),
  },
  closed,
);
export type ChangesFrame = Static<typeof ChangesFrame>;

export const StreamsFrame = Type.Object(
  {
    t: Type.Literal('streams'),
    rid: Rid,
    /**
     * One page, by stream id ascending, strictly after the request's `cursor`,
     * at most its `limit` (DEFAULT_STREAMS_PAGE when absent).
     */
    streams: Type.Array(StreamAccess),
    /**
     * More streams may follow; send `listStreams` again with this as
     * `cursor`. Absent on the last page. A device must read every page before it takes the list as the
     * streams it may sync (a stream missing from it reads as access ended).
     */
    next: Type.Optional(PageCursor),
  },
  closed,
);
export type StreamsFrame = Static<typeof StreamsFrame>;

export const RemovedStream = Type.Object({ stream: StreamId, reason: AccessRemovedReason }, closed);
export type RemovedStream = Static<typeof RemovedStream>;

/**
 * A grant as the server holds it. `revocation` is the patient's signed revocation: a device believes a
 * grant revoked only if that verifies (`revokedAt` alone is the server's word). `supersededBy` is the
 * patient's signed grant that replaced this one, whole, so the record
 * proves its end on its own: a device believes the grant ended by it only if its signature verifies and
 * it names this grant (`supersedesGrant`: `supersedes`, same patient and grantee). `revokedAt` is then the
 * server's time of that end.
 */
export const GrantRecord = Type.Object(
  {
    grant: SignedGrant,
    revokedAt: Type.Optional(IsoDateTime),
    revocation: Type.Optional(SignedRevocation),
    supersededBy: Type.Optional(SignedGrant),
  },
  closed,
);
export type GrantRecord = Static<typeof GrantRecord>;

export const GrantsFrame = Type.Object(
  {
    t: Type.Literal('grants'),
    rid: Rid,
    /**
     * One page, issued grants first, then received ones, each newest issued first
     * (`issuedAt`, then `grantId`, descending), at most the request's `limit`.
     */
    grants: Type.Array(GrantRecord, { maxItems: MAX_LISTED_GRANTS }),
    /**
     * More grants may follow; send `listGrants` again with this as `cursor` (and
     * the same `side` and `active`). Absent on the last page.
     */
    next: Type.Optional(PageCursor),
  },
  closed,
);
export type GrantsFrame = Static<typeof GrantsFrame>;

export const AccessChangedFrame = Type.Object(
  { t: Type.Literal('accessChanged'), streams: Type.Array(StreamAccess), removed: Type.Array(RemovedStream) },
  closed,
);
export type AccessChangedFrame = Static<typeof AccessChangedFrame>;

/**
 * Version ≥ 2, unsolicited: the account's passphrase was changed (by another device) while this one is
 * connected; `gen` is the new wrap's generation. A hint like `ready.wrappedRootGen`: the device fetches
 * and verifies the wrap itself. Servers of several nodes may send it only from the node that took the change;
 * the next `ready` carries the generation in any case.
 */
export const WrappedRootChangedFrame = Type.Object(
  { t: Type.Literal('wrappedRootChanged'), gen: WrappedRootGen },
  closed,
);
export type WrappedRootChangedFrame = Static<typeof WrappedRootChangedFrame>;

export const EnvelopesFrame = Type.Object(
  { t: Type.Literal('envelopes'), rid: Rid, envelopes: Type.Array(KeyEnvelope) },
  closed,
);
export type EnvelopesFrame = Static<typeof EnvelopesFrame>;

/**
 * One key envelope's address: `recipient` holds the key of (`stream`, `epoch`), and the device that
 * created the envelope.
 */
export const KeyHolder = Type.Object(
  { stream: StreamId, epoch: Epoch, recipient: AccountId, createdBy: DeviceId },
  closed,
);
export type KeyHolder = Static<typeof KeyHolder>;

export const KeyHoldersFrame = Type.Object(
  { t: Type.Literal('keyHolders'), rid: Rid, holders: Type.Array(KeyHolder, { maxItems: MAX_KEY_HOLDERS }) },
  closed,
);
export type KeyHoldersFrame = Static<typeof KeyHoldersFrame>;

export const PongFrame = Type.Object({ t: Type.Literal('pong'), rid: Rid, time: IsoDateTime }, closed);

export type PongFrame = Static<typeof PongFrame>;

/** The answer to `listAccepted`: one page, by patient id ascending. */
export const AcceptedPatientsFrame = Type.Object(
  {
    t: Type.Literal('acceptedPatients'),
    rid: Rid,
    patients: Type.Array(AcceptedPatient, { maxItems: MAX_ACCEPTED_PAGE }),
    /** More may follow: send `listAccepted` again with this as `cursor`. Absent on the last page. */
    next: Type.Optional(PageCursor),
  },
  closed,
);
export type AcceptedPatientsFrame = Static<typeof AcceptedPatientsFrame>;

/**
 * The answer to `getHead`: the newest statement kept for `stream` (`signed`, absent
 * when none is) and one page of its leaves, by id strictly ascending. `next`: more leaves follow; send
 * `getHead` again with it as `after`. Every page carries the statement it belongs to: a reader that meets
 * another one midway starts again.
 */
export const HeadFrame = Type.Object(
  {
    t: Type.Literal('head'),
    rid: Rid,
    stream: StreamId,
    signed: Type.Optional(SignedHead),
    leaves: Type.Array(HeadLeaf, { maxItems: MAX_HEAD_LEAVES_PAGE }),
    next: Type.Optional(RecordId),
  },
  closed,
);
export type HeadFrame = Static<typeof HeadFrame>;

/**
 * Containers `details` may nest, itself included (semantics.ts checks it: JSON Schema cannot bound the
 * depth of an unknown value). Unbounded, a frame of nested brackets decodes, and then writing it out
 * (logging, JSON.stringify) overflows the stack. The server's own details nest 3 deep.
 */
export const MAX_ERROR_DETAILS_DEPTH = 16;

export const ErrorDetails = Type.Record(Type.String(), Type.Unknown());

export const ErrorFrame = Type.Object(
  {
    t: Type.Literal('error'),
    /** Absent when the request was too broken to read one, or the error is not about a request. */
    rid: Type.Optional(Rid),
    code: WireErrorCode,
    message: Type.String({ maxLength: 1000 }),
    details: Type.Optional(ErrorDetails),
  },
  closed,
);
export type ErrorFrame = Static<typeof ErrorFrame>;

/** Server frame schemas by `t`. */
export const SERVER_FRAMES = {
  challenge: ChallengeFrame,
  ready: ReadyFrame,
  pulled: PulledFrame,
  pushed: PushedFrame,
  ok: OkFrame,
  changes: ChangesFrame,
  streams: StreamsFrame,
  grants: GrantsFrame,
  accessChanged: AccessChangedFrame,
  wrappedRootChanged: WrappedRootChangedFrame,
  envelopes: EnvelopesFrame,
  keyHolders: KeyHoldersFrame,
  pong: PongFrame,
  error: ErrorFrame,
  acceptedPatients: AcceptedPatientsFrame,
  head: HeadFrame,
} as const satisfies Record<string, TSchema>;

export const ServerFrame = Type.Union([
  ChallengeFrame,
  ReadyFrame,
  PulledFrame,
  PushedFrame,
  OkFrame,
  ChangesFrame,
  StreamsFrame,
  GrantsFrame,
  AccessChangedFrame,
  WrappedRootChangedFrame,
  EnvelopesFrame,
  KeyHoldersFrame,
  PongFrame,
  ErrorFrame,
  AcceptedPatientsFrame,
  HeadFrame,
]);
export type ServerFrame = Static<typeof ServerFrame>;
export type ServerFrameType = ServerFrame['t'];

export type Frame = ClientFrame | ServerFrame;
