import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '@hale/crypto';
import { decodeBase64url } from './base64url';
import { ServiceError } from './sync-service';

const refusal = (text: string): unknown => {
  try {
    decodeBase64url(text, 'field');
  } catch (error) {
    return error;
  }
  return null;
};

describe('decodeBase64url', () => {
  it('round-trips every length class, the empty string included', () => {
    for (const length of [0, 1, 2, 3, 4, 31, 32, 33]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 97 + 251) & 0xff);
      expect(decodeBase64url(base64urlEncode(bytes), 'field')).toStrictEqual(bytes);
    }
    expect(decodeBase64url('-_-_', 'field')).toStrictEqual(Uint8Array.of(0xfb, 0xff, 0xbf));
  });

  it('refuses every text but the one accepted form, as BAD_MESSAGE naming the field', () => {
    for (const text of [
      'AAAAA', // impossible length (≡ 1 mod 4)
      'AB', // non-zero unused trailing bits
      'AAB',
      '+/+/', // standard base64 alphabet
      'AA==', // padding
      'AA AA', // whitespace
      'AA.A', // a character outside the alphabet
    ]) {
      const error = refusal(text);
      expect(error, text).toBeInstanceOf(ServiceError);
      expect(error, text).toMatchObject({ code: 'BAD_MESSAGE', message: 'field: not base64url' });
    }
  });

  it('answers a Uint8Array of its own, not a view into Node’s shared buffer pool', () => {
    const result = decodeBase64url(base64urlEncode(new Uint8Array(48).fill(7)), 'field');
    expect(result.constructor).toBe(Uint8Array);
    expect(result.byteOffset === 0 && result.buffer.byteLength === result.length).toBe(true);
  });
});
