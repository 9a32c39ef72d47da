import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '../node/ed25519';

describe('node:crypto Ed25519 key cache', () => {
  it('signs with the seed it is given, not with a cached key that shares the public half', async () => {
    const a = nacl.sign.keyPair();
    const b = nacl.sign.keyPair();
    const ed = createNodeEd25519();
    // seedA ‖ pubB: a malformed secret key whose public half names B.
    const mixed = new Uint8Array(64);
    mixed.set(a.secretKey.subarray(0, 32));
    mixed.set(b.publicKey, 32);
    await ed.sign(mixed, Uint8Array.of(1));
    const msg = Uint8Array.of(2);
    const sig = await ed.sign(b.secretKey, msg);
    expect(Buffer.from(sig).toString('hex')).toBe(
      Buffer.from(nacl.sign.detached(msg, b.secretKey)).toString('hex'),
    );
    expect(nacl.sign.detached.verify(msg, sig, b.publicKey)).toBe(true);
  });

  it('signs with each of two seeds under one public half in either order', async () => {
    const a = nacl.sign.keyPair();
    const b = nacl.sign.keyPair();
    const mixed = new Uint8Array(64);
    mixed.set(a.secretKey.subarray(0, 32));
    mixed.set(b.publicKey, 32);
    const ed = createNodeEd25519();
    const msg = Uint8Array.of(3);
    await ed.sign(b.secretKey, msg);
    // node:crypto derives the public key from the seed, so this one is A's signature.
    expect(nacl.sign.detached.verify(msg, await ed.sign(mixed, msg), a.publicKey)).toBe(true);
  });
});
