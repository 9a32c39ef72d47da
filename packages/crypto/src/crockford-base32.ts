/**
 * Crockford base32 encoding: the one alphabet and bit packing behind the recovery key (root.ts) and the
 * sync server's invite codes, so the two cannot drift apart.
 *
 * Invariants: the alphabet is the digits and the capitals without I, L, O and U (a symbol's value is its
 * index). Bits are read most significant first, field after field, five per symbol; a last symbol with
 * fewer than five bits left is filled with zero bits (no padding characters), so `n` bits make ⌈n/5⌉
 * symbols and 5 bytes make 8 symbols exactly — the 5-bit groups of RFC 4648 base32, in another alphabet.
 * Encoding is deterministic and, for valid input, total. There is no decoder here: the recovery key
 * decodes its own (check symbols, look-alike folding), invite codes are only compared by hash.
 *
 * Failure modes: a field of width < 1 or > 24 bits, a field value that does not fit its width, or a symbol
 * value outside 0–31 is a caller's programming error → throws HaleCryptoError INVALID_INPUT (nothing is
 * silently truncated).
 */
import { cryptoError } from './errors';

export const CROCKFORD_BASE32_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Widest field `crockfordSymbols` takes: with < 5 bits pending, the accumulator stays within 31 bits. */
const MAX_FIELD_BITS = 24;

/** A run of `width` bits holding `value` (0 ≤ value < 2^width), most significant bit first. */
export type BitField = readonly [value: number, width: number];

/** Symbol values (0–31) of the concatenated fields; a last partial symbol is filled with zero bits. */
export function crockfordSymbols(fields: Iterable<BitField>): number[] {
  const symbols: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const [value, width] of fields) {
    if (
      !Number.isInteger(width) ||
      width < 1 ||
      width > MAX_FIELD_BITS ||
      !Number.isInteger(value) ||
      value < 0 ||
      value >= 2 ** width
    ) {
      throw cryptoError('INVALID_INPUT', `base32: ${value} is not a field of ${width} bits`);
    }
    acc = (acc << width) | value;
    bits += width;
    while (bits >= 5) {
      bits -= 5;
      symbols.push((acc >>> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) symbols.push((acc << (5 - bits)) & 31);
  return symbols;
}

/** The symbols of `values` (each 0–31) as text. */
export const crockfordText = (values: readonly number[]): string =>
  values
    .map((v) => {
      const symbol = CROCKFORD_BASE32_ALPHABET[v];
      if (symbol === undefined) throw cryptoError('INVALID_INPUT', `base32: ${v} is not a symbol value`);
      return symbol;
    })
    .join('');

/** Crockford base32 of `bytes`, most significant bit first, without separators or padding. */
export const crockfordBase32Encode = (bytes: Uint8Array): string =>
  crockfordText(crockfordSymbols(Array.from(bytes, (b): BitField => [b, 8])));
