/**
 * Sealed records, blob chunks and revision tags (docs/architecture.md, "Sealed records").
 *
 * Record bytes: 0x01 ‖ keyId(8) ‖ nonce(24) ‖ secretbox(canonicalJson({v:1, s, i, e, r, d})); a record
 * version from `sealRecordVersion` also binds its content tag and deletion flag: {v:1, s, i, e, r, t, x, d}.
 * Neither opens as the other (TAMPERED): `openRecord` refuses a body with t or x, so a tombstone never
 * reads as live data, and `openRecordVersion` requires both.
 * Chunk bytes:  0x01 ‖ keyId(8) ‖ nonce(24) ‖ secretbox(u16be(len) ‖ canonicalJson({v:1, b, c, e}) ‖ bytes).
 * secretbox has no associated data, so the routing context (stream, id, epoch, rev — or blobId,
 * chunkIndex, epoch) is sealed inside and compared on open with what the caller expects: a server
 * that moves, swaps or replays ciphertext is detected. Nonces are 24 random bytes (no counter
 * state to lose across devices). The key id lets a device pick the right epoch key up front.
 *
 * Open checks, in order (each → its code): empty or short → TRUNCATED, first byte ≠ 0x01 →
 * UNSUPPORTED_VERSION, key id ≠ keyId(key) → WRONG_KEY, MAC → TAMPERED, authenticated content
 * malformed → TAMPERED, context differs → CONTEXT_MISMATCH. Only then is data returned.
 * A chunk alone cannot reveal that later chunks were dropped: the chunk count (and a hash of the
 * whole file) must come from the authenticated record that describes the blob.
 * Revision tags, two forms with the same shape `${n}-<24 hex>` (parseRevisionTag reads both):
 *  - ciphertext tag `${n}-${hex(sha256(sealed))[0..24]}`: anyone, the server too, can recompute it;
 *  - content tag `${rv}-${hex(HMAC-SHA256(tagKey, canonicalJson({s, i, r, x, d})))[0..24]}` with
 *    tagKey = HKDF(stream key of the epoch the version is sealed under, "hale/rev/v1"): every holder of
 *    that epoch's key can recompute it from a plaintext state (RxDB's assumed master state); the key
 *    keeps the server from testing guesses, and a grantee shut out by a rotation (who keeps the older
 *    epochs' keys) from testing guesses of versions sealed after it. Epoch 0's tag key is the one every
 *    version was tagged with before tag keys followed the epoch.
 * Bad caller input (key length, context, non-JSON data) throws HaleCryptoError INVALID_INPUT.
 */
import nacl from 'tweetnacl';
import { fail, ok, cryptoError, type CryptoErrorCode, type Result } from './errors';
import {
  base64urlEncode,
  concatBytes,
  constantTimeEqual,
  hexEncode,
  utf8Decode,
  utf8Encode,
} from './encoding';
import { canonicalBytes, canonicalJson, type JsonValue } from './canonical-json';
import { hkdfSha256, hmacSha256, sha256 } from './hash';
import { openSecretbox, sealSecretbox } from './secretbox';
import { assertLength } from './account-keys';
import { assertKeyContext, KEY_ID_LENGTH, keyIdBytes, STREAM_KEY_LENGTH } from './stream-keys';

export const SEALED_RECORD_VERSION = 1;
const HEADER = 1 + KEY_ID_LENGTH + nacl.secretbox.nonceLength;
/** Fixed bytes added to every sealed record or chunk (header + MAC). */
export const SEALED_OVERHEAD = HEADER + nacl.secretbox.overheadLength;
/** Recommended blob chunk size; each chunk is sealed and sent on its own. */
export const BLOB_CHUNK_SIZE = 1024 * 1024;
export const MAX_BLOB_SIZE = 100 * 1024 * 1024;

export interface RecordContext {
  readonly stream: string;
  readonly id: string;
  readonly epoch: number;
  readonly rev: number;
}

