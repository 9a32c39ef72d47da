/**
 * What the sync engine keeps in device metadata (store/device-meta.ts), by schema: registered as the
 * module `sync` (core/stored-state.ts). Keys are named in each schema's comment.
 *
 * - Quarantine reasons are append-only: stored entries name them.
 * - A value read back is checked against its schema before use (DeviceMeta).
 */
import { Type } from '@sinclair/typebox';
import { AccessRemovedReason, Incarnation, RecordId, RevTag, StreamAccess } from '@hale/protocol';
import { storedState } from '../core/stored-state';
import { DECODE_FAILURES } from './record-codec';

const IsoText = Type.String({ maxLength: 40 });

/**
 * Why a served record was set aside: the codec's failure reason, or BAD_TRANSITION (it verifies, but as
 * the next state of the record this device holds it breaks the record's transition rules; sync/engine.ts).
 * Append-only: stored entries name them (by name: NO_WRITE_GRANT, appended to the codec's, sits before
 * BAD_TRANSITION here, which changes nothing stored).
 */
export const QUARANTINE_REASONS = [...DECODE_FAILURES, 'BAD_TRANSITION'] as const;
export type QuarantineReason = (typeof QUARANTINE_REASONS)[number];
/**
 * Reasons that can pass without anything changing on the server: such records are fetched again. A key
 * or a device list that comes; a grant of the patient that this device learns (NO_WRITE_GRANT: a grant
 * made on another of the patient's devices, read at this device's next reading of the server's list).
 */
export const RETRYABLE_QUARANTINE: ReadonlySet<QuarantineReason> = new Set([
  'NO_KEY',
  'AUTHOR_LOOKUP_FAILED',
  'NO_WRITE_GRANT',
]);
/**
 * Refusals by this build's record rules (content a newer client may have written): fetched again once,
 * by a build with other rules (another `MODEL_VERSION`) than the one that refused them. The other
 * permanent reasons (tampering, tag, signature, author, binding, key) are not the record rules' to change.
 */
export const CONTENT_QUARANTINE: ReadonlySet<QuarantineReason> = new Set(['BAD_CONTENT']);
/**
 * Refusals by the author rules (device-directory.ts `authorRulesId`: which devices count as a record's
 * author, e.g. a revoked one for what it signed before its revocation): fetched again once, by a session
 * judging by other author rules than the one that refused them. Tampering, tag, signature, binding and
 * key failures are not the author rules' to change.
 */
export const AUTHOR_QUARANTINE: ReadonlySet<QuarantineReason> = new Set(['BAD_AUTHOR']);

/**
 * Why the content of a version refused BAD_TRANSITION is not kept with its entry: larger than one entry
 * may keep, dropped beyond the total kept, or purged with its stream when access ended. Append-only.
 */
export const KEPT_CONTENT_LOSSES = ['too-large', 'budget', 'purged'] as const;
export type KeptContentLoss = (typeof KEPT_CONTENT_LOSSES)[number];

const ModelVersionText = Type.String({ maxLength: 200 });
const AuthorRulesText = Type.String({ maxLength: 200 });

/** Catch-ups after restores of the server's store kept in device meta (`incarnation.resyncs`). */
export const MAX_RESYNCS = 32;

/** A record version as the engine holds it (sync/record-codec.ts `PlainRecord`: store/device-db.ts `DeviceRecord` and its deletion flag). */
const StoredRecord = Type.Object({
  id: Type.String({ maxLength: 26 }),
  stream: Type.String({ maxLength: 64 }),
  kind: Type.String({ maxLength: 32 }),
  patientId: Type.String({ maxLength: 22 }),
  updatedAt: Type.String({ maxLength: 32 }),
  rv: Type.Integer({ minimum: 1 }),
  epoch: Type.Integer({ minimum: 0 }),
  author: Type.String({ maxLength: 64 }),
  by: Type.String({ maxLength: 64 }),
  conflict: Type.Boolean(),
  data: Type.Record(Type.String(), Type.Unknown()),
  conflictData: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  _deleted: Type.Boolean(),
});

