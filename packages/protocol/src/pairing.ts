/**
 * Pairing: a signed-in device hands the account root to a new device through the sync server's relay.
 * docs/protocol.md ("Pairing") is the long form; docs/architecture.md gives the security argument.
 *
 * | step | who | route / message | carries |
 * |---|---|---|---|
 * | 1 | new device | `POST /v1/pairing` | `commit` = H(new key ‖ new nonce); answered `code`, its side's `token` |
 * | 2 | approver | `POST /v1/pairing/:code/claim` | answered `commit` and its own `token`; one approver per code |
 * | 3 | approver | message `offer` | its X25519 key and nonce, in clear |
 * | 4 | new device | message `reveal` | its key and nonce (must open `commit`), its name sealed |
 * | 5 | both | — | the same 6-digit short authentication string (SAS) on both screens; the person compares |
 * | 6 | approver | message `sealed` | the root payload, sealed to the key both derived |
 * | 7 | new device | message `done` | its new device id, sealed |
 * | any | either | message `cancel` | why; the relay ends the pairing |
 *
 * Invariants: the relay holds only public keys, nonces, a hash and ciphertext (nothing secret); each
 * message kind is taken once per pairing, in the order above, from the side it belongs to (`PAIRING_ORDER`);
 * every body and answer is a closed object with bounded fields; a pairing lives PAIRING_TTL_MS at most.
 * Failure modes (HTTP): an unknown, expired or ended code → PAIRING_UNKNOWN; a second claim →
 * PAIRING_TAKEN; a wrong side's token → UNAUTHENTICATED; a message out of turn → BAD_MESSAGE; too many
 * pairings from one address → RATE_LIMITED.
 */
import { Type, type Static } from '@sinclair/typebox';
import { HttpErrorBody } from './http-api';
import { AccountRole, LoginName, MAX_DEVICE_NAME_CHARS } from './identity';
import { AccountId, B64u, B64uFixed, DeviceId, IsoDateTime, Nonce, PublicKey } from './primitives';

const closed = { additionalProperties: false } as const;

/** Protocol version of the pairing messages (`v` of the create request). */
export const PAIRING_PROTOCOL_VERSION = 1;
/** How long a pairing lives on the relay from its creation, whatever happens. */
export const PAIRING_TTL_MS = 10 * 60_000;
/** Longest a `GET …/messages` waits for a message before answering none. */
export const PAIRING_MAX_WAIT_MS = 25_000;
/** Largest request body of a pairing route. */
export const PAIRING_MAX_BODY_BYTES = 8 * 1024;
/** Largest sealed box (nonce ‖ MAC ‖ ciphertext) a pairing message carries. */
export const PAIRING_MAX_BOX_BYTES = 2048;
/** Symbols of a pairing code (Crockford base32: 50 random bits). */
export const PAIRING_CODE_LENGTH = 10;

/** A pairing code as sent: Crockford base32 capitals, no separators. */
export const PAIRING_CODE_PATTERN = `^[0-9A-HJKMNP-TV-Z]{${PAIRING_CODE_LENGTH}}$`;
export const PairingCode = Type.String({ pattern: PAIRING_CODE_PATTERN, description: 'pairing code' });
export type PairingCode = Static<typeof PairingCode>;
const PAIRING_CODE = new RegExp(PAIRING_CODE_PATTERN);

/** A side's bearer token on the relay (32 random bytes). */
export const PairingToken = B64uFixed(32, 'pairing side token');
/** A sealed box as base64url. */
export const PairingBox = B64u(PAIRING_MAX_BOX_BYTES, 'sealed box');

/** The fragment of a pairing link: `<server>/#pair=<code>` (the fragment never reaches a server). */
export const PAIRING_LINK_FRAGMENT = 'pair=';

/**
 * The code as sent, from what a person typed or pasted, or a scanned pairing link: NFKC, blanks and
 * hyphens dropped, capitals raised, `I`/`L` → `1`, `O` → `0`. Null when it is no pairing code.
 */
