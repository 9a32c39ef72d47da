/**
 * Stream keys and key envelopes (anonymous sealed boxes to an X25519 key).
 *
 * Envelope bytes: 0x01 ‖ ephemeralPublicKey(32) ‖ nonce(24) ‖ nacl.box(plaintext), sent as base64url.
 * A fresh ephemeral key pair per envelope means the sender is anonymous and the box key is never
 * reused. The nonce is 16 random bytes ‖ an 8-byte recipient tag (sha256("hale/recipient/v1" ‖
 * recipientPublicKey)[0..8]) so a device can tell "not for me" (WRONG_KEY) from "modified"
 * (TAMPERED). The plaintext canonicalJson({v:1, s:stream, e:epoch, kid, k}) binds the key to its
 * stream and epoch and carries its key id, which is re-checked on open. Only the canonical
 * encoding of the ephemeral key is accepted, so no byte of an envelope can change unnoticed.
 *
 * Invariants: a key is only ever released by unwrapKey when the box MAC verifies AND the bound
 * stream/epoch equal what the caller expects. Not provided: sender authentication — anyone who
 * knows a recipient's public key can make a valid envelope, so who minted a key must be proven
 * by a signature at the protocol layer. The recipient tag links envelopes to a recipient key
 * (the server knows its recipients anyway).
 * Sealing and opening take their X25519 operations (ephemeral public key, shared secret) from an
 * injectable `X25519` (the last parameter of `sealTo`, `openSealed`, `wrapKey`, `unwrapKey` and of the
 * sealed texts built on them, or `createSealTo`): tweetnacl by default, node:crypto in Node hosts
 * (`@hale/crypto/node`, ≈7× faster to seal, ≈2× to open). The box key is HSalsa20(X25519(esk, rpk)) as
 * nacl.box.before computes it, so every implementation writes the same format and opens the same boxes.
 * Low-order recipient keys: X25519 with one gives the all-zero shared secret for any ephemeral key,
 * i.e. a box key everyone knows. tweetnacl computes and uses it silently; libsodium and OpenSSL refuse.
 * The sealer refuses it whatever the implementation (INVALID_INPUT), so switching implementations never
 * changes which recipient keys are accepted. No honest key pair has such a public key.
 * The key's text never becomes a JS string, which cannot be zeroed and stays in the heap until collected:
 * wrapKey writes the key's base64url into the canonical plaintext as bytes, unwrapKey decodes it from the
 * opened bytes where canonical JSON puts the k member (right after e; a plaintext laid out otherwise is
 * TAMPERED, as wrapKey never writes one) and overwrites it before the rest is parsed as text; both zero
 * the plaintext. Not covered: the padded copy of the plaintext nacl.box makes when sealing (unreachable,
 * left to the collector), and the returned key, which its caller owns.
 * Failure modes (Result): BAD_ENCODING, UNSUPPORTED_VERSION (first byte), TRUNCATED (shorter than
 * the fixed overhead), WRONG_KEY (recipient tag differs), TAMPERED (MAC or authenticated content
 * malformed), CONTEXT_MISMATCH (stream or epoch differ). Bad caller input throws INVALID_INPUT
 * (also a low-order recipient key).
 */
import nacl from 'tweetnacl';
import { fail, ok, cryptoError, type Result } from './errors';
import {
  base64urlDecode,
  base64urlDecodeAscii,
  base64urlEncode,
  base64urlEncodeAscii,
  concatBytes,
  constantTimeEqual,
  isAllZero,
  utf8Decode,
  utf8Encode,
} from './encoding';
import { canonicalBytes } from './canonical-json';
import { hkdfSha256, labeledSha256 } from './hash';
import { ROOT_SECRET_LENGTH } from './root';
import { randomBytes } from './random';
import { openSecretbox } from './secretbox';
import { assertLength, type BoxKeyPair } from './account-keys';

export const STREAM_KEY_LENGTH = 32;
export const KEY_ID_LENGTH = 8;
export const SEALED_BOX_VERSION = 1;
/** version + ephemeral key + nonce + MAC */
export const SEALED_BOX_OVERHEAD = 1 + 32 + 24 + nacl.box.overheadLength;

export interface KeyContext {
  readonly stream: string;
  readonly epoch: number;
}

export function generateStreamKey(): Uint8Array {
  return randomBytes(STREAM_KEY_LENGTH);
}

