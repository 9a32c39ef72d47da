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
 * Failure modes (Result): BAD_ENCODING, UNSUPPORTED_VERSION (first byte), TRUNCATED (shorter than
 * the fixed overhead), WRONG_KEY (recipient tag differs), TAMPERED (MAC or authenticated content
 * malformed), CONTEXT_MISMATCH (stream or epoch differ). Bad caller input throws INVALID_INPUT.
 */
import nacl from 'tweetnacl';
import { fail, ok, cryptoError, type Result } from './errors';
import { base64urlDecode, base64urlEncode, concatBytes, constantTimeEqual, utf8Decode } from './encoding';
import { canonicalBytes } from './canonical-json';
import { hkdfSha256, labeledSha256 } from './hash';
import { ROOT_SECRET_LENGTH } from './root';
import { randomBytes } from './random';
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

/** Anonymous sealed box: only the holder of the recipient's X25519 secret key can open it. */
export function sealTo(recipientPublicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  assertLength(recipientPublicKey, 32, 'recipient public key');
  if (!(plaintext instanceof Uint8Array))
    throw cryptoError('INVALID_INPUT', 'sealTo: plaintext must be bytes');
  const ephemeral = nacl.box.keyPair.fromSecretKey(randomBytes(32));
  const nonce = concatBytes(randomBytes(16), recipientTag(recipientPublicKey));
  const box = nacl.box(plaintext, nonce, recipientPublicKey, ephemeral.secretKey);
  ephemeral.secretKey.fill(0);
  return concatBytes(Uint8Array.of(SEALED_BOX_VERSION), ephemeral.publicKey, nonce, box);
}

export function openSealed(recipient: BoxKeyPair, sealed: Uint8Array): Result<Uint8Array> {
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
  const opened = nacl.box.open(sealed.subarray(57), nonce, ephemeralPublicKey, recipient.secretKey);
  return opened === null ? fail('TAMPERED', 'sealed box: authentication failed') : ok(opened);
}

/** Wraps a stream key for one recipient, bound to (stream, epoch). Returns base64url. */
export function wrapKey(key: Uint8Array, recipientPublicKey: Uint8Array, ctx: KeyContext): string {
  assertKeyContext(ctx);
  const plaintext = canonicalBytes({
    v: 1,
    s: ctx.stream,
    e: ctx.epoch,
    kid: keyId(key),
    k: base64urlEncode(key),
  });
  return base64urlEncode(sealTo(recipientPublicKey, plaintext));
}

export function unwrapKey(envelope: string, recipient: BoxKeyPair, ctx: KeyContext): Result<Uint8Array> {
  assertKeyContext(ctx);
  const bytes = base64urlDecode(envelope);
  if (!bytes.ok) return bytes;
  const opened = openSealed(recipient, bytes.value);
  if (!opened.ok) return opened;
  const text = utf8Decode(opened.value);
  let body: unknown;
  try {
    body = text.ok ? JSON.parse(text.value) : undefined;
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null) return fail('TAMPERED', 'key envelope: malformed content');
  const b = body as Record<string, unknown>;
  if (b['v'] !== 1 || typeof b['k'] !== 'string' || typeof b['kid'] !== 'string') {
    return fail('TAMPERED', 'key envelope: malformed content');
  }
  const key = base64urlDecode(b['k']);
  if (!key.ok || key.value.length !== STREAM_KEY_LENGTH || keyId(key.value) !== b['kid']) {
    return fail('TAMPERED', 'key envelope: key and key id disagree');
  }
  if (b['s'] !== ctx.stream || b['e'] !== ctx.epoch) {
    return fail('CONTEXT_MISMATCH', 'key envelope: wrapped for another stream or epoch');
  }
  return ok(key.value);
}