export function normalizePairingCode(typed: string): string | null {
  if (typeof typed !== 'string' || typed.length > 2048) return null;
  const at = typed.indexOf(`#${PAIRING_LINK_FRAGMENT}`);
  const raw = at >= 0 ? typed.slice(at + 1 + PAIRING_LINK_FRAGMENT.length) : typed;
  const code = raw
    .normalize('NFKC')
    .replace(/[\s-]+/g, '')
    .toUpperCase()
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  return PAIRING_CODE.test(code) ? code : null;
}

/** The code as shown: two groups of five (`K7M3Q-9XDPA`). */
export const formatPairingCode = (code: string): string => `${code.slice(0, 5)}-${code.slice(5)}`;

/** The text of the QR code a new device shows: a link into the web app on `server`. */
export const pairingLink = (server: string, code: string): string =>
  `${server.replace(/\/$/, '')}/#${PAIRING_LINK_FRAGMENT}${code}`;

// ---- relay routes ----

export const HttpPairingCreateRequest = Type.Object(
  {
    v: Type.Literal(PAIRING_PROTOCOL_VERSION),
    /** SHA-256 commitment to the new device's ephemeral key and nonce (`pairingCommit`). */
    commit: B64uFixed(32, 'commitment'),
  },
  closed,
);
export type HttpPairingCreateRequest = Static<typeof HttpPairingCreateRequest>;

export const HttpPairingCreateResponse = Type.Object(
  { code: PairingCode, token: PairingToken, expiresAt: IsoDateTime },
  closed,
);
export type HttpPairingCreateResponse = Static<typeof HttpPairingCreateResponse>;

export const HttpPairingParams = Type.Object({ code: PairingCode }, closed);
export type HttpPairingParams = Static<typeof HttpPairingParams>;

export const HttpPairingClaimResponse = Type.Object(
  { commit: B64uFixed(32, 'commitment'), token: PairingToken, expiresAt: IsoDateTime },
  closed,
);
export type HttpPairingClaimResponse = Static<typeof HttpPairingClaimResponse>;

/** Approver → new device: its ephemeral X25519 key and nonce (sent only once it holds the commitment). */
export const PairingOffer = Type.Object({ t: Type.Literal('offer'), key: PublicKey, nonce: Nonce }, closed);
export type PairingOffer = Static<typeof PairingOffer>;
/** New device → approver: the committed key and nonce, and its name sealed (`PairingNamePayload`). */
export const PairingReveal = Type.Object(
  { t: Type.Literal('reveal'), key: PublicKey, nonce: Nonce, name: PairingBox },
  closed,
);
export type PairingReveal = Static<typeof PairingReveal>;
/** Approver → new device, after the person approved: `PairingRootPayload` sealed. */
export const PairingSealed = Type.Object({ t: Type.Literal('sealed'), box: PairingBox }, closed);
export type PairingSealed = Static<typeof PairingSealed>;
/** New device → approver, once it joined: `PairingDonePayload` sealed. */
export const PairingDone = Type.Object({ t: Type.Literal('done'), box: PairingBox }, closed);
export type PairingDone = Static<typeof PairingDone>;
export const PAIRING_CANCEL_REASONS = ['refused', 'mismatch', 'tampered', 'failed'] as const;
export type PairingCancelReason = (typeof PAIRING_CANCEL_REASONS)[number];
/** Either side: the pairing ends (the person refused, the codes differed, a check failed). */
export const PairingCancel = Type.Object(
  {
    t: Type.Literal('cancel'),
    reason: Type.Union(PAIRING_CANCEL_REASONS.map((r) => Type.Literal(r))),
  },
  closed,
);
export type PairingCancel = Static<typeof PairingCancel>;

export const PairingMessage = Type.Union([
  PairingOffer,
  PairingReveal,
  PairingSealed,
  PairingDone,
  PairingCancel,
]);
export type PairingMessage = Static<typeof PairingMessage>;
export type PairingMessageType = PairingMessage['t'];

