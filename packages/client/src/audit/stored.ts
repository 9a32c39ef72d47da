/**
 * What the audit log keeps in device meta (sealed at rest, keys in clear), and the schemas it is read with.
 * The view cache's keys are view-store.ts'.
 *
 * | key                       | holds                                                            | bound                  |
 * | ------------------------- | ---------------------------------------------------------------- | ---------------------- |
 * | `audit-outbox`            | entries made and not acknowledged, in append order               | —                      |
 * | `audit-outbox-state`      | per stream why it is held back; rows maybe stored; push in flight | —                      |
 * | `audit-noted-changes`     | record changes noted and in no entry yet (NOTED), in batches     | COALESCE per batch     |
 * | `audit-own`               | this device's own entries (id, patient, body)                    | MAX_OWN                |
 * | `audit-chain:<p>`         | this device's chain position in patient p's log                  | —                      |
 * | `audit-seen:<p>`          | per author, how far its chain verified whole (SEEN), only raised | —                      |
 * | `audit-kept:<p>`          | entries acknowledged in p's log, to send again after a restore   | MAX_KEPT, MAX_KEPT_CHARS |
 * | `audit-index-kept`        | when each `audit-kept:` was last written (day resolution)        | MAX_KEPT_PATIENTS      |
 * | `audit-own-acked`         | position acknowledged of the own chain, with the incarnation     | —                      |
 * | `audit-own-lost`          | own positions lost with an announced restore, until accepted     | MAX_OWN_LOST           |
 *
 * - `<p>` is HMAC-SHA256 of the patient's id under a key derived from the at-rest key (meta-keys.ts): no
 *   key names a patient.
 * - A value a newer build wrote that this one cannot read is neither used nor written over.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Incarnation, PushDoc, RecordId } from '@hale/protocol';
import type { DeviceMeta } from '../store/device-meta';
import { AUDIT_STATE } from './stored-state';

export const OUTBOX = 'audit-outbox';
export const OUTBOX_STATE = 'audit-outbox-state';
export const NOTED = 'audit-noted-changes';
export const OWN = 'audit-own';
export const CHAIN = 'audit-chain';
export const SEEN = 'audit-seen';
export const OWN_ACKED = 'audit-own-acked';
export const OWN_LOST = 'audit-own-lost';
export const MAX_OWN_LOST = 100;
export const KEPT = 'audit-kept';
/** Not named under `audit-kept`, where every key is one patient's. */
export const KEPT_INDEX = 'audit-index-kept';
export const MAX_KEPT_PATIENTS = 200;
export const KEPT_INDEX_STEP_MS = 24 * 3600_000;
export const KeptIndex = Type.Record(Type.String({ maxLength: 128 }), Type.Number());
export type KeptIndex = Static<typeof KeptIndex>;
/** The keys kept per patient, each named `<kind>:<digest of the patient's id>`. */
export const PER_PATIENT = [CHAIN, SEEN, KEPT] as const;
export type PerPatient = (typeof PER_PATIENT)[number];
/** Any stored value, as it is (to see whether a key holds one). */
export const AnyValue = Type.Unknown();
/** Entries kept per patient: a restore loses what came after the last backup (typically a day). */
export const MAX_KEPT = 100;
/** Characters of sealed bodies (`ct`) kept per patient: a couple of coalesced entries of 500 changes. */
export const MAX_KEPT_CHARS = 128 * 1024;
export const MAX_OWN = 10_000;
/** Changes one `records-changed` entry lists at most. */
export const COALESCE = 500;

