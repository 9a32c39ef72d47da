/**
 * Consent and key routing objects: grants, revocations, wrapped stream keys, access rows.
 *
 * Invariants: a grant or revocation is valid only with the patient identity key's signature over
 * `grantSignaturePayload` / `revocationSignaturePayload`; the server verifies it before acting and
 * keeps it so any party can re-verify. A grant never names the `audit` stream type (schema) and names
 * each type at most once, for someone other than its patient, with real dates and `start < expiresAt`
 * (`grantIssues`: the codec checks it on every `grant` frame, devices before signing). A grant may name an
 * earlier one of the same patient and grantee in `supersedes` (a changed grant): storing it ends that one
 * (`supersedesGrant` states the link a device checks). Envelopes carry stream keys only wrapped to a
 * recipient account's X25519 key; the server never sees a key in clear.
 * Acceptance (`AcceptedPatient`) is a provider's word to the server that grants from a
 * patient are wanted, so they do not count toward its cap on grants from strangers. It is server policy
 * about floods only: it gives no access, carries no key and needs no signature (the server is trusted for
 * availability, not confidentiality), and a patient's grants are never ended by it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Issue } from './checker';
import {
  GRANTABLE_STREAM_TYPES,
  AccountId,
  B64u,
  DeviceId,
  Epoch,
  GrantableStreamType,
  IsoDateTime,
  RecordId,
  Seq,
  Signature,
  StreamId,
  StreamTypeSchema,
  parseIsoDateTime,
} from './primitives';

export const GrantAccess = Type.Union([Type.Literal('read'), Type.Literal('write')]);
export type GrantAccess = Static<typeof GrantAccess>;

export const GrantScopeEntry = Type.Object(
  { type: GrantableStreamType, access: GrantAccess },
  { additionalProperties: false },
);
export type GrantScopeEntry = Static<typeof GrantScopeEntry>;

/** The most characters of the purpose a patient types for a grant (checked by devices before sealing). */
export const MAX_PURPOSE_CHARS = 500;
/**
 * Bytes of a sealed purpose's ciphertext at most: nonce and MAC (40) and 500 UTF-16 units as UTF-8 (at most
 * 1,500 bytes) behind a 2-byte length, padded to 128 (1,536): @hale/crypto's `sealGrantPurpose`.
 */
export const MAX_SEALED_PURPOSE_BYTES = 1_576;
/** Bytes of one key slot of a sealed purpose at most (a sealed box of about 180 bytes). */
export const MAX_PURPOSE_SLOT_BYTES = 256;
/**
 * A grant's purpose as the server keeps it (`sealGrantPurpose` in @hale/crypto): the text under a random
 * key (`ct`), that key sealed to the patient's wrapping key and to the grantee's, each slot bound to the
 * grant id. The grant's signature covers all three, so a server can neither read nor swap them.
 */
export const SealedPurpose = Type.Object(
  {
    ct: B64u(MAX_SEALED_PURPOSE_BYTES),
    patient: B64u(MAX_PURPOSE_SLOT_BYTES),
    grantee: B64u(MAX_PURPOSE_SLOT_BYTES),
  },
  { additionalProperties: false },
);
export type SealedPurpose = Static<typeof SealedPurpose>;

export const Grant = Type.Object(
  {
    v: Type.Literal(1),
    grantId: RecordId,
    patientId: AccountId,
    granteeId: AccountId,
    scope: Type.Array(GrantScopeEntry, { minItems: 1, maxItems: GRANTABLE_STREAM_TYPES.length }),
    start: IsoDateTime,
    expiresAt: IsoDateTime,
    purpose: SealedPurpose,
    issuedAt: IsoDateTime,
    /**
     * The patient's earlier grant to the same grantee that this one replaces: the server ends that grant
     * when it stores this one, in the same step, and lists it with this one as its `supersededBy`. Absent
     * on a grant that replaces none.
     */
    supersedes: Type.Optional(RecordId),
  },
  { additionalProperties: false },
);
export type Grant = Static<typeof Grant>;

/**
 * The rules of a grant its schema cannot state, for a value that matched `Grant`: each scope type named
 * once, a grantee other than the patient, real dates, the expiry after the start, a `supersedes` other than
 * the grant's own id. Empty when it keeps them. Issue paths start with `path` (e.g. `/grant/grant` within a
 * frame, '' for a grant alone).
 */