export type PairingSide = 'new' | 'approver';
/** Which side sends each message kind, in the order the relay takes them (`cancel`: either, any time). */
export const PAIRING_ORDER: readonly {
  readonly t: Exclude<PairingMessageType, 'cancel'>;
  readonly from: PairingSide;
}[] = [
  { t: 'offer', from: 'approver' },
  { t: 'reveal', from: 'new' },
  { t: 'sealed', from: 'approver' },
  { t: 'done', from: 'new' },
];

export const HttpPairingPostResponse = Type.Object(
  { seq: Type.Integer({ minimum: 1, maximum: 16 }) },
  closed,
);
export type HttpPairingPostResponse = Static<typeof HttpPairingPostResponse>;

export const HttpPairingMessagesQuery = Type.Object(
  {
    /** Answer the other side's messages with a higher `seq` than this. */
    after: Type.Integer({ minimum: 0, maximum: 16 }),
    /** Wait up to this long for one when there is none yet (0: answer at once). */
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: PAIRING_MAX_WAIT_MS })),
  },
  closed,
);
export type HttpPairingMessagesQuery = Static<typeof HttpPairingMessagesQuery>;

export const PairingRelayed = Type.Object(
  { seq: Type.Integer({ minimum: 1, maximum: 16 }), message: PairingMessage },
  closed,
);
export type PairingRelayed = Static<typeof PairingRelayed>;

export const HttpPairingMessagesResponse = Type.Object(
  { messages: Type.Array(PairingRelayed, { maxItems: 8 }), expiresAt: IsoDateTime },
  closed,
);
export type HttpPairingMessagesResponse = Static<typeof HttpPairingMessagesResponse>;

const errorBodies = { '4xx': HttpErrorBody, '5xx': HttpErrorBody } as const;

/**
 * The relay's routes. Kept beside the messages rather than in `HTTP_ROUTES`: the pairing side tokens are
 * not session tokens (`auth: 'pairing'`), and the client reaches them through its own small relay client.
 */
export const PAIRING_ROUTES = {
  create: {
    method: 'POST',
    url: '/v1/pairing',
    auth: false,
    schema: { body: HttpPairingCreateRequest, response: { 201: HttpPairingCreateResponse, ...errorBodies } },
  },
  claim: {
    method: 'POST',
    url: '/v1/pairing/:code/claim',
    auth: false,
    schema: { params: HttpPairingParams, response: { 200: HttpPairingClaimResponse, ...errorBodies } },
  },
  post: {
    method: 'POST',
    url: '/v1/pairing/:code/messages',
    auth: 'pairing',
    schema: {
      params: HttpPairingParams,
      body: PairingMessage,
      response: { 200: HttpPairingPostResponse, ...errorBodies },
    },
  },
  messages: {
    method: 'GET',
    url: '/v1/pairing/:code/messages',
    auth: 'pairing',
    schema: {
      params: HttpPairingParams,
      querystring: HttpPairingMessagesQuery,
      response: { 200: HttpPairingMessagesResponse, ...errorBodies },
    },
  },
} as const;

// ---- sealed payloads (inside the boxes; the relay never sees them) ----

/** Approver → new device: what makes it a device of the account. */
export const PairingRootPayload = Type.Object(
  {
    k: Type.Literal('root'),
    accountId: AccountId,
    /** The account root secret (32 bytes). */
    root: B64uFixed(32, 'account root'),
    role: AccountRole,
    loginName: Type.Union([LoginName, Type.Null()]),
    approverDeviceId: DeviceId,
    approverDeviceName: Type.String({ maxLength: MAX_DEVICE_NAME_CHARS }),
  },
  closed,
);
export type PairingRootPayload = Static<typeof PairingRootPayload>;

/** New device → approver: the name the approver shows before the person approves. */
export const PairingNamePayload = Type.Object(
  { k: Type.Literal('name'), deviceName: Type.String({ minLength: 1, maxLength: MAX_DEVICE_NAME_CHARS }) },
  closed,
);
export type PairingNamePayload = Static<typeof PairingNamePayload>;

/** New device → approver: the device it registered. */
export const PairingDonePayload = Type.Object({ k: Type.Literal('done'), deviceId: DeviceId }, closed);
export type PairingDonePayload = Static<typeof PairingDonePayload>;
