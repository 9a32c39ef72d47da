/**
 * Byte/text encodings used on the wire and in storage.
 *
 * Invariants: encoders are total; decoders take untrusted text and return a Result. Decoding is
 * strict so that every byte string has exactly one accepted text form: base64url (RFC 4648 §5)
 * without padding, no whitespace, length ≢ 1 (mod 4), unused trailing bits zero; hex in lower case
 * (what hexEncode writes) of even length;
 * UTF-8 must be well-formed. Any violation → BAD_ENCODING. `constantTimeEqual` does not leak
 * where two equal-length arrays first differ.
 */
import { fail, ok, type Result } from './errors';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_LOOKUP = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < B64URL.length; i++) table[B64URL.charCodeAt(i)] = i;
  return table;
})();

const B64URL_CODES = Uint8Array.from(B64URL, (c) => c.charCodeAt(0));
const asciiDecoder = new TextDecoder();

// Writes ASCII codes into one buffer and decodes once: string concatenation per character builds rope
// strings that cost more in GC and JSON.stringify than the encoding itself (measured on the server).
export function base64urlEncode(bytes: Uint8Array): string {
  return asciiDecoder.decode(base64urlEncodeAscii(bytes));
}

/**
 * base64url as ASCII codes, not a string: for secret bytes, whose text form must be zeroable (a JS string
 * cannot be wiped and lives until the garbage collector takes it).
 */
export function base64urlEncodeAscii(bytes: Uint8Array): Uint8Array {
  const full = bytes.length - (bytes.length % 3);
  const rest = bytes.length - full;
  const out = new Uint8Array((full / 3) * 4 + (rest === 0 ? 0 : rest + 1));
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = B64URL_CODES[n >>> 18]!;
    out[o++] = B64URL_CODES[(n >>> 12) & 63]!;
    out[o++] = B64URL_CODES[(n >>> 6) & 63]!;
    out[o++] = B64URL_CODES[n & 63]!;
  }
  if (rest === 1) {
    const n = bytes[full]! << 16;
    out[o++] = B64URL_CODES[n >>> 18]!;
    out[o++] = B64URL_CODES[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[full]! << 16) | (bytes[full + 1]! << 8);
    out[o++] = B64URL_CODES[n >>> 18]!;
    out[o++] = B64URL_CODES[(n >>> 12) & 63]!;
    out[o++] = B64URL_CODES[(n >>> 6) & 63]!;
  }
  return out;
}

// Two loops, one per input form: a shared loop reading characters through a callback made every decode
// of text (each pushed row's ciphertext on the server) 1.3–2.4 times slower once both forms had run.
export function base64urlDecode(text: string): Result<Uint8Array> {
  if (typeof text !== 'string') return fail('BAD_ENCODING', 'base64url: not a string');
  const len = text.length;
  if (len % 4 === 1) return impossibleLength();
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  // Four characters to three bytes at a time (≈2× the bit loop on a stored ciphertext); the bit loop
  // takes the rest, and the whole group where a character is outside the alphabet (the same error).
  const full = len - (len % 4);
  let i = 0;
  let o = 0;
  for (; i < full; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    if ((a | b | c | d) >= 128) break;
    const va = B64URL_LOOKUP[a]!;
    const vb = B64URL_LOOKUP[b]!;
    const vc = B64URL_LOOKUP[c]!;
    const vd = B64URL_LOOKUP[d]!;
    if ((va | vb | vc | vd) < 0) break;
    const n = (va << 18) | (vb << 12) | (vc << 6) | vd;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  let acc = 0;
  let bits = 0;
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64URL_LOOKUP[c]! : -1;
    if (v < 0) return invalidCharacter(out, i, c);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return decoded(out, acc, bits);
}

/** `base64urlDecode` of text given as ASCII codes (what `base64urlEncodeAscii` writes), same rules. */
export function base64urlDecodeAscii(codes: Uint8Array): Result<Uint8Array> {
  if (!(codes instanceof Uint8Array)) return fail('BAD_ENCODING', 'base64url: not bytes');
  const len = codes.length;
  if (len % 4 === 1) return impossibleLength();
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const c = codes[i]!;
    const v = c < 128 ? B64URL_LOOKUP[c]! : -1;
    if (v < 0) return invalidCharacter(out, i, c);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return decoded(out, acc, bits);
}

const impossibleLength = (): Result<never> => fail('BAD_ENCODING', 'base64url: impossible length');

/** Refuses character `c` at `i`; what was decoded so far may be a secret's, so it is zeroed. */
const invalidCharacter = (out: Uint8Array, i: number, c: number): Result<never> => {
  out.fill(0);
  return fail(
    'BAD_ENCODING',
    `base64url: invalid character at ${i}${c === 61 ? ' (padding is not allowed)' : ''}`,
  );
};

/** `out`, once the bits left over (`bits` of `acc`) are zero, as canonical base64url leaves them. */
const decoded = (out: Uint8Array, acc: number, bits: number): Result<Uint8Array> => {
  if ((acc & ((1 << bits) - 1)) !== 0) {
    out.fill(0);
    return fail('BAD_ENCODING', 'base64url: non-zero trailing bits');
  }
  return ok(out);
};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const utf8Encode = (text: string): Uint8Array => encoder.encode(text);

export function utf8Decode(bytes: Uint8Array): Result<string> {
  try {
    return ok(decoder.decode(bytes));
  } catch {
    return fail('BAD_ENCODING', 'utf8: malformed byte sequence');
  }
}

const HEX = '0123456789abcdef';

export function hexEncode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b >>> 4]! + HEX[b & 15]!;
  return out;
}

export function hexDecode(text: string): Result<Uint8Array> {
  if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) {
    return fail('BAD_ENCODING', 'hex: expected an even number of lower-case hex digits');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return ok(out);
}

/** Equality without an early exit; the length itself is not treated as secret. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Whether every byte is zero (a wiped key, or an all-zero shared secret). */
export const isAllZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