export interface BlobChunkContext {
  readonly blobId: string;
  readonly chunkIndex: number;
  readonly epoch: number;
}

function assertRecordContext(ctx: RecordContext): void {
  assertKeyContext(ctx);
  if (typeof ctx.id !== 'string' || ctx.id.length === 0)
    throw cryptoError('INVALID_INPUT', 'context: bad id');
  if (!Number.isSafeInteger(ctx.rev) || ctx.rev < 0) throw cryptoError('INVALID_INPUT', 'context: bad rev');
}

function assertChunkContext(ctx: BlobChunkContext): void {
  if (typeof ctx !== 'object' || ctx === null) throw cryptoError('INVALID_INPUT', 'context required');
  if (typeof ctx.blobId !== 'string' || ctx.blobId.length === 0)
    throw cryptoError('INVALID_INPUT', 'context: bad blobId');
  if (!Number.isSafeInteger(ctx.chunkIndex) || ctx.chunkIndex < 0) {
    throw cryptoError('INVALID_INPUT', 'context: bad chunkIndex');
  }
  if (!Number.isSafeInteger(ctx.epoch) || ctx.epoch < 0)
    throw cryptoError('INVALID_INPUT', 'context: bad epoch');
}

/**
 * `0x01 ‖ keyId(key)` per key array, remembered by identity: a key id is a SHA-256 (about a tenth of
 * sealing or opening a 1 KB record, measured) and a batch seals or opens many records under one key.
 * Holds only the public key id, never key bytes, and lets go with the key array. Assumes a key array is
 * not changed in place once used, which holds here: stream keys are fresh arrays (generateStreamKey,
 * deriveInitialStreamKey, unwrapKey) that nothing zeroes or rewrites. An array rewritten with another
 * key would keep its first key id: seals would name the wrong key, and opens fail TAMPERED, not WRONG_KEY.
 */
const headers = new WeakMap<Uint8Array, Uint8Array>();

/** Callers have checked the key's length. Never hand the answer out: it is shared. */
function headerFor(key: Uint8Array): Uint8Array {
  let header = headers.get(key);
  if (header === undefined) {
    header = new Uint8Array(1 + KEY_ID_LENGTH);
    header[0] = SEALED_RECORD_VERSION;
    header.set(keyIdBytes(key), 1);
    headers.set(key, header);
  }
  return header;
}

function seal(key: Uint8Array, plaintext: Uint8Array | string): Uint8Array {
  return sealSecretbox(headerFor(key), key, plaintext);
}

/**
 * The failures of opening a sealed record or chunk (`what`) that `openRecordVersion` can answer, each code
 * and text written once here: `open`, `openRecord`, `openRecordVersion` and `openBytes` answer them, and
 * `recordVersionOpenFailures` lists them. (`sealedKeyId`, and a few checks of `openRecord` and `openBytes`
 * that `openRecordVersion` never meets, still word their own.)
 */
const openFailure = {
  notBytes: (what: string) => fail('INVALID_INPUT', `${what}: bytes required`),
  empty: (what: string) => fail('TRUNCATED', `${what}: empty`),
  version: (what: string, version: number) =>
    fail('UNSUPPORTED_VERSION', `${what}: version ${version} not supported`),
  short: (what: string) => fail('TRUNCATED', `${what}: too short`),
  otherKey: (what: string) => fail('WRONG_KEY', `${what}: sealed under another key`),
  forged: (what: string) => fail('TAMPERED', `${what}: authentication failed`),
  malformed: (what: string) => fail('TAMPERED', `${what}: malformed content`),
  /** `fields`: those of a record's context that differ, in RECORD_CONTEXT_FIELDS order. */
  recordContext: (fields: ReadonlyArray<(typeof RECORD_CONTEXT_FIELDS)[number]>) =>
    fail('CONTEXT_MISMATCH', `sealed record: ${fields.join(', ')} differ from the expected context`),
};

