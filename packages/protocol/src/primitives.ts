/**
 * Primitive wire types: identifiers, base64url strings, revision tags, sequence numbers, timestamps.
 *
 * Invariants: every pattern is anchored and linear-time (no quantified group that can match one text
 * in two ways), so checking an attacker-sized string cannot backtrack far; every string has a
 * maxLength. Timestamps are exactly the form `Date.prototype.toISOString` produces (UTC, milliseconds), so
 * equal instants are equal strings and string order is time order — signed objects never depend on how a
 * timestamp was formatted.
 */
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox';
import { STREAM_TYPES, isStreamType, type StreamType } from '@hale/model';
import { err, ok, type Result } from './result';
import { protocolError, ProtocolError, type HaleProtocolError } from './errors';

export const ID22_PATTERN = '^[A-Za-z0-9_-]{22}$';
export const ULID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$';
export const REV_TAG_PATTERN = '^[1-9][0-9]{0,9}-[0-9a-f]{24}$';
const B64U_CHAR = '[A-Za-z0-9_-]';
/**
 * The last character of a text that ends with a partial group, by how many characters that group has:
 * after 2 (one byte), its low 4 bits must be 0; after 3 (two bytes), its low 2 bits. A set bit there is
 * a second spelling of the same bytes, which @hale/crypto's `base64urlDecode` refuses (BAD_ENCODING): the
 * schemas refuse it too, so nothing is accepted and stored that no device can decode.
 */
const B64U_LAST_OF_2 = '[AQgw]';
const B64U_LAST_OF_3 = '[AEIMQUYcgkosw048]';
const B64U_GROUP = B64U_CHAR.repeat(4);
/**
 * Canonical unpadded base64url, exactly what `base64urlDecode` accepts: whole groups of 4, then nothing,
 * 2 or 3 characters (never 1) ending in a character whose unused bits are 0. Linear: the loop body has a
 * fixed length and the tail at most 3 characters, so a failing match gives back one group per step, each
 * tried in constant time. The group is written out, not `[…]{4}`: V8 runs a loop over fixed-length text
 * without a backtrack entry per turn, while `(?:[…]{4})*` took one each and overflowed the stack
 * (RangeError) on 5.6 million characters, less than a frame holds.
 */
export const B64U_PATTERN = `^(?:${B64U_GROUP})*(?:${B64U_CHAR}${B64U_CHAR}${B64U_LAST_OF_3}|${B64U_CHAR}${B64U_LAST_OF_2})?$`;
export const ISO_DATE_TIME_PATTERN =
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}Z$';
export const STREAM_ID_PATTERN = `^[A-Za-z0-9_-]{22}/(${STREAM_TYPES.join('|')})$`;

const id22 = new RegExp(ID22_PATTERN);
const ulid = new RegExp(ULID_PATTERN);
const revTag = new RegExp(REV_TAG_PATTERN);
const b64u = new RegExp(B64U_PATTERN);
const isoDateTime = new RegExp(ISO_DATE_TIME_PATTERN);

/** Characters of unpadded base64url needed for `bytes` bytes. */
export const b64uLength = (bytes: number): number => Math.ceil((bytes * 4) / 3);

/** Bytes that an unpadded base64url string decodes to, or null when its length is impossible. */
export function b64uDecodedLength(text: string): number | null {
  if (text.length % 4 === 1) return null;
  return Math.floor((text.length * 3) / 4);
}

/** Canonical unpadded base64url (B64U_PATTERN): what `base64urlDecode` accepts. */
export const isB64u = (value: unknown): value is string => typeof value === 'string' && b64u.test(value);

/** Canonical unpadded base64url of at most `maxBytes` decoded bytes. */
export const B64u = (maxBytes: number, description?: string) =>
  Type.String({
    pattern: B64U_PATTERN,
    maxLength: b64uLength(maxBytes),
    ...(description === undefined ? {} : { description }),
  });

/** The pattern of canonical base64url of exactly `bytes` bytes: its last character as B64U_PATTERN's. */
function b64uFixedPattern(bytes: number): string {
  const length = b64uLength(bytes);
  if (length === 0) return '^$';
  const last = bytes % 3 === 1 ? B64U_LAST_OF_2 : bytes % 3 === 2 ? B64U_LAST_OF_3 : B64U_CHAR;
  return `^${B64U_CHAR}{${length - 1}}${last}$`;
}

/** Canonical unpadded base64url of exactly `bytes` decoded bytes. */
export const B64uFixed = (bytes: number, description?: string) =>
  Type.String({
    pattern: b64uFixedPattern(bytes),
    ...(description === undefined ? {} : { description }),
  });

