/**
 * Short text sealed to an X25519 key (anonymous sealed box, `sealTo`): what a person typed that the
 * server must keep but never read — a grant's purpose (sealed to the patient and to the grantee), a
 * device's name (sealed to its account).
 *
 * Plaintext: canonicalJson({v:1, l:label, b:bind, t:text}) followed by 0x00 bytes up to the next multiple
 * of TEXT_PAD_BYTES, so the sealed length tells only the text's length bucket. Canonical JSON never
 * contains a raw 0x00 (it escapes one in a string), so the padding is stripped unambiguously.
 *
 * | invariant                                        | failure on open (Result)                         |
 * | ------------------------------------------------ | ------------------------------------------------ |
 * | only the recipient's secret key opens it         | WRONG_KEY (another key), TAMPERED (MAC, content) |
 * | bound to its use (`label`) and object (`bind`)   | CONTEXT_MISMATCH: moved to another grant/device  |
 * | the text is a string of at most `maxChars` chars | TAMPERED                                         |
 *
 * Not provided: who sealed it. The sealed string sits inside a signed object (the grant, the device
 * certificate), whose signature says who did. Bad caller input throws INVALID_INPUT.
 */
import { fail, ok, cryptoError, type Result } from './errors';
import { base64urlDecode, base64urlEncode, utf8Decode } from './encoding';
import { canonicalBytes } from './canonical-json';
import type { BoxKeyPair } from './account-keys';
import { openSealed, sealTo, SEALED_BOX_OVERHEAD, type X25519 } from './stream-keys';

/** The plaintext is padded to a multiple of this many bytes. */
export const TEXT_PAD_BYTES = 128;

export interface TextContext {
  /** What the text is, e.g. `hale/grant-purpose/v1`. */
  readonly label: string;
  /** What it belongs to, e.g. the grant id or the device id. */
  readonly bind: string;
}

/** The largest sealed text (bytes, before base64url) for a text of at most `maxChars` UTF-16 units. */
export const sealedTextMaxBytes = (maxChars: number, ctx: { label: string }): number => {
  // A UTF-16 unit is at most 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units), 6 when escaped (\u001f).
  const plain = 64 + ctx.label.length + 64 + maxChars * 6;
  return Math.ceil(plain / TEXT_PAD_BYTES) * TEXT_PAD_BYTES + SEALED_BOX_OVERHEAD;
};

/** `text` sealed to `recipientPublicKey` for `ctx`, as base64url (`x25519`: the host's, see stream-keys.ts). */
export function sealText(
  text: string,
  recipientPublicKey: Uint8Array,
  ctx: TextContext,
  x25519?: X25519,
): string {
  if (typeof text !== 'string') throw cryptoError('INVALID_INPUT', 'sealText: text must be a string');
  const body = canonicalBytes({ v: 1, l: ctx.label, b: ctx.bind, t: text });
  const padded = new Uint8Array(Math.ceil((body.length + 1) / TEXT_PAD_BYTES) * TEXT_PAD_BYTES);
  padded.set(body);
  return base64urlEncode(sealTo(recipientPublicKey, padded, x25519));
}

/** Opens a `sealText` string addressed to `recipient` and checks it was sealed for `ctx`. */
export function openSealedText(
  sealed: string,
  recipient: BoxKeyPair,
  ctx: TextContext,
  x25519?: X25519,
): Result<string> {
  const bytes = base64urlDecode(sealed);
  if (!bytes.ok) return bytes;
  const opened = openSealed(recipient, bytes.value, x25519);
  if (!opened.ok) return opened;
  let end = opened.value.length;
  while (end > 0 && opened.value[end - 1] === 0) end--;
  const text = utf8Decode(opened.value.subarray(0, end));
  if (!text.ok) return fail('TAMPERED', 'sealed text: not UTF-8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.value);
  } catch {
    return fail('TAMPERED', 'sealed text: not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) return fail('TAMPERED', 'sealed text: not an object');
  const { v, l, b, t } = parsed as Record<string, unknown>;
  if (v !== 1 || typeof t !== 'string') return fail('TAMPERED', 'sealed text: malformed');
  if (l !== ctx.label || b !== ctx.bind)
    return fail('CONTEXT_MISMATCH', 'sealed text: sealed for another use');
  return ok(t);
}