export function grantIssues(grant: Grant, path = ''): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  grant.scope.forEach((entry, i) => {
    if (seen.has(entry.type))
      issues.push({ path: `${path}/scope/${i}/type`, reason: 'duplicate stream type in scope' });
    seen.add(entry.type);
  });
  if (grant.patientId === grant.granteeId) {
    issues.push({ path: `${path}/granteeId`, reason: 'a patient cannot grant to itself' });
  }
  const start = parseIsoDateTime(grant.start);
  const expiresAt = parseIsoDateTime(grant.expiresAt);
  if (start === null) issues.push({ path: `${path}/start`, reason: 'not a real date' });
  if (expiresAt === null) issues.push({ path: `${path}/expiresAt`, reason: 'not a real date' });
  if (start !== null && expiresAt !== null && expiresAt <= start) {
    issues.push({ path: `${path}/expiresAt`, reason: 'must be after start' });
  }
  if (grant.supersedes !== undefined && grant.supersedes === grant.grantId) {
    issues.push({ path: `${path}/supersedes`, reason: 'a grant cannot supersede itself' });
  }
  return issues;
}

/**
 * Whether `successor` is a grant that replaces `grant`: it names `grant` in `supersedes`, from the same
 * patient to the same grantee. What a device checks of a `GrantRecord.supersededBy` besides its signature
 * (the patient's identity key over `grantSignaturePayload`), before it takes `grant` as ended by it.
 */
export const supersedesGrant = (successor: Grant, grant: Grant): boolean =>
  successor.supersedes === grant.grantId &&
  successor.grantId !== grant.grantId &&
  successor.patientId === grant.patientId &&
  successor.granteeId === grant.granteeId;

export const SignedGrant = Type.Object({ grant: Grant, sig: Signature }, { additionalProperties: false });
export type SignedGrant = Static<typeof SignedGrant>;

export const Revocation = Type.Object(
  { v: Type.Literal(1), grantId: RecordId, patientId: AccountId, revokedAt: IsoDateTime },
  { additionalProperties: false },
);
export type Revocation = Static<typeof Revocation>;

export const SignedRevocation = Type.Object(
  { revocation: Revocation, sig: Signature },
  { additionalProperties: false },
);
export type SignedRevocation = Static<typeof SignedRevocation>;

export const KeyEnvelope = Type.Object(
  {
    stream: StreamId,
    epoch: Epoch,
    recipient: AccountId,
    /** Identifies the wrapped key without revealing it (e.g. a hash of it), so stale keys are spotted. */
    keyId: B64u(32),
    /** The stream key sealed to the recipient's X25519 wrapping key. */
    wrapped: B64u(256),
    createdBy: DeviceId,
    /** createdBy's device signature over `envelopeSignaturePayload`: lets the recipient reject a key the server made up. */
    sig: Type.Optional(Signature),
  },
  { additionalProperties: false },
);
export type KeyEnvelope = Static<typeof KeyEnvelope>;

export const StreamAccessLevel = Type.Union([
  Type.Literal('owner'),
  Type.Literal('read'),
  Type.Literal('write'),
]);
export type StreamAccessLevel = Static<typeof StreamAccessLevel>;

/** One stream the caller may sync, as the server sees it now. */
export const StreamAccess = Type.Object(
  {
    stream: StreamId,
    patientId: AccountId,
    type: StreamTypeSchema,
    access: StreamAccessLevel,
    /** Highest seq stored in the stream (0 when empty). */
    head: Seq,
    /** Current key epoch: documents pushed must be sealed under it. */
    epoch: Epoch,
    /** The grant that describes the stream (write over read, then the longest lasting) and its end. */
    grantId: Type.Optional(RecordId),
    expiresAt: Type.Optional(IsoDateTime),
    /**
     * When reading ends, if another active grant lets the grantee read past `expiresAt`: the stream is
     * described by a write grant, and a read grant outlasts it. At `expiresAt` writing ends, at this
     * reading does.
     */
    readExpiresAt: Type.Optional(IsoDateTime),
  },
  { additionalProperties: false },
);
export type StreamAccess = Static<typeof StreamAccess>;

export const AccessRemovedReason = Type.Union([
  Type.Literal('expired'),
  Type.Literal('revoked'),
  Type.Literal('device-revoked'),
]);
export type AccessRemovedReason = Static<typeof AccessRemovedReason>;

/** A patient the caller accepted (`listAccepted`), and since when (the server's clock). */
export const AcceptedPatient = Type.Object(
  { patientId: AccountId, acceptedAt: IsoDateTime },
  { additionalProperties: false },
);
export type AcceptedPatient = Static<typeof AcceptedPatient>;

/**
 * The server's own: a position in a `listAccepted` walk (paging.ts explains cursors; accepted patients are
 * listed by patient id, ascending). Devices never build or read it. Read back as stored: bounded text.
 */
export const AcceptedCursorPayload = Type.Object(
  {
    v: Type.Literal(1),
    k: Type.Literal('accepted'),
    /** The last patient listed. */
    patientId: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type AcceptedCursorPayload = Static<typeof AcceptedCursorPayload>;
