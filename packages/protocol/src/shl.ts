/**
 * SMART Health Links on the wire (HL7 SMART Health Cards and Links IG, links specification), and the
 * patient's calls to create, list and revoke them. A link's content crosses only as a JWE (alg `dir`,
 * enc `A256GCM`) whose key travels in the link alone; the server keeps and serves ciphertext.
 *
 * | route | who | body / answer |
 * |---|---|---|
 * | `POST /v1/shl` | a patient device (bearer) | ShlCreateRequest → ShlLinkInfo |
 * | `GET /v1/shl` | a patient device | → ShlListResponse |
 * | `DELETE /v1/shl/:linkId` | a patient device | → ShlLinkInfo (revoked) |
 * | `GET /v1/shl/:linkId/accesses` | a patient device | → ShlAccessesResponse |
 * | `GET /v1/shl/events?since&waitMs` | a patient device | → ShlEventsResponse (waits for the next access) |
 * | `POST /shl/:token` | anyone holding the link | ShlManifestRequest → ShlManifest; 401 `{ remainingAttempts }`; 404 |
 * | `GET /shl/file/:ticket` | a manifest's `location` (one use, minutes) | → the JWE (`application/jose`) |
 * | `GET /shl/view` | a browser | the viewer page (plugins/shl-viewer.ts) |
 *
 * Sealed to the patient's wrapping key (@hale/crypto shl-seal.ts), bound to the link id:
 * - `sealed`: the link's label and record counts (`ShlLinkDetails`), by the patient's device; the server
 *   keeps only the record types in clear (`types`: its audit entry of an opening names each stream).
 * - `sealedRecipient`: the name a viewer gives (the spec's `recipient`, sent in clear), by the server on
 *   receipt, before anything is written.
 * - Links and accesses stored before sealing keep `label`, `contents` and `recipient` in clear and are
 *   listed so; for sealed ones `contents` is `[]` and `recipient` `''` (apps from before require both).
 */
import { Type, type Static } from '@sinclair/typebox';
import { B64u, GrantableStreamType, IsoDateTime } from './primitives';

/** Public id of a link: 16 random bytes, base64url (the shape of an account id: the audit names it so). */
export const ShlLinkId = Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' });
/** The manifest token in a link's URL: 32 random bytes, base64url (the spec's 256 bits of entropy). */
export const ShlToken = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' });
/** Largest content (a JWE in compact form) a link carries. */
export const MAX_SHL_JWE_CHARS = 4 * 1024 * 1024;
/** Passcode tries before a link locks. */
export const SHL_PASSCODE_ATTEMPTS = 3;
/** The spec's limit on a link's label. */
export const MAX_SHL_LABEL = 80;
/** The most UTF-16 units of a viewer's `recipient`. */
export const MAX_SHL_RECIPIENT = 500;
/** Bytes of a sealed recipient at most: @hale/crypto's `sealedTextMaxBytes(500)` (3,273) rounded up. */
export const MAX_SEALED_SHL_RECIPIENT_BYTES = 3_328;
/** The most UTF-16 units of a link's details as JSON (`ShlLinkDetails` at its largest: ≈1,450). */
export const MAX_SHL_DETAILS_CHARS = 2_048;
/** Bytes of sealed details at most: @hale/crypto's `sealedTextMaxBytes(2048)` (12,617) rounded up. */
export const MAX_SEALED_SHL_DETAILS_BYTES = 12_672;
/** Most record types (and counts) one link carries. */
export const MAX_SHL_TYPES = 20;

export const ShlContentCount = Type.Object(
  { type: GrantableStreamType, count: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
  { additionalProperties: false },
);

/** What a link's `sealed` holds once opened (JSON): its label and records per stream type. */
export const ShlLinkDetails = Type.Object(
  {
    label: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SHL_LABEL })),
    contents: Type.Array(ShlContentCount, { minItems: 1, maxItems: MAX_SHL_TYPES }),
  },
  { additionalProperties: false },
);
export type ShlLinkDetails = Static<typeof ShlLinkDetails>;

const createFields = {
  linkId: ShlLinkId,
  token: ShlToken,
  passcode: Type.Optional(Type.String({ minLength: 4, maxLength: 64 })),
  expiresAt: Type.Optional(IsoDateTime),
  emergency: Type.Boolean(),
  /** Opens once: the server revokes it in the same write as its first opening. */
  oneTime: Type.Optional(Type.Boolean()),
  contentType: Type.Literal('application/fhir+json'),
  jwe: Type.String({
    minLength: 10,
    maxLength: MAX_SHL_JWE_CHARS,
    pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]*){4}$',
  }),
};

/**
 * A new link as a device sends it: the record types in clear (each opening is an audit entry per type) and
 * `sealed`, its `ShlLinkDetails` sealed to the patient's wrapping key for this link id.
 */