function open(key: Uint8Array, sealed: Uint8Array, what: string): Result<Uint8Array> {
  assertLength(key, STREAM_KEY_LENGTH, 'stream key');
  if (!(sealed instanceof Uint8Array)) return openFailure.notBytes(what);
  if (sealed.length === 0) return openFailure.empty(what);
  if (sealed[0] !== SEALED_RECORD_VERSION) return openFailure.version(what, sealed[0]!);
  if (sealed.length < SEALED_OVERHEAD) return openFailure.short(what);
  if (!constantTimeEqual(sealed.subarray(1, 1 + KEY_ID_LENGTH), headerFor(key).subarray(1))) {
    return openFailure.otherKey(what);
  }
  const plaintext = openSecretbox(key, sealed.subarray(1 + KEY_ID_LENGTH, HEADER), sealed.subarray(HEADER));
  return plaintext === null ? openFailure.forged(what) : ok(plaintext);
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  const text = utf8Decode(bytes);
  if (!text.ok) return undefined;
  try {
    const v: unknown = JSON.parse(text.value);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Key id (base64url) a sealed record or chunk claims, to choose the epoch key before opening. */
export function sealedKeyId(sealed: Uint8Array): Result<string> {
  if (!(sealed instanceof Uint8Array)) return fail('INVALID_INPUT', 'sealed: bytes required');
  if (sealed.length === 0) return fail('TRUNCATED', 'sealed: empty');
  if (sealed[0] !== SEALED_RECORD_VERSION)
    return fail('UNSUPPORTED_VERSION', 'sealed: version not supported');
  if (sealed.length < SEALED_OVERHEAD) return fail('TRUNCATED', 'sealed: too short');
  return ok(base64urlEncode(sealed.subarray(1, 1 + KEY_ID_LENGTH)));
}

/** The fields a record's context binds, in the order a CONTEXT_MISMATCH names them. */
const RECORD_CONTEXT_FIELDS = ['stream', 'id', 'epoch', 'rev'] as const;

/** The CONTEXT_MISMATCH failure naming what differs between a sealed body and the expected context. */
function contextMismatch(body: Record<string, unknown>, expected: RecordContext): Result<never> | null {
  const bound = { stream: body['s'], id: body['i'], epoch: body['e'], rev: body['r'] };
  const differs = RECORD_CONTEXT_FIELDS.filter((field) => bound[field] !== expected[field]);
  return differs.length === 0 ? null : openFailure.recordContext(differs);
}

let versionOpenFailures: ReadonlyMap<string, CryptoErrorCode> | undefined;

/**
 * Every failure `openRecordVersion` answers (not what it throws for bad caller input), message to code:
 * the `openFailure`s of a sealed record for each value they can name (every version byte but
 * SEALED_RECORD_VERSION, every set of context fields that can differ). For a caller that takes such a
 * message from elsewhere (another thread's answer, which could quote anything) only when it is one of
 * these. Made once, on first use.
 */
export function recordVersionOpenFailures(): ReadonlyMap<string, CryptoErrorCode> {
  if (versionOpenFailures !== undefined) return versionOpenFailures;
  const what = 'sealed record';
  const failures = [
    openFailure.notBytes(what),
    openFailure.empty(what),
    ...Array.from({ length: 256 }, (_, version) => version)
      .filter((version) => version !== SEALED_RECORD_VERSION)
      .map((version) => openFailure.version(what, version)),
    openFailure.short(what),
    openFailure.otherKey(what),
    openFailure.forged(what),
    openFailure.malformed(what),
    // Each non-empty subset of the fields, in their order: bit n of `set` is field n.
    ...Array.from({ length: (1 << RECORD_CONTEXT_FIELDS.length) - 1 }, (_, n) => n + 1).map((set) =>
      openFailure.recordContext(RECORD_CONTEXT_FIELDS.filter((_, n) => (set & (1 << n)) !== 0)),
    ),
  ];
  versionOpenFailures = new Map(
    failures.flatMap((f): Array<[string, CryptoErrorCode]> =>
      f.ok ? [] : [[f.error.message, f.error.code]],
    ),
  );
  return versionOpenFailures;
}

export function sealRecord(key: Uint8Array, ctx: RecordContext, data: unknown): Uint8Array {
  assertLength(key, STREAM_KEY_LENGTH, 'stream key');
  assertRecordContext(ctx);
  return seal(key, canonicalBytes({ v: 1, s: ctx.stream, i: ctx.id, e: ctx.epoch, r: ctx.rev, d: data }));
}

export function openRecord(key: Uint8Array, sealed: Uint8Array, expected: RecordContext): Result<JsonValue> {
  assertRecordContext(expected);
  const plaintext = open(key, sealed, 'sealed record');
  if (!plaintext.ok) return plaintext;
  const body = parseObject(plaintext.value);
  if (body === undefined || body['v'] !== 1 || !('d' in body)) {
    return openFailure.malformed('sealed record');
  }
  // A record version's body is this one plus t and x: opened here it would lose its deletion flag.
  if ('t' in body || 'x' in body) {
    return fail('TAMPERED', 'sealed record: a record version (openRecordVersion opens it)');
  }
  const mismatch = contextMismatch(body, expected);
  if (mismatch) return mismatch;
  return ok(body['d'] as JsonValue);
}

export function sealBytes(key: Uint8Array, ctx: BlobChunkContext, bytes: Uint8Array): Uint8Array {
  assertLength(key, STREAM_KEY_LENGTH, 'stream key');
  assertChunkContext(ctx);
  if (!(bytes instanceof Uint8Array)) throw cryptoError('INVALID_INPUT', 'sealBytes: bytes required');
  const header = canonicalBytes({ v: 1, b: ctx.blobId, c: ctx.chunkIndex, e: ctx.epoch });
  if (header.length > 0xffff) throw cryptoError('INVALID_INPUT', 'sealBytes: blobId too long');
  return seal(key, concatBytes(Uint8Array.of(header.length >>> 8, header.length & 0xff), header, bytes));
}

export function openBytes(key: Uint8Array, ctx: BlobChunkContext, sealed: Uint8Array): Result<Uint8Array> {
  assertChunkContext(ctx);
  const plaintext = open(key, sealed, 'sealed chunk');
  if (!plaintext.ok) return plaintext;
  const p = plaintext.value;
  const headerLength = p.length >= 2 ? (p[0]! << 8) | p[1]! : Infinity;
  const header = headerLength + 2 <= p.length ? parseObject(p.subarray(2, 2 + headerLength)) : undefined;
  if (header === undefined || header['v'] !== 1) return openFailure.malformed('sealed chunk');
  if (header['b'] !== ctx.blobId || header['c'] !== ctx.chunkIndex || header['e'] !== ctx.epoch) {
    return fail(
      'CONTEXT_MISMATCH',
      'sealed chunk: blobId, chunkIndex or epoch differ from the expected context',
    );
  }
  return ok(p.subarray(2 + headerLength));
}

/** Number of BLOB_CHUNK_SIZE chunks for a blob of `size` bytes (an empty blob is one empty chunk). */
export function blobChunkCount(size: number, chunkSize: number = BLOB_CHUNK_SIZE): number {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_BLOB_SIZE) {
    throw cryptoError('INVALID_INPUT', `blob size must be 0…${MAX_BLOB_SIZE} bytes`);
  }
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw cryptoError('INVALID_INPUT', 'bad chunk size');
  return Math.max(1, Math.ceil(size / chunkSize));
}

export interface RevisionTag {
  readonly n: number;
  /** 24 lowercase hex characters of sha256(sealed) */
  readonly hash: string;
}

const TAG = /^(0|[1-9][0-9]{0,15})-([0-9a-f]{24})$/;

/** The hash part of both tag forms: the first 24 hex digits (12 bytes) of a digest. */
const tagHash = (digest: Uint8Array): string => hexEncode(digest.subarray(0, 12));

/** `${n}-${hash}`: the one shape of both tag forms (TAG, and so parseRevisionTag, reads it back). */
const formatTag = (n: number, hash: string): string => `${n}-${hash}`;

export function revisionTag(n: number, sealed: Uint8Array): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw cryptoError('INVALID_INPUT', 'revision number must be a non-negative integer');
  return formatTag(n, tagHash(sha256(sealed)));
}

