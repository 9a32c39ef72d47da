// libsodium's X25519 against tweetnacl's scalarMult, the reference: the same outputs on random, honest,
// non-canonical and low-order keys; envelopes wrapped with one open with the other.
import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { HaleCryptoError } from './errors';
import { generateStreamKey, unwrapKey, wrapKey, tweetnaclX25519, type X25519 } from './stream-keys';
import { lateX25519, loadSodiumX25519 } from './sodium-x25519';
import { LOW_ORDER, hexBytes, same } from './x25519.test-util';

const load = async (): Promise<X25519> => {
  const x = await loadSodiumX25519();
  if (x === null) throw new Error('libsodium did not load');
  return x;
};

describe('libsodium X25519 against tweetnacl', () => {
  it('gives scalarMult outputs on random, non-canonical and low-order keys', async () => {
    const sodium = await load();
    expect(sodium.name).toBe('libsodium');
    for (let i = 0; i < 200; i++) {
      const secret = nacl.randomBytes(32);
      expect(same(sodium.publicKey(secret), nacl.scalarMult.base(secret)), `base ${i}`).toBe(true);
      const peer = nacl.randomBytes(32);
      expect(same(sodium.sharedSecret(secret, peer), nacl.scalarMult(secret, peer)), `shared ${i}`).toBe(
        true,
      );
    }
    const secret = nacl.randomBytes(32);
    for (const peer of [...LOW_ORDER, hexBytes('f0'.padEnd(62, 'f') + '7f'), hexBytes('ff'.repeat(32))]) {
      expect(same(sodium.sharedSecret(secret, peer), nacl.scalarMult(secret, peer))).toBe(true);
    }
    expect(() => sodium.publicKey(secret.subarray(1))).toThrow(HaleCryptoError);
    expect(() => sodium.sharedSecret(secret, secret.subarray(1))).toThrow(HaleCryptoError);
  });

  it('opens envelopes tweetnacl wrapped and the other way round; a wrong key or context still fails', async () => {
    const sodium = await load();
    const me = nacl.box.keyPair();
    const other = nacl.box.keyPair();
    const ctx = { stream: 'p1:Allergy', epoch: 2 };
    for (const [by, with_] of [
      [tweetnaclX25519, sodium],
      [sodium, tweetnaclX25519],
    ] as const) {
      const key = generateStreamKey();
      const wrapped = wrapKey(key, me.publicKey, ctx, by);
      const opened = unwrapKey(wrapped, me, ctx, with_);
      expect(opened.ok && same(opened.value, key)).toBe(true);
      expect(unwrapKey(wrapped, other, ctx, with_).ok).toBe(false);
      expect(unwrapKey(wrapped, me, { ...ctx, epoch: 3 }, with_).ok).toBe(false);
    }
  });

  it('lateX25519 is tweetnacl until the load resolves, then the loaded one; a failed load keeps tweetnacl', async () => {
    let resolve: (x: X25519 | null) => void = () => undefined;
    const late = lateX25519(() => new Promise((r) => (resolve = r)));
    expect(late.name).toBe('tweetnacl');
    const secret = nacl.randomBytes(32);
    expect(same(late.publicKey(secret), nacl.scalarMult.base(secret))).toBe(true);
    resolve(await load());
    await late.ready;
    expect(late.name).toBe('libsodium');
    expect(same(late.publicKey(secret), nacl.scalarMult.base(secret))).toBe(true);
    const failed = lateX25519(() => Promise.reject(new Error('no WebAssembly')));
    await failed.ready;
    expect(failed.name).toBe('tweetnacl');
  });
});
