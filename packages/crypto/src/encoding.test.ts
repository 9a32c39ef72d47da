import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  base64urlEncode,
  concatBytes,
  constantTimeEqual,
  hexDecode,
  hexEncode,
  utf8Decode,
  utf8Encode,
} from './index';

const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'OK' : r.error?.code);

describe('base64url', () => {
  it('round trips and agrees with Node Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base64urlEncode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        const back = base64urlDecode(text);
        expect(back.ok && Buffer.from(back.value).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('rejects bad characters, padding, impossible lengths and non-zero trailing bits', () => {
    for (const bad of ['AB+C', 'AB/C', 'AB C', 'ABC=', 'AA==', 'A', 'ABCDE', 'AB\nC', 'ÄBCD', 'AB', 'ABD']) {
      // 'AB' and 'ABD' carry set bits after the last whole byte; 'AA' / 'ABA' are their canonical forms.
      expect(code(base64urlDecode(bad)), bad).toBe('BAD_ENCODING');
    }
    expect(code(base64urlDecode('AA'))).toBe('OK');
    expect(code(base64urlDecode('ABA'))).toBe('OK');
    expect(code(base64urlDecode(''))).toBe('OK');
  });

  it('decodes long texts (four characters at a time) as Node Buffer does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 300, maxLength: 2000 }), (bytes) => {
        const back = base64urlDecode(Buffer.from(bytes).toString('base64url'));
        expect(back.ok && Buffer.from(back.value).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('names the first character outside the alphabet wherever it falls, in a group or in the tail', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 400 }),
        fc.nat(),
        fc.constantFrom('+', '/', '=', ' ', '\n', 'Ä', '\u{1F600}'),
        (bytes, at, bad) => {
          const text = Buffer.from(bytes).toString('base64url');
          const i = at % text.length;
          const r = base64urlDecode(text.slice(0, i) + bad + text.slice(i + 1));
          expect(r.ok).toBe(false);
          // A two-unit character changes the length: refused for it, or named at its place.
          if (!r.ok && r.error.message.includes('invalid character'))
            expect(r.error.message).toMatch(new RegExp(`invalid character at ${i}\\b`));
        },
      ),
    );
  });

  it('accepts exactly one text per byte string', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{0,12}$/), (text) => {
        const r = base64urlDecode(text);
        if (r.ok) expect(base64urlEncode(r.value)).toBe(text);
      }),
    );
  });
});

describe('hex, utf8, equality', () => {
  it('hex round trips; odd length, non-hex and upper case are refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = hexDecode(hexEncode(bytes));
        expect(r.ok && Buffer.from(r.value).equals(Buffer.from(bytes))).toBe(true);
        expect(hexEncode(bytes)).toBe(Buffer.from(bytes).toString('hex'));
      }),
    );
    expect(code(hexDecode('abcd'))).toBe('OK');
    // One accepted text form per byte string: 'AB' would be a second spelling of 'ab'.
    expect(code(hexDecode('ABcd'))).toBe('BAD_ENCODING');
    expect(code(hexDecode('aB'))).toBe('BAD_ENCODING');
    expect(code(hexDecode('abc'))).toBe('BAD_ENCODING');
    expect(code(hexDecode('zz'))).toBe('BAD_ENCODING');
  });

  it('utf8 refuses malformed sequences', () => {
    expect(utf8Decode(utf8Encode('héllo ✓ 𝄞'))).toEqual({ ok: true, value: 'héllo ✓ 𝄞' });
    expect(code(utf8Decode(Uint8Array.of(0xc3)))).toBe('BAD_ENCODING');
    expect(code(utf8Decode(Uint8Array.of(0xed, 0xa0, 0x80)))).toBe('BAD_ENCODING'); // encoded surrogate
  });

  it('constantTimeEqual compares content and length', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect([...concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))]).toEqual([1, 2, 3]);
  });
});