export function parseRevisionTag(tag: string): Result<RevisionTag> {
  const m = typeof tag === 'string' ? TAG.exec(tag) : null;
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n)) return fail('BAD_ENCODING', 'revision tag: expected <n>-<24 hex>');
  return ok({ n, hash: m[2]! });
}

export interface RecordState {
  readonly stream: string;
  readonly id: string;
  readonly rev: number;
  readonly deleted: boolean;
  readonly data: unknown;
}

/**
 * Tag key of one epoch of a stream: HKDF-SHA256(that epoch's stream key, info "hale/rev/v1"). A version
 * sealed under an epoch's key is tagged with that epoch's tag key (the writer seals and tags with the
 * same epoch; readers and the assumed master state's tag use the version's epoch).
 */
export function deriveRevisionTagKey(streamKey: Uint8Array): Uint8Array {
  assertLength(streamKey, STREAM_KEY_LENGTH, 'stream key');
  return hkdfSha256(streamKey, 'hale/rev/v1');
}

/**
 * The members of a content tag body, d, i and s already as canonical JSON text; r a checked
 * non-negative safe integer and x a boolean (whose JS text is their canonical JSON text).
 */
interface CanonicalParts {
  readonly d: string;
  readonly i: string;
  readonly r: number;
  readonly s: string;
  readonly x: boolean;
}

