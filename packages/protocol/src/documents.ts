/**
 * Documents as they travel: routing metadata in the clear, the record itself sealed in `ct`.
 *
 * Invariants: the server never sees plaintext; it stores `ct` as opaque bytes and only compares
 * revision tags for equality. `seq` and `at` are assigned by the server and exist only on documents
 * it serves (`ServedDoc`); a device never sends them (`PushDoc`). The `audit` header appears on
 * documents of `audit` streams and nowhere else; audit and clinical documents always carry `sig`
 * (the codec enforces both).
 */
import { Type, type Static } from '@sinclair/typebox';
import { AccessRemovedReason, GrantScopeEntry } from './consent';
import { MAX_DOC_BYTES } from './limits';
import {
  AccountId,
  B64u,
  DeviceId,
  Epoch,
  IsoDateTime,
  RecordId,
  RevTag,
  Seq,
  Signature,
  StreamId,
  GRANTABLE_STREAM_TYPES,
  b64uDecodedLength,
} from './primitives';

/** Public header of an audit entry: per-author hash chain position. */
export const AuditHeader = Type.Object(
  {
    /** 1 for an author device's first entry, +1 for each next one. */
    authorSeq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    /** Hash of the same author's previous entry; null for its first. */
    prevHash: Type.Union([B64u(64), Type.Null()]),
    at: IsoDateTime,
  },
  { additionalProperties: false },
);
export type AuditHeader = Static<typeof AuditHeader>;

const docProperties = {
  stream: StreamId,
  id: RecordId,
  rev: RevTag,
  deleted: Type.Boolean(),
  epoch: Epoch,
  ct: B64u(MAX_DOC_BYTES, 'sealed record'),
  author: DeviceId,
  sig: Type.Optional(Signature),
  audit: Type.Optional(AuditHeader),
};

/** A document as a device pushes it: no server-assigned fields. */
export const PushDoc = Type.Object(docProperties, { additionalProperties: false });
export type PushDoc = Static<typeof PushDoc>;

/** A document as the server serves it: `seq` orders it within its stream, `at` is when it was stored. */
export const ServedDoc = Type.Object(
  { ...docProperties, seq: Seq, at: IsoDateTime },
  { additionalProperties: false },
);
export type ServedDoc = Static<typeof ServedDoc>;

/** Either form (server fields optional), for code that handles both. */
export const WireDoc = Type.Object(
  { ...docProperties, seq: Type.Optional(Seq), at: Type.Optional(IsoDateTime) },
  { additionalProperties: false },
);
export type WireDoc = Static<typeof WireDoc>;

/** Decoded size of a document's sealed record; counts against MAX_BATCH_BYTES. */
export const docBytes = (doc: Pick<WireDoc, 'ct'>): number => b64uDecodedLength(doc.ct) ?? doc.ct.length;

/**
 * Cuts items into batches of at most `maxCount` items and `maxBytes` bytes (by `sizeOf`). An item
 * larger than `maxBytes` travels alone, so a batch sequence always makes progress.
 */
export function batchByLimits<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxCount: number,
  maxBytes: number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Most record changes one coalesced `records-changed` audit entry lists. */
export const MAX_AUDIT_CHANGES = 500;
/** Longest `summary` an audit entry body carries, in characters. */
export const MAX_AUDIT_SUMMARY = 500;