export const ShlCreateSealed = Type.Object(
  {
    ...createFields,
    types: Type.Array(GrantableStreamType, { minItems: 1, maxItems: MAX_SHL_TYPES, uniqueItems: true }),
    sealed: B64u(MAX_SEALED_SHL_DETAILS_BYTES, 'ShlLinkDetails sealed to the patient'),
  },
  { additionalProperties: false },
);
/** A new link as apps from before sealing send it: the server seals `label` and `contents` on receipt. */
export const ShlCreateLegacy = Type.Object(
  {
    ...createFields,
    label: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SHL_LABEL })),
    contents: Type.Array(ShlContentCount, { minItems: 1, maxItems: MAX_SHL_TYPES }),
  },
  { additionalProperties: false },
);
export type ShlCreateSealed = Static<typeof ShlCreateSealed>;
export type ShlCreateLegacy = Static<typeof ShlCreateLegacy>;
export const ShlCreateRequest = Type.Union([ShlCreateSealed, ShlCreateLegacy]);
export type ShlCreateRequest = Static<typeof ShlCreateRequest>;

export const ShlLinkInfo = Type.Object({
  linkId: ShlLinkId,
  /** The label and counts (ShlLinkDetails) the patient's device sealed; absent on a link stored before. */
  sealed: Type.Optional(B64u(MAX_SEALED_SHL_DETAILS_BYTES)),
  /** The record types the content holds. */
  types: Type.Optional(Type.Array(GrantableStreamType, { maxItems: MAX_SHL_TYPES })),
  /** In clear only on a link stored before sealing. */
  label: Type.Optional(Type.String()),
  passcode: Type.Boolean(),
  emergency: Type.Boolean(),
  /** Present and true for a link that opens once (then revoked at its first opening). */
  oneTime: Type.Optional(Type.Boolean()),
  createdAt: IsoDateTime,
  expiresAt: Type.Optional(IsoDateTime),
  revokedAt: Type.Optional(IsoDateTime),
  attemptsLeft: Type.Integer({ minimum: 0 }),
  accessCount: Type.Integer({ minimum: 0 }),
  lastAccessAt: Type.Optional(IsoDateTime),
  /** Counts in clear only on a link stored before sealing; `[]` on a sealed one. */
  contents: Type.Array(ShlContentCount),
});
export type ShlLinkInfo = Static<typeof ShlLinkInfo>;

export const ShlListResponse = Type.Object({ links: Type.Array(ShlLinkInfo, { maxItems: 1000 }) });
export type ShlListResponse = Static<typeof ShlListResponse>;

export const ShlAccessInfo = Type.Object({
  at: IsoDateTime,
  outcome: Type.Union([Type.Literal('opened'), Type.Literal('wrong-passcode'), Type.Literal('refused')]),
  /** In clear only on an access logged before sealing; `''` beside `sealedRecipient`. */
  recipient: Type.String({ maxLength: MAX_SHL_RECIPIENT }),
  /** The name the viewer gave, sealed by the server to the patient's wrapping key for this link id. */
  sealedRecipient: Type.Optional(B64u(MAX_SEALED_SHL_RECIPIENT_BYTES)),
});
export type ShlAccessInfo = Static<typeof ShlAccessInfo>;
export const ShlAccessesResponse = Type.Object({ accesses: Type.Array(ShlAccessInfo, { maxItems: 1000 }) });
export type ShlAccessesResponse = Static<typeof ShlAccessesResponse>;

export const ShlEventsQuery = Type.Object({
  since: IsoDateTime,
  waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000 })),
});
export const ShlEventsResponse = Type.Object({
  accesses: Type.Array(Type.Composite([Type.Object({ linkId: ShlLinkId }), ShlAccessInfo]), {
    maxItems: 500,
  }),
  /** The server's time of the answer: the next request's `since` when nothing came. */
  now: IsoDateTime,
});
export type ShlEventsResponse = Static<typeof ShlEventsResponse>;

export const ShlLinkParams = Type.Object({ linkId: ShlLinkId });
export const ShlTokenParams = Type.Object({ token: ShlToken });
export const ShlTicketParams = Type.Object({ ticket: ShlToken });

/** The spec's manifest request. */
export const ShlManifestRequest = Type.Object({
  recipient: Type.String({ minLength: 1, maxLength: MAX_SHL_RECIPIENT }),
  passcode: Type.Optional(Type.String({ maxLength: 200 })),
  embeddedLengthMax: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ShlManifestRequest = Static<typeof ShlManifestRequest>;

export const ShlManifestFile = Type.Object({
  contentType: Type.String(),
  embedded: Type.Optional(Type.String()),
  location: Type.Optional(Type.String()),
  lastUpdated: Type.Optional(IsoDateTime),
});
export const ShlManifest = Type.Object({
  files: Type.Array(ShlManifestFile, { maxItems: 20 }),
  status: Type.Optional(Type.String()),
});
export type ShlManifest = Static<typeof ShlManifest>;

/** The spec's payload, base64url in `shlink:/…`. */
export const ShlPayload = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2000 }),
  key: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  exp: Type.Optional(Type.Number()),
  flag: Type.Optional(Type.String({ pattern: '^L?P?U?$' })),
  label: Type.Optional(Type.String({ maxLength: MAX_SHL_LABEL })),
  v: Type.Optional(Type.Integer()),
});
export type ShlPayload = Static<typeof ShlPayload>;