/**
 * Hash part of a content tag, the one place its body is made: HMAC-SHA256(tagKey, canonicalJson({s, i,
 * r, x, d})). The body is assembled from canonical parts with the keys in sorted order, which is
 * byte-identical to canonicalJson of the object, so `sealRecordVersion` serialises `data` only once.
 */
function contentTagHash(tagKey: Uint8Array, p: CanonicalParts): string {
  return tagHash(hmacSha256(tagKey, utf8Encode(`{"d":${p.d},"i":${p.i},"r":${p.r},"s":${p.s},"x":${p.x}}`)));
}

function contentHash(tagKey: Uint8Array, state: RecordState): string {
  assertLength(tagKey, 32, 'revision tag key');
  if (typeof state !== 'object' || state === null)
    throw cryptoError('INVALID_INPUT', 'record state required');
  if (!Number.isSafeInteger(state.rev) || state.rev < 0) {
    throw cryptoError('INVALID_INPUT', 'revision number must be a non-negative integer');
  }
  if (typeof state.deleted !== 'boolean') throw cryptoError('INVALID_INPUT', 'deleted must be a boolean');
  // Serialised in sorted key order (d, i, s), as canonicalJson of the whole body would check them.
  const d = canonicalJson(state.data);
  const i = canonicalJson(state.id);
  const s = canonicalJson(state.stream);
  return contentTagHash(tagKey, { d, i, r: state.rev, s, x: state.deleted });
}

/** Keyed tag of a plaintext record state: `${rev}-${hex(HMAC(tagKey, canonicalJson({s,i,r,x,d})))[0..24]}`. */
export function contentRevisionTag(tagKey: Uint8Array, state: RecordState): string {
  return formatTag(state.rev, contentHash(tagKey, state));
}

/** Checks a content tag against a plaintext state (e.g. a pulled, opened record); returns its rev. */
export function checkContentRevisionTag(tagKey: Uint8Array, tag: string, state: RecordState): Result<number> {
  const parsed = parseRevisionTag(tag);
  if (!parsed.ok) return parsed;
  if (parsed.value.n !== state.rev) return fail('CONTEXT_MISMATCH', 'revision tag: names another revision');
  const expected = utf8Encode(contentHash(tagKey, state));
  if (!constantTimeEqual(expected, utf8Encode(parsed.value.hash))) {
    return fail('TAMPERED', 'revision tag: does not match the record content');
  }
  return ok(parsed.value.n);
}