/**
 * Epoch-0 key of a patient stream, derived so that offline devices of one patient agree on it
 * without minting: HKDF-SHA256(root, info "hale/stream/v1|" + streamId). Later epochs are derived by the
 * patient device that mints them (see `rotationKey` in @hale/client's keyring); `generateStreamKey` stays for
 * keys that are not stream epochs.
 */
export function deriveInitialStreamKey(root: Uint8Array, streamId: string): Uint8Array {
  assertLength(root, ROOT_SECRET_LENGTH, 'root secret');
  if (typeof streamId !== 'string' || streamId.length === 0) {
    throw cryptoError('INVALID_INPUT', 'deriveInitialStreamKey: streamId must be a non-empty string');
  }
  return hkdfSha256(root, `hale/stream/v1|${streamId}`, STREAM_KEY_LENGTH);
}

export function keyIdBytes(key: Uint8Array): Uint8Array {
  assertLength(key, STREAM_KEY_LENGTH, 'stream key');
  return labeledSha256('hale/keyid/v1', key).slice(0, KEY_ID_LENGTH);
}

/** Public identifier of a stream key: base64url of 8 bytes of sha256("hale/keyid/v1" ‖ key). */
export const keyId = (key: Uint8Array): string => base64urlEncode(keyIdBytes(key));

/**
 * X25519 ignores the top bit of a public key and reduces u mod p, so several encodings name the
 * same point; accepting only the canonical one (what sealTo writes) keeps envelopes unmalleable.
 */
