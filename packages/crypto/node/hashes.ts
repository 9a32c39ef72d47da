/**
 * SHA-256 and HMAC-SHA256 through node:crypto (OpenSSL) for `useHashes`: the same outputs as
 * @noble/hashes', 2–3× faster on the sizes a device hashes per stored record version (a ≈1.4 KB
 * ciphertext, a ≈200-byte binding input). Node-only, so it lives outside src/ and is imported as
 * `@hale/crypto/node` by Node hosts (platform-node, the crypto worker thread, the server).
 *
 * Invariants: equal to @noble/hashes' sha256 and hmac(sha256) on every input (hashes.test.ts
 * cross-checks random lengths across block boundaries and keys shorter and longer than a block); each
 * answer is a fresh plain Uint8Array (not a Buffer: `slice` must copy as a Uint8Array's does).
 * Failure modes: none for Uint8Array inputs; OpenSSL errors are rethrown.
 */
import { createHash, createHmac } from 'node:crypto';
import type { FastHashes } from '../src/index';

const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export function createNodeHashes(): FastHashes {
  return {
    name: 'node:crypto',
    sha256(parts) {
      const h = createHash('sha256');
      for (const p of parts) h.update(p);
      return plain(h.digest());
    },
    hmacSha256(key, data) {
      return plain(createHmac('sha256', key).update(data).digest());
    },
  };
}