export const SYNC_STATE = storedState('sync', {
  /**
   * Local writes the server has not acknowledged: record id and the revision number pending (0 when not
   * known). A plain id is an entry written before numbers were kept: pending, cleared by any acknowledgement.
   */
  pending: Type.Array(
    Type.Union([
      Type.String({ maxLength: 64 }),
      Type.Object({ id: Type.String({ maxLength: 64 }), rv: Type.Integer({ minimum: 0 }) }),
    ]),
  ),
  /**
   * Groups of local versions one user action wrote (sync/write-groups.ts), not yet stored by the server
   * whole: the group id and its versions by record id and revision number. Key `write-groups`.
   */
  writeGroups: Type.Array(
    Type.Object(
      {
        group: Type.String({ minLength: 1, maxLength: 64 }),
        members: Type.Array(
          Type.Object(
            { id: Type.String({ maxLength: 64 }), rv: Type.Integer({ minimum: 0 }) },
            { additionalProperties: false },
          ),
          { minItems: 2, maxItems: 20_000 },
        ),
      },
      { additionalProperties: false },
    ),
    { maxItems: 10_000 },
  ),
  /**
   * Keys of granted streams this device opened from envelopes, base64url, kept so the next session opens
   * only new envelopes (sync/key-cache.ts). Key `stream-keys`.
   */
  streamKeys: Type.Array(
    Type.Object(
      {
        stream: Type.String({ minLength: 1, maxLength: 128 }),
        epoch: Type.Integer({ minimum: 0 }),
        key: Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]{43}$' }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 1_000_000 },
  ),
  /** Streams purged here whose next pull must start from 0 (RxDB's checkpoint may still hold them). */
  purged: Type.Array(Type.String({ maxLength: 128 })),
  /**
   * Streams of `purged` readable again whose pull from 0 began, each with the random token the pull puts
   * in the checkpoints it hands RxDB (sync/engine.ts `restartTokens`): the mark ends only once RxDB hands
   * back a checkpoint carrying it. Key `pull-restarted`.
   */
  restartTokens: Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 32 })),
  /**
   * One push frame's versions, by record id and revision tag, with the frame's number (sync/engine.ts
   * `unanswered`). Keys `push-unanswered-<slot>`.
   */
  pushUnanswered: Type.Object({
    seq: Type.Integer({ minimum: 1 }),
    rows: Type.Array(Type.Object({ id: Type.String({ maxLength: 64 }), rev: RevTag }), { maxItems: 1000 }),
  }),
  quarantine: Type.Array(
    Type.Object({
      stream: Type.String(),
      id: Type.String(),
      seq: Type.Integer({ minimum: 0 }),
      rev: Type.String(),
      reason: Type.Union(QUARANTINE_REASONS.map((r) => Type.Literal(r))),
      message: Type.String(),
      at: IsoText,
      /** MODEL_VERSION of the build that judged it; absent in entries stored before it was kept. */
      model: Type.Optional(ModelVersionText),
      /** The author rules that judged it (`authorRulesId`); absent in entries stored before it was kept. */
      authorRules: Type.Optional(AuthorRulesText),
      /** When this device's version was stored over it, and the account that signed it (sync/engine.ts). */
      overwritten: Type.Optional(Type.Object({ at: IsoText, by: Type.String({ maxLength: 128 }) })),
      /**
       * Of a version refused BAD_TRANSITION (it opened and verified), whether its content is kept (under
       * `quarantine-kept/<slot>`, `quarantineKept`) and its size, or why not (sync/engine.ts).
       */
      content: Type.Optional(
        Type.Union([
          Type.Object({ kept: Type.Literal(true), bytes: Type.Integer({ minimum: 0 }) }),
          Type.Object({
            kept: Type.Literal(false),
            why: Type.Union(KEPT_CONTENT_LOSSES.map((w) => Type.Literal(w))),
            at: IsoText,
          }),
        ]),
      ),
      /** Random name of the key its kept content lies under (names nothing of the record). */
      slot: Type.Optional(Type.String({ maxLength: 64 })),
    }),
  ),
  /**
   * The opened content of a version refused BAD_TRANSITION, kept beside its quarantine entry (which
   * names it by `slot`), with the account and device whose signature verified; lengths as the served
   * version had them (the engine bounds an entry's bytes as a whole). Key `quarantine-kept/<slot>`.
   */
  quarantineKept: Type.Object({
    stream: Type.String(),
    id: Type.String(),
    rev: Type.String(),
    author: Type.Object({ accountId: Type.String(), deviceId: Type.String() }),
    record: Type.Object({
      kind: Type.String(),
      rv: Type.Integer({ minimum: 0 }),
      deleted: Type.Boolean(),
      updatedAt: Type.String(),
      data: Type.Record(Type.String(), Type.Unknown()),
      conflict: Type.Boolean(),
      conflictData: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    }),
  }),
  /**
   * Per stream, the seq range [from, to] of quarantine entries dropped beyond the list's cap whose record
   * may still be shown (retryable, content or author refusals), fetched again by the retry as the entries
   * would have been. When all of them were refusals judged under rules that may change, the rules they
   * wait for: `model`, the MODEL_VERSION content refusals among them were judged under; `authorRules`,
   * the author rules author refusals among them were (fetched again only once one of those differs).
   * Neither: some could pass at any retry. Key `quarantine-gaps`.
   */
  quarantineGaps: Type.Array(
    Type.Object({
      stream: Type.String({ maxLength: 128 }),
      from: Type.Integer({ minimum: 0 }),
      to: Type.Integer({ minimum: 0 }),
      model: Type.Optional(ModelVersionText),
      authorRules: Type.Optional(AuthorRulesText),
    }),
  ),
  /**
   * Quarantine entries the person dismissed (the engine's `dismissQuarantined`), oldest first, at most the
   * engine's MAX_DISMISSED: the served version (stream, id, revision tag) and the reason it was set aside,
   * so the same version served again is neither listed nor reported again, and one refused BAD_TRANSITION
   * stays refused. Key `quarantine-dismissed`; also key `quarantine-dismiss-recorded`, the dismissals
   * recorded in the audit log whose write failed (the engine's RECORDED_UNSTORED_KEY).
   */
  quarantineDismissed: Type.Array(
    Type.Object({
      stream: Type.String({ maxLength: 128 }),
      id: RecordId,
      rev: RevTag,
      reason: Type.Union(QUARANTINE_REASONS.map((r) => Type.Literal(r))),
      at: IsoText,
    }),
  ),
  /** Local versions the server did not take (the engine's `UnsentChange`); key `unsent`. */
  unsent: Type.Array(
    Type.Object({
      stream: Type.String({ maxLength: 128 }),
      id: Type.String({ maxLength: 64 }),
      kind: Type.String({ maxLength: 64 }),
      rv: Type.Integer({ minimum: 0 }),
      deleted: Type.Boolean(),
      data: Type.Record(Type.String(), Type.Unknown()),
      code: Type.String({ maxLength: 64 }),
      message: Type.String({ maxLength: 2000 }),
      at: IsoText,
    }),
  ),
  /**
   * Devices of other accounts (or this one) whose revocation this device verified (the account's signed
   * revocation), with the cutoff it took (sync/device-directory.ts): a server answering an older device
   * list after a restart does not make such a device trusted again. Key `revoked-devices`.
   */
  revokedDevices: Type.Array(
    Type.Object({
      accountId: Type.String({ maxLength: 64 }),
      deviceId: Type.String({ maxLength: 64 }),
      revokedAt: IsoText,
    }),
    { maxItems: 10_000 },
  ),
  /**
   * Local versions the push handler answered RxDB as sent while this device held no key to write their
   * stream (sync/engine.ts `keyWaits`), each with the server's state it was made on (`base`; absent for a
   * creation), at most one per record; the engine sends them itself once the key comes (or the server
   * version they met opens). Key `key-wait`.
   */
  keyWait: Type.Array(
    Type.Object({
      record: StoredRecord,
      base: Type.Optional(StoredRecord),
      at: IsoText,
      /** Sent, and met a server version that could not be verified yet (sync/engine.ts CONFLICT_WAIT). */
      conflict: Type.Optional(Type.Literal(true)),
    }),
  ),
  /**
   * Records whose local copy is a version the server never took (the engine's diverged marks, kept after
   * their unsent entry is discarded), with the revision number of the server's state that version was
   * made on (`floor`; absent in marks written before it was kept, and for a creation); key `diverged`.
   */
  diverged: Type.Array(
    Type.Object({
      stream: Type.String({ maxLength: 128 }),
      id: Type.String({ maxLength: 64 }),
      floor: Type.Optional(Type.Integer({ minimum: 0 })),
      /** Marked for a version waiting for its write key: ends once the server takes one from this device. */
      wait: Type.Optional(Type.Literal(true)),
    }),
  ),
  /**
   * The server store's incarnation (`ready.incarnation`) this device's sync positions and pushes are in
   * step with: `recorded`. `reset`: a restore of the store (`incarnationAction` → reset) this device has
   * not caught up with yet — `to` the new incarnation, `floor` the per-stream positions it had seen before
   * (served documents at or below them come from the store before the restore). `resyncs`: the catch-ups
   * started after restores (incarnation, this device's clock in ms), oldest first, which back off the
   * next one (the engine's `resyncDelay`); absent before they were kept. Key `incarnation`.
   */
  incarnation: Type.Object({
    recorded: Type.Optional(Incarnation),
    reset: Type.Optional(
      Type.Object({
        to: Incarnation,
        floor: Type.Record(Type.String({ maxLength: 128 }), Type.Integer({ minimum: 0 })),
      }),
    ),
    resyncs: Type.Optional(
      Type.Array(Type.Object({ to: Incarnation, at: Type.Integer({ minimum: 0 }) }), {
        maxItems: MAX_RESYNCS,
      }),
    ),
  }),
  /**
   * What this device knows of its access (the engine's list), so a session opened offline enforces it:
   * `streams`, every stream it may access as the server last said (its list at a connection, then the
   * access changes since), grants' ends included; `ended`, streams whose access ended and whose local copy
   * was not purged yet (purged at the next open). One key for all: for a provider it is its patient list,
   * which must lie on disk only sealed (keys are stored in clear). Key `access`.
   */
  access: Type.Object({
    streams: Type.Array(StreamAccess),
    ended: Type.Array(Type.Object({ stream: Type.String({ maxLength: 128 }), reason: AccessRemovedReason })),
  }),
  /** When this device last completed a pull, push or live change (ISO), kept across restarts. */
  lastSynced: Type.String({ maxLength: 40 }),
  /**
   * Per stream, positions past served batches that handed RxDB nothing to store (the engine's pull
   * floor): `at` is used as the pull cursor once RxDB's stored checkpoint reaches `after`. `voided`: RxDB's
   * stored checkpoint when a restore's pull from 0 began, which stands for no position while RxDB still
   * holds it (the engine's `voided`); absent before it was kept. Key `pull-floor`.
   */
  pullFloor: Type.Object({
    at: Type.Record(Type.String({ maxLength: 128 }), Type.Integer({ minimum: 0 })),
    after: Type.Record(Type.String({ maxLength: 128 }), Type.Integer({ minimum: 0 })),
    voided: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Integer({ minimum: 0 }))),
  }),
});
