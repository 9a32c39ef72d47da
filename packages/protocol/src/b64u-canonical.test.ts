// Test-only import of @hale/crypto: its decoder is the reference every device uses, so the schemas are
// checked against it directly (the package itself does not depend on crypto).
import { base64urlDecode, base64urlEncode } from '@hale/crypto';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkerFor } from './checker';
import { decodeClientFrame, encodeFrame } from './codec';
import { pushDoc, registerBody } from './examples.test-util';
import { WrappedRoot } from './identity';
import { MAX_DOC_BYTES, MAX_FRAME_BYTES } from './limits';
import { B64u, B64uFixed, b64uLength, isB64u } from './primitives';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ANY = B64u(4096);

/** Whether every checker of `schema` (compiled, interpreted) and `isB64u` for free-length ones accept. */
function accepts(schema: typeof ANY, text: string): boolean {
  const fast = checkerFor(schema).check(text);
  expect(Value.Check(schema, text), text).toBe(fast);
  return fast;
}

/** Fixed sizes whose encodings end in each kind of group (whole, 2 or 3 characters), up to 40 chars. */
const FIXED = [0, 1, 2, 3, 4, 5, 28, 29, 30].map((bytes) => [bytes, B64uFixed(bytes)] as const);

const decodes = (text: string): boolean => base64urlDecode(text).ok;

describe('base64url schemas agree with @hale/crypto base64urlDecode', () => {
  it('refuse non-zero trailing bits ("AB" for the byte 0x00, canonical "AA")', () => {
    for (const text of ['AB', 'AP', 'ABD', 'ABB', 'AAAAAB', 'AAAAABC']) {
      expect(decodes(text), text).toBe(false);
      expect(accepts(ANY, text), text).toBe(false);
      expect(isB64u(text), text).toBe(false);
    }
    for (const text of ['', 'AA', 'AQ', 'Ag', 'Aw', 'ABA', 'AB8', 'AAAA', 'AAAAAA', 'AAAAAB8']) {
      expect(decodes(text), text).toBe(true);
      expect(accepts(ANY, text), text).toBe(true);
      expect(isB64u(text), text).toBe(true);
    }
    expect(accepts(B64uFixed(1), 'AB')).toBe(false);
    expect(accepts(B64uFixed(1), 'AA')).toBe(true);
    expect(accepts(B64uFixed(2), 'ABD')).toBe(false);
    expect(accepts(B64uFixed(2), 'ABA')).toBe(true);
  });

  it('refuse lengths ≡ 1 (mod 4), which no byte string encodes to', () => {
    for (const text of ['A', 'AAAAA', 'AAAAAAAAA']) {
      expect(decodes(text), text).toBe(false);
      expect(accepts(ANY, text), text).toBe(false);
    }
  });

  it('accept every encoding, at every fixed size', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = base64urlEncode(bytes);
        expect(accepts(ANY, text)).toBe(true);
        expect(accepts(B64uFixed(bytes.length), text)).toBe(true);
        expect(isB64u(text)).toBe(true);
      }),
    );
  });

  it('every last character of every length: accepted exactly when base64urlDecode succeeds', () => {
    for (let length = 1; length <= 12; length++) {
      for (const last of ALPHABET) {
        const text = `${'Zz9_'.repeat(3).slice(0, length - 1)}${last}`;
        expect(accepts(ANY, text), text).toBe(decodes(text));
        expect(isB64u(text), text).toBe(decodes(text));
      }
    }
  });

  it('any string: the schema accepts it exactly when base64urlDecode does (and at the decoded size)', () => {
    const char = fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom(...ALPHABET) },
      { weight: 1, arbitrary: fc.constantFrom('=', '+', '/', ' ', '\n', 'é') },
    );
    fc.assert(
      fc.property(fc.array(char, { maxLength: 40 }), (chars) => {
        const text = chars.join('');
        const decoded = base64urlDecode(text);
        expect(accepts(ANY, text), text).toBe(decoded.ok);
        expect(isB64u(text), text).toBe(decoded.ok);
        for (const [bytes, schema] of FIXED) {
          const size = decoded.ok && decoded.value.length === bytes;
          expect(accepts(schema, text), `${bytes}: ${text}`).toBe(size);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a frame or body carrying a non-canonical value is refused, not stored for devices that cannot read it', () => {
    const ct = `${'A'.repeat(b64uLength(100) - 1)}B`;
    expect(decodes(ct)).toBe(false);
    const push = encodeFrame({ t: 'push', rid: 1, rows: [{ doc: pushDoc({ ct }), assumedRev: null }] });
    const pushed = decodeClientFrame(push);
    expect(!pushed.ok && pushed.error.details).toMatchObject({ issues: [{ path: '/rows/0/doc/ct' }] });

    const wrap = registerBody().account.wrappedRoot;
    expect(Value.Check(WrappedRoot, wrap)).toBe(true);
    const salt = `${wrap.kdf.salt.slice(0, -1)}B`;
    expect(decodes(salt)).toBe(false);
    expect(Value.Check(WrappedRoot, { ...wrap, kdf: { ...wrap.kdf, salt } })).toBe(false);
  });

  it('stays linear on the largest value a frame carries, accepted or refused at its last character', () => {
    const length = b64uLength(MAX_DOC_BYTES);
    const big = B64u(MAX_DOC_BYTES);
    const good = `${'Ab9-'.repeat(Math.ceil(length / 4)).slice(0, length - 1)}A`;
    const bad = `${good.slice(0, -1)}B`;
    expect(decodes(good) && !decodes(bad)).toBe(true);
    // A backtracking pattern would overflow its stack (a RangeError here) or run past the test's limit.
    expect(checkerFor(big).check(good)).toBe(true);
    expect(checkerFor(big).check(bad)).toBe(false);
    expect(Value.Check(big, good)).toBe(true);
    expect(Value.Check(big, bad)).toBe(false);
    // isB64u has no maxLength: a whole frame of it must not overflow the regexp backtrack stack either.
    const frame = `${'Ab9-'.repeat(MAX_FRAME_BYTES / 4 - 1)}AAA`;
    expect(isB64u(frame)).toBe(true);
    expect(isB64u(`${frame.slice(0, -1)}B`)).toBe(false);
    expect(isB64u(`${frame}AA`)).toBe(false); // length ≡ 1 (mod 4)
  });
});
