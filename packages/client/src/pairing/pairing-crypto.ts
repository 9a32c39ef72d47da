/**
 * The cryptography of pairing (a commitment scheme with a short authentication string, as Bluetooth's
 * numeric comparison and ZRTP): pure functions, no I/O.
 *
 * | value | how |
 * |---|---|
 * | ephemeral key | X25519 (tweetnacl), fresh per pairing and side |
 * | commit | SHA-256("hale/pairing-commit/v1" ‖ newKey ‖ newNonce), sent before the approver's nonce exists |
 * | transcript T | SHA-256("hale/pairing-transcript/v1" ‖ len(code) ‖ code ‖ commit ‖ approverKey ‖ approverNonce ‖ newKey ‖ newNonce) |
 * | SAS | first 8 bytes of SHA-256("hale/pairing-sas/v1" ‖ T), mod 10^6: six digits |
 * | keys | HKDF-SHA256(X25519 shared secret, salt T, "hale/pairing-keys/v1", 64): approver→new ‖ new→approver |
 * | boxes | secretbox under the key of their direction, `nonce ‖ box`, base64url |
 *
 * Invariants: a reveal that does not open the commit is refused; an all-zero shared secret (a low-order key)
 * is refused; the two directions use different keys and each payload names its kind (`k`), so no box can be
 * reflected or taken for another; secrets handed to `forget` are zeroed.
 * Failure modes: throws PairingError PAIRING_TAMPERED for a commit that does not open, a low-order key, or a
 * box that does not authenticate or does not hold its payload.
 */
import nacl from 'tweetnacl';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  base64urlDecode,
  base64urlEncode,
  constantTimeEqual,
  hkdfSha256,
  isAllZero,
  labeledSha256,
  openSecretbox,
  randomBytes,
  sealSecretbox,
  utf8Decode,
  utf8Encode,
  SECRETBOX_NONCE_LENGTH,
} from '@hale/crypto';
import { PAIRING_MAX_BOX_BYTES, parseJson, validate } from '@hale/protocol';
import { PairingError } from './errors';

export interface EphemeralSide {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly nonce: Uint8Array;
}

/** A fresh ephemeral X25519 key pair and 32-byte nonce for one side of one pairing. */
export function newEphemeralSide(): EphemeralSide {
  const secretKey = randomBytes(32);
  return { secretKey, publicKey: nacl.scalarMult.base(secretKey), nonce: randomBytes(32) };
}

export const pairingCommit = (publicKey: Uint8Array, nonce: Uint8Array): Uint8Array =>
  labeledSha256('hale/pairing-commit/v1', publicKey, nonce);

/** Whether `publicKey` and `nonce` are what `commit` committed to. */
export const opensCommit = (commit: Uint8Array, publicKey: Uint8Array, nonce: Uint8Array): boolean =>
  constantTimeEqual(commit, pairingCommit(publicKey, nonce));

export interface PairingTranscript {
  readonly code: string;
  readonly commit: Uint8Array;
  readonly approverKey: Uint8Array;
  readonly approverNonce: Uint8Array;
  readonly newKey: Uint8Array;
  readonly newNonce: Uint8Array;
}

export function transcriptHash(t: PairingTranscript): Uint8Array {
  const code = utf8Encode(t.code);
  return labeledSha256(
    'hale/pairing-transcript/v1',
    Uint8Array.of(code.length),
    code,
    t.commit,
    t.approverKey,
    t.approverNonce,
    t.newKey,
    t.newNonce,
  );
}

/** The six digits both screens show, as `123 456`. */
export function shortAuthenticationString(transcript: Uint8Array): string {
  const h = labeledSha256('hale/pairing-sas/v1', transcript);
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(h[i] ?? 0);
  const digits = (n % 1_000_000n).toString().padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

export interface PairingKeys {
  /** Seals what the approver sends (the root payload). */
  readonly toNew: Uint8Array;
  /** Seals what the new device sends (its name, its device id). */
  readonly toApprover: Uint8Array;
}

const tampered = (what: string): PairingError =>
  new PairingError(
    'PAIRING_TAMPERED',
    `${what}: a pairing message was changed on the way (by the server or someone else); nothing was ` +
      'taken. Start pairing again, and tell the server operator if it happens again.',
  );

/** The keys of both directions, from this side's secret key and the other side's public key. */
export function pairingKeys(
  secretKey: Uint8Array,
  otherPublicKey: Uint8Array,
  transcript: Uint8Array,
): PairingKeys {
  const shared = nacl.scalarMult(secretKey, otherPublicKey);
  try {
    if (isAllZero(shared)) throw tampered('the other device sent a key that is no key');
    const okm = hkdfSha256(shared, 'hale/pairing-keys/v1', 64, transcript);
    return { toNew: okm.slice(0, 32), toApprover: okm.slice(32, 64) };
  } finally {
    shared.fill(0);
  }
}

/** `payload` as JSON, sealed under `key`: base64url of nonce ‖ box. */
export function sealPayload(key: Uint8Array, payload: object): string {
  const plain = utf8Encode(JSON.stringify(payload));
  try {
    return base64urlEncode(sealSecretbox(new Uint8Array(0), key, plain));
  } finally {
    plain.fill(0);
  }
}

/** Opens a box of `sealPayload` and checks it against `schema`; PAIRING_TAMPERED when anything fails. */
export function openPayload<S extends TSchema>(
  key: Uint8Array,
  text: string,
  schema: S,
  what: string,
): Static<S> {
  const bytes = base64urlDecode(text);
  if (
    !bytes.ok ||
    bytes.value.length < SECRETBOX_NONCE_LENGTH ||
    bytes.value.length > PAIRING_MAX_BOX_BYTES
  ) {
    throw tampered(what);
  }
  const plain = openSecretbox(
    key,
    bytes.value.subarray(0, SECRETBOX_NONCE_LENGTH),
    bytes.value.subarray(SECRETBOX_NONCE_LENGTH),
  );
  if (plain === null) throw tampered(what);
  try {
    const text = utf8Decode(plain);
    const parsed = text.ok ? parseJson(text.value) : null;
    const checked = parsed?.ok ? validate(schema, parsed.value) : null;
    if (!checked?.ok) throw tampered(what);
    return checked.value;
  } finally {
    plain.fill(0);
  }
}

/** Zeroes secrets once a side is done with them. */
export function forget(...secrets: readonly (Uint8Array | undefined)[]): void {
  for (const s of secrets) s?.fill(0);
}

/** base64url text of exactly `length` bytes, else PAIRING_TAMPERED. */
export function bytesOf(text: string, length: number, what: string): Uint8Array {
  const decoded = base64urlDecode(text);
  if (!decoded.ok || decoded.value.length !== length) throw tampered(what);
  return decoded.value;
}
