import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CROCKFORD_BASE32_ALPHABET,
  crockfordBase32Encode,
  crockfordSymbols,
  crockfordText,
  HaleCryptoError,
  type BitField,
} from './index';

/** Reference: the bits written out one by one, cut into fives, the last one filled with zeros. */
const bitsOf = (fields: readonly BitField[]): number[] =>
  fields.flatMap(([value, width]) =>
    Array.from({ length: width }, (_, i) => (value >>> (width - 1 - i)) & 1),
  );
const referenceSymbols = (fields: readonly BitField[]): number[] => {
  const bits = bitsOf(fields);
  const symbols: number[] = [];
  for (let i = 0; i < bits.length; i += 5) {
    symbols.push([0, 1, 2, 3, 4].reduce((v, j) => v * 2 + (bits[i + j] ?? 0), 0));
  }
  return symbols;
};

const field = fc
  .integer({ min: 1, max: 24 })
  .chain((width) => fc.tuple(fc.integer({ min: 0, max: 2 ** width - 1 }), fc.constant(width)));

describe('Crockford base32', () => {
  it('is the digits and capitals without I, L, O and U', () => {
    expect(CROCKFORD_BASE32_ALPHABET).toHaveLength(32);
    expect(new Set(CROCKFORD_BASE32_ALPHABET).size).toBe(32);
    expect(CROCKFORD_BASE32_ALPHABET).toMatch(/^[0-9A-HJKMNP-TV-Z]{32}$/);
  });

  it('reads fields of any width most significant bit first, five bits a symbol (property)', () => {
    fc.assert(
      fc.property(fc.array(field, { maxLength: 20 }), (fields) => {
        expect(crockfordSymbols(fields)).toEqual(referenceSymbols(fields));
      }),
    );
  });

  it('encodes bytes as RFC 4648 base32 groups them, in the Crockford alphabet, without padding', () => {
    // RFC 4648 §10 vectors, the base32 text read back through the RFC alphabet into Crockford's.
    const rfc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [text, base32] of vectors) {
      const expected = [...base32].map((c) => CROCKFORD_BASE32_ALPHABET[rfc.indexOf(c)]).join('');
      expect(crockfordBase32Encode(new TextEncoder().encode(text)), text).toBe(expected);
    }
  });

  it('refuses a field that does not fit its width, and a value that is no symbol, instead of cutting it', () => {
    const bad: BitField[] = [
      [256, 8],
      [-1, 8],
      [1.5, 8],
      [0, 0],
      [0, 25],
      [Number.NaN, 8],
    ];
    for (const f of bad) {
      expect(() => crockfordSymbols([f]), String(f)).toThrow(HaleCryptoError);
    }
    for (const v of [32, -1, 0.5]) expect(() => crockfordText([v]), String(v)).toThrow(HaleCryptoError);
    expect(crockfordText([0, 31, 18])).toBe('0ZJ');
  });
});