export const AccountId = Type.String({
  pattern: ID22_PATTERN,
  description: 'account id (22 base64url chars)',
});
export type AccountId = Static<typeof AccountId>;
export const DeviceId = Type.String({ pattern: ID22_PATTERN, description: 'device id (22 base64url chars)' });
export type DeviceId = Static<typeof DeviceId>;
/** The sync server's own id, derived from its signing key like an account id. */
export const ServerId = Type.String({ pattern: ID22_PATTERN, description: 'server id (22 base64url chars)' });
export type ServerId = Static<typeof ServerId>;
export const RecordId = Type.String({ pattern: ULID_PATTERN, description: 'ULID' });
export type RecordId = Static<typeof RecordId>;
export const RevTag = Type.String({ pattern: REV_TAG_PATTERN, description: 'revision tag `${n}-${hex24}`' });
export type RevTag = Static<typeof RevTag>;
export const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export type Seq = Static<typeof Seq>;
export const Epoch = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export type Epoch = Static<typeof Epoch>;
/**
 * How many times the account's root has been re-wrapped: 0 for the wrap registered with the account
 * (signed inside the account record), n for the n-th change (signed with `wrappedRootSignaturePayload`).
 * Served over HTTP with the wrap itself and, from protocol version 2, on the sync socket (`ready`,
 * `wrappedRootChanged`).
 */
export const WrappedRootGen = Type.Integer({ minimum: 0, maximum: 2_147_483_647 });
export type WrappedRootGen = Static<typeof WrappedRootGen>;
/** Client request id, echoed in the reply. */
export const Rid = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export type Rid = Static<typeof Rid>;
export const IsoDateTime = Type.String({
  pattern: ISO_DATE_TIME_PATTERN,
  description: 'UTC timestamp as Date.prototype.toISOString writes it',
});
export type IsoDateTime = Static<typeof IsoDateTime>;
export const PublicKey = B64uFixed(32, '32-byte public key');
export const Signature = B64uFixed(64, 'Ed25519 signature');
export const Nonce = B64uFixed(32, '32-byte random nonce');
/** An error code on the wire: a string, so codes appended by a newer peer still decode. */
export const WireErrorCode = Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$' });

const streamTypeLiterals: TLiteral<StreamType>[] = STREAM_TYPES.map((type) => Type.Literal(type));
export const StreamTypeSchema: TUnion<TLiteral<StreamType>[]> = Type.Union(streamTypeLiterals);

/** Stream types a grant may name: every type but `audit`, which only the patient reads. */
export type GrantableStreamType = Exclude<StreamType, 'audit'>;
export const GRANTABLE_STREAM_TYPES: readonly GrantableStreamType[] = STREAM_TYPES.filter(
  (type): type is GrantableStreamType => type !== 'audit',
);
export const GrantableStreamType: TUnion<TLiteral<GrantableStreamType>[]> = Type.Union(
  GRANTABLE_STREAM_TYPES.map((type) => Type.Literal(type)),
);

export type StreamId = `${string}/${StreamType}`;
export const StreamId = Type.Unsafe<StreamId>(
  Type.String({ pattern: STREAM_ID_PATTERN, description: '`${patientAccountId}/${streamType}`' }),
);

export const isAccountId = (value: unknown): value is AccountId =>
  typeof value === 'string' && id22.test(value);
export const isDeviceId = (value: unknown): value is DeviceId =>
  typeof value === 'string' && id22.test(value);
export const isRecordId = (value: unknown): value is RecordId =>
  typeof value === 'string' && ulid.test(value);
export const isRevTag = (value: unknown): value is RevTag => typeof value === 'string' && revTag.test(value);
export const isIsoDateTime = (value: unknown): value is IsoDateTime =>
  typeof value === 'string' && isoDateTime.test(value) && parseIsoDateTime(value) !== null;

export interface ParsedStreamId {
  readonly patientId: AccountId;
  readonly type: StreamType;
}

export function parseStreamId(value: unknown): Result<ParsedStreamId, HaleProtocolError> {
  if (typeof value !== 'string') return err(protocolError('BAD_MESSAGE', 'stream id must be a string'));
  const slash = value.indexOf('/');
  const patientId = value.slice(0, slash);
  const type = value.slice(slash + 1);
  if (slash < 0 || !isAccountId(patientId) || !isStreamType(type)) {
    return err(protocolError('BAD_MESSAGE', 'stream id must be `${accountId}/${streamType}`'));
  }
  return ok({ patientId, type });
}

export const isStreamId = (value: unknown): value is StreamId => parseStreamId(value).ok;

/** Builds a stream id; throws ProtocolError(BAD_MESSAGE) for a malformed account id or type (a caller bug). */
export function streamId(patientId: AccountId, type: StreamType): StreamId {
  if (!isAccountId(patientId) || !isStreamType(type)) {
    throw new ProtocolError(
      protocolError('BAD_MESSAGE', 'streamId needs a 22-char account id and a stream type'),
    );
  }
  return `${patientId}/${type}`;
}

export interface ParsedRevTag {
  /** Write counter: 1 for the first write of a record, +1 per write. */
  readonly n: number;
  readonly hash: string;
}

export function parseRevTag(value: unknown): ParsedRevTag | null {
  if (!isRevTag(value)) return null;
  const dash = value.indexOf('-');
  return { n: Number(value.slice(0, dash)), hash: value.slice(dash + 1) };
}

/** Milliseconds since the epoch of a wire timestamp, or null if it is not one (or not a real date). */
export function parseIsoDateTime(value: string): number | null {
  if (!isoDateTime.test(value)) return null;
  const ms = Date.parse(value);
  // Date.parse rolls 2023-02-30 over to March; a round trip catches it.
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== value) return null;
  return ms;
}

export const toIsoDateTime = (ms: number): IsoDateTime => new Date(ms).toISOString();