export interface VersionContext extends RecordContext {
  readonly deleted: boolean;
}

export interface SealedVersion {
  readonly sealed: Uint8Array;
  /** `contentRevisionTag(tagKey, {stream, id, rev, deleted, data})`, also bound inside `sealed`. */
  readonly tag: string;
}

export interface OpenedVersion {
  readonly data: JsonValue;
  /** The content tag the writer bound into the ciphertext. */
  readonly tag: string;
  /** The deletion flag the writer bound into the ciphertext. */
  readonly deleted: boolean;
}

/**
 * Seals one version of a record and computes its content tag from a single canonical form of `data`:
 * plaintext = canonicalJson({v:1, s, i, e, r, t: tag, x: deleted, d}). `tagKey` is the tag key of
 * `ctx.epoch` (`deriveRevisionTagKey(key)`). Binding the tag and the deletion flag inside lets a reader
 * check the clear tag against the ciphertext without recomputing the HMAC; that binds them to the stream
 * key only, which every holder of the key can seal anything under. Where the tag stands for an author's
 * signature, the reader recomputes it from the opened content (`checkContentRevisionTag`).
 */
export function sealRecordVersion(
  key: Uint8Array,
  tagKey: Uint8Array,
  ctx: VersionContext,
  data: unknown,
): SealedVersion {
  assertLength(key, STREAM_KEY_LENGTH, 'stream key');
  assertLength(tagKey, 32, 'revision tag key');
  assertRecordContext(ctx);
  if (typeof ctx.deleted !== 'boolean') throw cryptoError('INVALID_INPUT', 'deleted must be a boolean');
  const p: CanonicalParts = {
    d: canonicalJson(data),
    i: canonicalJson(ctx.id),
    r: ctx.rev,
    s: canonicalJson(ctx.stream),
    x: ctx.deleted,
  };
  const tag = formatTag(p.r, contentTagHash(tagKey, p));
  // canonicalJson({v:1, s, i, e, r, t, x, d}), keys in sorted order; a tag's text needs no JSON escaping.
  const plaintext = `{"d":${p.d},"e":${ctx.epoch},"i":${p.i},"r":${p.r},"s":${p.s},"t":"${tag}","v":1,"x":${p.x}}`;
  return { sealed: seal(key, plaintext), tag };
}

/** Opens a `sealRecordVersion` ciphertext; checks stream, id, epoch and rev like `openRecord`. */
export function openRecordVersion(
  key: Uint8Array,
  sealed: Uint8Array,
  expected: RecordContext,
): Result<OpenedVersion> {
  assertRecordContext(expected);
  const plaintext = open(key, sealed, 'sealed record');
  if (!plaintext.ok) return plaintext;
  const body = parseObject(plaintext.value);
  if (
    body === undefined ||
    body['v'] !== 1 ||
    !('d' in body) ||
    typeof body['t'] !== 'string' ||
    typeof body['x'] !== 'boolean'
  ) {
    return openFailure.malformed('sealed record');
  }
  const mismatch = contextMismatch(body, expected);
  if (mismatch) return mismatch;
  return ok({ data: body['d'] as JsonValue, tag: body['t'], deleted: body['x'] });
}

/** Checks that `tag` names exactly these ciphertext bytes; returns its revision number. */
export function checkRevisionTag(tag: string, sealed: Uint8Array): Result<number> {
  const parsed = parseRevisionTag(tag);
  if (!parsed.ok) return parsed;
  if (tagHash(sha256(sealed)) !== parsed.value.hash) {
    return fail('TAMPERED', 'revision tag: does not match the ciphertext');
  }
  return ok(parsed.value.n);
}
