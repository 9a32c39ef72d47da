// node:crypto's SHA-256 / HMAC-SHA256 (`createNodeHashes`) against @noble/hashes, the reference: the same
// bytes on random inputs across block boundaries, keys shorter and longer than a block, and through the
// module's own functions once installed with `useHashes`.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeHashes } from '../node/hashes';
import { hashesName, hkdfSha256, hmacSha256, labeledSha256, sha256, useHashes } from './hash';
import { randomBytes } from './random';
import { utf8Encode } from './encoding';

const lengths = [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 200, 1000, 1400, 4096];
const keyLengths = [0, 1, 16, 32, 63, 64, 65, 100, 200];

afterEach(() => useHashes(null));

describe('createNodeHashes', () => {
  const node = createNodeHashes();

  it('answers sha256 of the concatenated parts, as @noble/hashes', () => {
    for (const n of lengths) {
      const data = randomBytes(n);
      expect(node.sha256([data])).toEqual(nobleSha256(data));
      const cut = Math.floor(n / 3);
      expect(node.sha256([data.subarray(0, cut), data.subarray(cut), new Uint8Array(0)])).toEqual(
        nobleSha256(data),
      );
    }
    expect(node.sha256([])).toEqual(nobleSha256(new Uint8Array(0)));
  });

  it('answers HMAC-SHA256 as @noble/hashes, for keys shorter and longer than a block', () => {
    for (const k of keyLengths)
      for (const n of [0, 1, 64, 200, 1400]) {
        const key = randomBytes(k);
        const data = randomBytes(n);
        expect(node.hmacSha256(key, data)).toEqual(hmac(nobleSha256, key, data));
      }
  });

  it('answers fresh plain Uint8Arrays, not Buffers', () => {
    const a = node.sha256([randomBytes(10)]);
    const b = node.hmacSha256(randomBytes(32), randomBytes(10));
    for (const out of [a, b]) {
      expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
      expect(out.length).toBe(32);
    }
    expect(a.buffer).not.toBe(b.buffer);
  });

  it('once installed, sha256, labeledSha256 and hmacSha256 answer what they answer without it', () => {
    const cases = lengths.map((n) => ({ data: randomBytes(n), key: randomBytes(32), extra: randomBytes(7) }));
    const reference = cases.map((c) => [
      sha256(c.data),
      labeledSha256('hale/test/v1', c.data, c.extra),
      labeledSha256('hale/test/v1'),
      hmacSha256(c.key, c.data),
      hkdfSha256(c.key, 'hale/test/v1'),
    ]);
    expect(hashesName()).toBe('@noble/hashes');
    useHashes(node);
    expect(hashesName()).toBe('node:crypto');
    cases.forEach((c, i) => {
      expect([
        sha256(c.data),
        labeledSha256('hale/test/v1', c.data, c.extra),
        labeledSha256('hale/test/v1'),
        hmacSha256(c.key, c.data),
        hkdfSha256(c.key, 'hale/test/v1'),
      ]).toEqual(reference[i]);
    });
    // The label is hashed first, as its UTF-8 bytes.
    const data = randomBytes(50);
    expect(labeledSha256('hale/x/v1', data)).toEqual(
      nobleSha256(new Uint8Array([...utf8Encode('hale/x/v1'), ...data])),
    );
  });

  it('useHashes(null) restores @noble/hashes', () => {
    let calls = 0;
    useHashes({
      name: 'counted',
      sha256: (parts) => (calls++, node.sha256(parts)),
      hmacSha256: (key, data) => (calls++, node.hmacSha256(key, data)),
    });
    sha256(randomBytes(3));
    hmacSha256(randomBytes(32), randomBytes(3));
    expect(calls).toBe(2);
    useHashes(null);
    sha256(randomBytes(3));
    hmacSha256(randomBytes(32), randomBytes(3));
    expect(calls).toBe(2);
    expect(hashesName()).toBe('@noble/hashes');
  });
});