function isCanonicalX25519(publicKey: Uint8Array): boolean {
  if (publicKey[31]! & 0x80) return false;
  // u ≥ p = 2^255 − 19 ⇔ bytes 31..1 = 7f ff … ff and byte 0 ≥ 0xed.
  if (publicKey[31] !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (publicKey[i] !== 0xff) return true;
  return publicKey[0]! < 0xed;
}

const recipientTag = (publicKey: Uint8Array): Uint8Array =>
  labeledSha256('hale/recipient/v1', publicKey).slice(0, 8);

export function assertKeyContext(ctx: KeyContext): void {
  if (typeof ctx !== 'object' || ctx === null) throw cryptoError('INVALID_INPUT', 'context required');
  if (typeof ctx.stream !== 'string' || ctx.stream.length === 0) {
    throw cryptoError('INVALID_INPUT', 'context: stream must be a non-empty string');
  }
  if (!Number.isSafeInteger(ctx.epoch) || ctx.epoch < 0) {
    throw cryptoError('INVALID_INPUT', 'context: epoch must be a non-negative integer');
  }
}

/**
 * X25519 (RFC 7748) as a host provides it, on 32-byte strings: secret keys are clamped, a public key's
 * top bit is ignored and u is reduced mod p, as tweetnacl's scalarMult does. `sharedSecret` returns the
 * raw output, all-zero included (a low-order public key); refusing that is the sealer's job.
 */
export interface X25519 {
  readonly name: string;
  readonly publicKey: (secretKey: Uint8Array) => Uint8Array;
  readonly sharedSecret: (secretKey: Uint8Array, publicKey: Uint8Array) => Uint8Array;
}

export const tweetnaclX25519: X25519 = {
  name: 'tweetnacl',
  publicKey: (secretKey) => nacl.scalarMult.base(secretKey),
  sharedSecret: (secretKey, publicKey) => nacl.scalarMult(secretKey, publicKey),
};

export type SealTo = (recipientPublicKey: Uint8Array, plaintext: Uint8Array) => Uint8Array;

type HSalsa20 = (out: Uint8Array, inp: Uint8Array, k: Uint8Array, c: Uint8Array) => number;

const isHSalsa20 = (f: unknown): f is HSalsa20 => typeof f === 'function' && f.length === 4;

// tweetnacl exports HSalsa20 as `nacl.lowlevel.crypto_core_hsalsa20` but leaves it out of its typings;
// checked once at load, so a tweetnacl without it fails loudly here rather than sealing wrongly.
const hsalsa20: HSalsa20 = (() => {
  const lowlevel: unknown = 'lowlevel' in nacl ? nacl.lowlevel : undefined;
  const f: unknown =
    typeof lowlevel === 'object' && lowlevel !== null && 'crypto_core_hsalsa20' in lowlevel
      ? lowlevel.crypto_core_hsalsa20
      : undefined;
  if (!isHSalsa20(f)) throw new Error('tweetnacl lacks lowlevel.crypto_core_hsalsa20');
  return f;
})();

const HSALSA20_SIGMA = new TextEncoder().encode('expand 32-byte k');

/** nacl.box.before from the raw X25519 output: HSalsa20(shared, 0^16). */
export function boxKeyFromSharedSecret(shared: Uint8Array): Uint8Array {
  assertLength(shared, 32, 'X25519 shared secret');
  const key = new Uint8Array(32);
  hsalsa20(key, new Uint8Array(16), shared, HSALSA20_SIGMA);
  return key;
}

/** Seals `plaintext` to `recipientPublicKey` with `x25519` (see the header for the format). */
function sealWith(x25519: X25519, recipientPublicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  assertLength(recipientPublicKey, 32, 'recipient public key');
  if (!(plaintext instanceof Uint8Array))
    throw cryptoError('INVALID_INPUT', 'sealTo: plaintext must be bytes');
  const ephemeralSecret = randomBytes(32);
  try {
    const ephemeralPublic = x25519.publicKey(ephemeralSecret);
    assertLength(ephemeralPublic, 32, `${x25519.name} X25519 public key`);
    const shared = x25519.sharedSecret(ephemeralSecret, recipientPublicKey);
    assertLength(shared, 32, `${x25519.name} X25519 shared secret`);
    if (isAllZero(shared)) {
      throw cryptoError('INVALID_INPUT', 'sealTo: recipient public key is a low-order point');
    }
    const boxKey = boxKeyFromSharedSecret(shared);
    shared.fill(0);
    const nonce = concatBytes(randomBytes(16), recipientTag(recipientPublicKey));
    const box = nacl.box.after(plaintext, nonce, boxKey);
    boxKey.fill(0);
    return concatBytes(Uint8Array.of(SEALED_BOX_VERSION), ephemeralPublic, nonce, box);
  } finally {
    ephemeralSecret.fill(0);
  }
}

/** A sealer over the given X25519; its boxes are `sealTo`'s format exactly. */
export function createSealTo(x25519: X25519): SealTo {
  return (recipientPublicKey, plaintext) => sealWith(x25519, recipientPublicKey, plaintext);
}

/**
 * Anonymous sealed box: only the holder of the recipient's X25519 secret key can open it. `x25519` is the
 * host's (tweetnacl by default): every implementation writes the same format.
 */
export const sealTo = (
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  x25519: X25519 = tweetnaclX25519,
): Uint8Array => sealWith(x25519, recipientPublicKey, plaintext);

/**
 * Opens a sealed box addressed to `recipient`. `x25519` is the host's (tweetnacl by default): the box key is
 * nacl.box.before's whichever computes it, so every implementation opens the same boxes.
 */
export function openSealed(
  recipient: BoxKeyPair,
  sealed: Uint8Array,
  x25519: X25519 = tweetnaclX25519,
): Result<Uint8Array> {
  assertLength(recipient.publicKey, 32, 'recipient public key');
  assertLength(recipient.secretKey, 32, 'recipient secret key');
  if (!(sealed instanceof Uint8Array)) return fail('INVALID_INPUT', 'sealed box: bytes required');
  if (sealed.length === 0) return fail('TRUNCATED', 'sealed box: empty');
  if (sealed[0] !== SEALED_BOX_VERSION) {
    return fail('UNSUPPORTED_VERSION', `sealed box: version ${sealed[0]!} not supported`);
  }
  if (sealed.length < SEALED_BOX_OVERHEAD) return fail('TRUNCATED', 'sealed box: too short');
  const ephemeralPublicKey = sealed.subarray(1, 33);
  const nonce = sealed.subarray(33, 57);
  if (!constantTimeEqual(nonce.subarray(16), recipientTag(recipient.publicKey))) {
    return fail('WRONG_KEY', 'sealed box: addressed to another key');
  }
  if (!isCanonicalX25519(ephemeralPublicKey))
    return fail('TAMPERED', 'sealed box: non-canonical ephemeral key');
  const shared = x25519.sharedSecret(recipient.secretKey, ephemeralPublicKey);
  assertLength(shared, 32, `${x25519.name} X25519 shared secret`);
  const boxKey = boxKeyFromSharedSecret(shared);
  shared.fill(0);
  // nacl.box.open.after is this secretbox: the thread's installed one (libsodium) where there is one.
  const opened = openSecretbox(boxKey, nonce, sealed.subarray(57));
  boxKey.fill(0);
  return opened === null ? fail('TAMPERED', 'sealed box: authentication failed') : ok(opened);
}

/** base64url text of a 32-byte stream key: 43 characters. */
const KEY_TEXT_LENGTH = 43;
/** What stands for the key's text wherever an envelope's plaintext is a JS string (see the header). */
const KEY_TEXT_MASK = 'A'.repeat(KEY_TEXT_LENGTH);
const ENVELOPE_HEAD = utf8Encode('{"e":');
const KEY_MEMBER = utf8Encode(',"k":"');
const NUMBER_CHARS = new Set(utf8Encode('-+.0123456789eE'));

const bytesAt = (bytes: Uint8Array, at: number, want: Uint8Array): boolean =>
  at + want.length <= bytes.length && want.every((b, i) => bytes[at + i] === b);

/**
 * Where the key's 43 characters start in an envelope's plaintext, or -1. Canonical JSON sorts the members
 * e, k, kid, s, v, so the key's text follows the epoch's number; the rest is checked once parsed.
 */
function keyTextAt(plaintext: Uint8Array): number {
  if (!bytesAt(plaintext, 0, ENVELOPE_HEAD)) return -1;
  let i = ENVELOPE_HEAD.length;
  // The characters of a JSON number; which number it is, the parsed content says.
  while (i < plaintext.length && NUMBER_CHARS.has(plaintext[i]!)) i++;
  if (!bytesAt(plaintext, i, KEY_MEMBER)) return -1;
  const at = i + KEY_MEMBER.length;
  return plaintext[at + KEY_TEXT_LENGTH] === 0x22 ? at : -1;
}

/** Wraps a stream key for one recipient, bound to (stream, epoch). Returns base64url. */
export function wrapKey(
  key: Uint8Array,
  recipientPublicKey: Uint8Array,
  ctx: KeyContext,
  x25519: X25519 = tweetnaclX25519,
): string {
  assertKeyContext(ctx);
  const plaintext = canonicalBytes({
    v: 1,
    s: ctx.stream,
    e: ctx.epoch,
    kid: keyId(key),
    k: KEY_TEXT_MASK,
  });
  try {
    const at = keyTextAt(plaintext);
    if (at < 0) throw new Error('wrapKey: the key member is not where canonical JSON puts it');
    const text = base64urlEncodeAscii(key);
    plaintext.set(text, at);
    text.fill(0);
    return base64urlEncode(sealWith(x25519, recipientPublicKey, plaintext));
  } finally {
    plaintext.fill(0);
  }
}

export function unwrapKey(
  envelope: string,
  recipient: BoxKeyPair,
  ctx: KeyContext,
  x25519: X25519 = tweetnaclX25519,
): Result<Uint8Array> {
  assertKeyContext(ctx);
  const bytes = base64urlDecode(envelope);
  if (!bytes.ok) return bytes;
  const opened = openSealed(recipient, bytes.value, x25519);
  if (!opened.ok) return opened;
  try {
    return keyFromPlaintext(opened.value, ctx);
  } finally {
    opened.value.fill(0);
  }
}

/** The key an opened envelope holds; the key's text is read as bytes and masked before any parsing. */
function keyFromPlaintext(plaintext: Uint8Array, ctx: KeyContext): Result<Uint8Array> {
  const malformed = () => fail('TAMPERED', 'key envelope: malformed content');
  const at = keyTextAt(plaintext);
  if (at < 0) return malformed();
  const key = base64urlDecodeAscii(plaintext.subarray(at, at + KEY_TEXT_LENGTH));
  plaintext.fill(KEY_TEXT_MASK.charCodeAt(0), at, at + KEY_TEXT_LENGTH);
  const refuse = (refusal: Result<never>) => {
    if (key.ok) key.value.fill(0);
    return refusal;
  };
  const text = utf8Decode(plaintext);
  let body: unknown;
  try {
    body = text.ok ? JSON.parse(text.value) : undefined;
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null) return refuse(malformed());
  const b = body as Record<string, unknown>;
  // k is the mask unless a second "k" member came later (JSON.parse keeps the last).
  if (b['v'] !== 1 || b['k'] !== KEY_TEXT_MASK || typeof b['kid'] !== 'string') return refuse(malformed());
  if (!key.ok || keyId(key.value) !== b['kid']) {
    return refuse(fail('TAMPERED', 'key envelope: key and key id disagree'));
  }
  if (b['s'] !== ctx.stream || b['e'] !== ctx.epoch) {
    return refuse(fail('CONTEXT_MISMATCH', 'key envelope: wrapped for another stream or epoch'));
  }
  return ok(key.value);
}
