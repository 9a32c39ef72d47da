/**
 * A grant's purpose (what the patient typed, at most 500 UTF-16 units) sealed to the patient and the
 * grantee, in one ciphertext:
 *
 *   K    = 32 random bytes
 *   ct   = nonce(24) ‖ secretbox_K(len(2, big-endian) ‖ utf8(text) ‖ 0x00 … up to a multiple of PAD bytes)
 *   slot = sealTo(recipient wrapping key, canonicalJson({v:1, l:"hale/grant-purpose/v1", b:grantId, k:b64u(K)}))
 *
 * One ciphertext and two small key slots, not the text sealed twice: a patient's thousand grants at their
 * largest must still fit one `grants` answer (grant-limits.test.ts in @hale/protocol).
 *
 * | invariant                                               | failure on open (Result)                  |
 * | ------------------------------------------------------- | ----------------------------------------- |
 * | only the patient's or the grantee's secret key opens it | WRONG_KEY, TAMPERED                       |
 * | a slot is bound to its grant id                         | CONTEXT_MISMATCH                          |
 * | the length tells only a 128-byte bucket                 | —                                         |
 * | the text is valid UTF-8 of the stated length            | TAMPERED                                  |
 *
 * Not provided: who sealed it. The grant's signature (the patient's identity key) covers all three parts.
 */
import { fail, ok, cryptoError, type Result } from './errors';
import { base64urlDecode, base64urlEncode, utf8Encode } from './encoding';
import { canonicalBytes } from './canonical-json';
import type { BoxKeyPair } from './account-keys';
import { randomBytes } from './random';
import { openSecretbox, sealSecretbox, SECRETBOX_NONCE_LENGTH } from './secretbox';
import { openSealed, sealTo, type X25519 } from './stream-keys';

const LABEL = 'hale/grant-purpose/v1';
const PAD = 128;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface SealedGrantPurpose {
  readonly ct: string;
  readonly patient: string;
  readonly grantee: string;
}

/** `purpose` sealed for grant `grantId` to the patient's and the grantee's wrapping public keys. */
export function sealGrantPurpose(
  purpose: string,
  grantId: string,
  patientWrapping: Uint8Array,
  granteeWrapping: Uint8Array,
  x25519?: X25519,
): SealedGrantPurpose {
  if (typeof purpose !== 'string') throw cryptoError('INVALID_INPUT', 'sealGrantPurpose: text required');
  const text = utf8Encode(purpose);
  if (text.length > 0xffff) throw cryptoError('INVALID_INPUT', 'sealGrantPurpose: text too long');
  const plain = new Uint8Array(Math.ceil((2 + text.length) / PAD) * PAD);
  plain[0] = text.length >> 8;
  plain[1] = text.length & 0xff;
  plain.set(text, 2);
  const key = randomBytes(32);
  try {
    const slot = (to: Uint8Array): string =>
      base64urlEncode(
        sealTo(to, canonicalBytes({ v: 1, l: LABEL, b: grantId, k: base64urlEncode(key) }), x25519),
      );
    return {
      ct: base64urlEncode(sealSecretbox(new Uint8Array(0), key, plain)),
      patient: slot(patientWrapping),
      grantee: slot(granteeWrapping),
    };
  } finally {
    key.fill(0);
  }
}

/** The text of a sealed purpose, opened through `slot` (the reader's: `patient` or `grantee`). */
export function openGrantPurpose(
  sealed: { readonly ct: string },
  slot: string,
  grantId: string,
  reader: BoxKeyPair,
  x25519?: X25519,
): Result<string> {
  const slotBytes = base64urlDecode(slot);
  if (!slotBytes.ok) return slotBytes;
  const opened = openSealed(reader, slotBytes.value, x25519);
  if (!opened.ok) return opened;
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(opened.value));
  } catch {
    return fail('TAMPERED', 'grant purpose: key slot is not JSON');
  }
  const { v, l, b, k } = (parsed ?? {}) as Record<string, unknown>;
  if (v !== 1 || typeof k !== 'string') return fail('TAMPERED', 'grant purpose: malformed key slot');
  if (l !== LABEL || b !== grantId)
    return fail('CONTEXT_MISMATCH', 'grant purpose: sealed for another grant');
  const key = base64urlDecode(k);
  if (!key.ok || key.value.length !== 32) return fail('TAMPERED', 'grant purpose: bad key');
  const ct = base64urlDecode(sealed.ct);
  if (!ct.ok) return ct;
  if (ct.value.length < SECRETBOX_NONCE_LENGTH) return fail('TRUNCATED', 'grant purpose: too short');
  const plain = openSecretbox(
    key.value,
    ct.value.subarray(0, SECRETBOX_NONCE_LENGTH),
    ct.value.subarray(SECRETBOX_NONCE_LENGTH),
  );
  key.value.fill(0);
  if (plain === null || plain.length < 2) return fail('TAMPERED', 'grant purpose: does not authenticate');
  const length = (plain[0]! << 8) | plain[1]!;
  if (2 + length > plain.length || plain.subarray(2 + length).some((x) => x !== 0)) {
    return fail('TAMPERED', 'grant purpose: bad length or padding');
  }
  try {
    return ok(strictUtf8.decode(plain.subarray(2, 2 + length)));
  } catch {
    return fail('TAMPERED', 'grant purpose: not UTF-8');
  }
}