/** One record change in a `records-changed` audit entry. */
export const AuditRecordChange = Type.Object(
  {
    action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
    kind: Type.String({ minLength: 1, maxLength: 64 }),
    id: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type AuditRecordChange = Static<typeof AuditRecordChange>;

/** Who did it and when, in every audit body: the account and device that acted (the actor). */
const auditActorProperties = { actorId: AccountId, actorDeviceId: DeviceId, at: IsoDateTime };

/**
 * Sealed body of an entry a device appends (`kind: 'AuditEntry'`). The device library writes the actions
 * `records-changed`, `purge`, `consent-grant`, `consent-revoke`, `key-rotation`, `device-sign-in`,
 * `export`, `quarantine-dismiss` and `device-named` (a grantee's device's name in `summary`); an app appends its own (e.g. `record-viewed`), so `action` is any
 * short name and every detail field is optional. Ids a caller names (`grantId`, `granteeId`) are bounded
 * text, not checked ids: apps and older bodies carry other values, and views trust them only as far as
 * the entry's verified author.
 * Closed for writers; a reader drops fields it does not know (see `AuditBody`).
 */
export const AuditEntryBody = Type.Object(
  {
    kind: Type.Literal('AuditEntry'),
    action: Type.String({ minLength: 1, maxLength: 64 }),
    ...auditActorProperties,
    summary: Type.Optional(Type.String({ maxLength: MAX_AUDIT_SUMMARY })),
    changes: Type.Optional(Type.Array(AuditRecordChange, { maxItems: MAX_AUDIT_CHANGES })),
    stream: Type.Optional(StreamId),
    reason: Type.Optional(AccessRemovedReason),
    count: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    grantId: Type.Optional(Type.String({ maxLength: 128 })),
    granteeId: Type.Optional(Type.String({ maxLength: 128 })),
    scope: Type.Optional(Type.Array(GrantScopeEntry, { maxItems: GRANTABLE_STREAM_TYPES.length })),
    expiresAt: Type.Optional(IsoDateTime),
    purpose: Type.Optional(Type.String({ maxLength: 500 })),
    epoch: Type.Optional(Epoch),
    holders: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    deviceId: Type.Optional(DeviceId),
    patientId: Type.Optional(AccountId),
  },
  { additionalProperties: false },
);
export type AuditEntryBody = Static<typeof AuditEntryBody>;

/**
 * What the server logs of a grantee's access to a patient's stream (SERVER_ACCESS_ACTIONS). Any short name
 * is read, so that an entry of an action a newer server logs is still listed by older devices, under its name.
 * `denied`: a device asked for the stream and no grant in force covered it (count 0; at most one per
 * device and stream per hour).
 */
export const AccessEventAction = Type.String({ minLength: 1, maxLength: 64 });
export type AccessEventAction = Static<typeof AccessEventAction>;

/** The actions this server version logs (AccessEventBody.action); a device reads any (AccessEventAction). */
export const SERVER_ACCESS_ACTIONS = [
  'pull',
  'push',
  'live',
  'key-fetch',
  'blob-down',
  'blob-up',
  'blob-delete',
  'link-open',
  'denied',
] as const;
export type ServerAccessAction = (typeof SERVER_ACCESS_ACTIONS)[number];
/** The action of a refused reach: no grant in force covered the stream a device asked for. */
export const ACCESS_DENIED = 'denied' satisfies ServerAccessAction;

/**
 * Sealed body of an access event the server appends (`kind: 'AccessEvent'`): the grantee (actor) and how
 * many documents of `stream` it was served or wrote. Any integer `count` has the shape: the server writes
 * positive ones (0 for a shared link's opening, `link-open`: the counts are sealed to the patient in the
 * link's details; 0 for a refusal, `denied`), and views believe a count only from the server and only
 * when positive, so another author's claim (signed, hence no tampering) is still listed as that author's
 * claim.
 */
export const AccessEventBody = Type.Object(
  {
    kind: Type.Literal('AccessEvent'),
    action: AccessEventAction,
    ...auditActorProperties,
    stream: StreamId,
    count: Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
    /** The blob a `blob-delete` removed (one entry per deletion); older servers wrote none. */
    blobId: Type.Optional(RecordId),
  },
  { additionalProperties: false },
);
export type AccessEventBody = Static<typeof AccessEventBody>;

/**
 * What an audit entry's `ct` holds once opened with the patient's wrapping key (canonical JSON). Its
 * writers build it with this type and its reader checks it with `validateTolerant(AuditBody, …)` before
 * any use: a field a newer build added is dropped, not refused, so entries of newer devices stay valid on
 * older ones; a body that fails is treated like one that does not open.
 */
export const AuditBody = Type.Union([AuditEntryBody, AccessEventBody]);
export type AuditBody = Static<typeof AuditBody>;
