import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HaleCryptoError, keyFingerprint, safetyNumber } from './index';

const keyA = Uint8Array.from({ length: 32 }, (_, i) => i);
const keyB = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
const keyC = Uint8Array.from(keyB, (v, i) => (i === 31 ? v ^ 1 : v));

/** Independent re-implementation with node:crypto of the documented construction. */
function referenceHalf(key: Uint8Array): string {
  let h = createHash('sha256').update('hale/safety-number/v1').update(key).digest();
  for (let i = 0; i < 5200; i++) h = createHash('sha256').update(h).update(key).digest();
  let out = '';
  for (let c = 0; c < 6; c++) out += String(Number(h.readUIntBE(c * 5, 5) % 100000)).padStart(5, '0');
  return out;
}

describe('fingerprints', () => {
  it('keyFingerprint is 8 groups of 4 hex digits of sha256("hale/fingerprint/v1" ‖ key)', () => {
    const fp = keyFingerprint(keyA);
    expect(fp).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){7}$/);
    const expected = createHash('sha256')
      .update('hale/fingerprint/v1')
      .update(keyA)
      .digest('hex')
      .slice(0, 32);
    expect(fp.replace(/ /g, '')).toBe(expected);
    expect(keyFingerprint(keyB)).not.toBe(fp);
  });

  it('safetyNumber is 60 digits in groups of 5, the same from both sides', () => {
    const ab = safetyNumber(keyA, keyB);
    expect(ab).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(safetyNumber(keyB, keyA)).toBe(ab);
    const halves = [referenceHalf(keyA), referenceHalf(keyB)].sort();
    expect(ab.replace(/ /g, '')).toBe(halves.join(''));
  });

  it('changes when either key changes by one bit', () => {
    const ab = safetyNumber(keyA, keyB);
    expect(safetyNumber(keyA, keyC)).not.toBe(ab);
    expect(safetyNumber(keyC, keyB)).not.toBe(ab);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => keyFingerprint(new Uint8Array(31))).toThrow(HaleCryptoError);
    expect(() => safetyNumber(keyA, new Uint8Array(64))).toThrow(HaleCryptoError);
  });
});