export const OutboxState = Type.Object({
  /** Audit stream → why its chain is held back, and when to try again. */
  held: Type.Record(
    Type.String({ maxLength: 128 }),
    Type.Object({
      code: Type.String({ maxLength: 64 }),
      message: Type.String({ maxLength: 1000 }),
      refusals: Type.Integer({ minimum: 1 }),
      firstAt: Type.Number(),
      nextAt: Type.Number(),
      /** Rows of the stream when last refused: more means new activity, retried at once. */
      rows: Type.Integer({ minimum: 0 }),
    }),
  ),
  /** Ids of rows pushed without an answer: they may be stored, so they are never given up. */
  maybeStored: Type.Array(Type.String({ maxLength: 64 })),
  /** Ids of the push under way; at the next flush (after a crash) they count as maybe stored. */
  inFlight: Type.Array(Type.String({ maxLength: 64 })),
});
export type OutboxState = Static<typeof OutboxState>;

const NotedChange = Type.Object(
  {
    action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
    kind: Type.String({ maxLength: 64 }),
    id: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false },
);
/** NOTED: batches of one patient's changes, each named by the id of the entry that will list it. */
export const NotedBatches = Type.Object(
  {
    batches: Type.Array(
      Type.Object(
        { patientId: Type.String({ maxLength: 128 }), entry: RecordId, changes: Type.Array(NotedChange) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type NotedBatches = Static<typeof NotedBatches>;
export type NotedBatch = NotedBatches['batches'][number];
/** The highest own position the server acknowledged, and the store incarnation that did (or was checked). */
export const OwnAcked = Type.Object(
  { seq: Type.Integer({ minimum: 0 }), incarnation: Type.Optional(Incarnation) },
  { additionalProperties: false },
);

/** Positions `from`–`to` of the own chain, lost when the store was restored as incarnation `incarnation`. */
export const OwnLost = Type.Array(
  Type.Object(
    { from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }), incarnation: Incarnation },
    { additionalProperties: false },
  ),
  { maxItems: MAX_OWN_LOST },
);

/** This device's acknowledged entries in one patient's log, in chain order, and the incarnation then. */
export const KeptEntries = Type.Object(
  {
    incarnation: Type.Optional(Incarnation),
    rows: Type.Array(PushDoc, { maxItems: MAX_KEPT }),
  },
  { additionalProperties: false },
);
export type KeptEntries = Static<typeof KeptEntries>;

/** `rows` (acknowledged entries of one chain) merged into `kept`: one per id, in chain order, the newest. */
export const keepNewest = (kept: readonly PushDoc[], rows: readonly PushDoc[]): PushDoc[] => {
  const byId = new Map<string, PushDoc>();
  for (const d of [...kept, ...rows]) byId.set(d.id, d);
  const sorted = [...byId.values()].sort((a, b) => (a.audit?.authorSeq ?? 0) - (b.audit?.authorSeq ?? 0));
  // The newest always, however large: it is the one the next entry links to.
  let from = sorted.length;
  let chars = 0;
  for (const d of sorted.toReversed()) {
    chars += d.ct.length;
    if (sorted.length - from >= MAX_KEPT || (chars > MAX_KEPT_CHARS && from < sorted.length)) break;
    from--;
  }
  return sorted.slice(from);
};

/** SEEN: per author, how far its chain verified whole, the link hash there, the incarnation then. */
export const SeenChains = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Object(
    {
      seq: Type.Integer({ minimum: 1 }),
      hash: Type.String({ maxLength: 128 }),
      incarnation: Type.Optional(Incarnation),
    },
    { additionalProperties: false },
  ),
);
export type SeenChains = Static<typeof SeenChains>;

/** What identifies an own grant or revocation entry (device meta keeps own bodies loosely typed). */
export const OwnGrantEntry = Type.Object({
  action: Type.Union([Type.Literal('consent-grant'), Type.Literal('consent-revoke')]),
  grantId: Type.String(),
});

/** The patient whose log `stream` (`<patient>/audit`) is. */
export const patientOf = (stream: string): string => stream.slice(0, stream.length - '/audit'.length);

/** The outbox as stored (none, or unreadable: empty). */
export const outboxNow = async (meta: DeviceMeta): Promise<PushDoc[]> =>
  (await meta.get(OUTBOX, AUDIT_STATE.auditOutbox)) ?? [];
