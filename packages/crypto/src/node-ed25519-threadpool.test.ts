// node:crypto's Ed25519 with `verify: 'threadpool'` runs the same OpenSSL verify off the main thread, after
// the same shared input checks: it must accept exactly what the inline one accepts, whatever is in flight.
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '../node/ed25519';
import { hexDecode } from './encoding';

const hex = (h: string): Uint8Array => {
  const r = hexDecode(h);
  if (!r.ok) throw new Error('bad hex');
  return r.value;
};
/** Group order L, little-endian: S + L is a malleated copy of a signature's S. */
const L = hex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
const plusL = (sig: Uint8Array): Uint8Array => {
  const out = Uint8Array.from(sig);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const v = out[32 + i]! + L[i]! + carry;
    out[32 + i] = v & 0xff;
    carry = v >> 8;
  }
  return out;
};

describe('node:crypto Ed25519 verifying in the threadpool', () => {
  it('accepts exactly what the inline implementation accepts, many in flight', async () => {
    const inline = createNodeEd25519();
    const pooled = createNodeEd25519({ verify: 'threadpool' });
    expect(pooled.name).toBe('node:crypto (threadpool)');
    const cases: Array<{ a: Uint8Array; m: Uint8Array; sig: Uint8Array }> = [];
    for (let i = 0; i < 40; i++) {
      const pair = nacl.sign.keyPair();
      const m = nacl.randomBytes(1 + i * 13);
      const sig = nacl.sign.detached(m, pair.secretKey);
      const tampered = Uint8Array.from(m);
      tampered[0]! ^= 1;
      cases.push({ a: pair.publicKey, m, sig });
      cases.push({ a: pair.publicKey, m: tampered, sig });
      cases.push({ a: nacl.sign.keyPair().publicKey, m, sig });
      cases.push({ a: pair.publicKey, m, sig: plusL(sig) });
    }
    const zeroSig = new Uint8Array(64);
    // Small-order keys (the neutral element, y = 0, order 2), which verify (R = neutral, S = 0) for anything.
    for (const a of [
      hex('0100000000000000000000000000000000000000000000000000000000000000'),
      hex('0000000000000000000000000000000000000000000000000000000000000000'),
      hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
    ]) {
      const neutralR = Uint8Array.from(zeroSig);
      neutralR[0] = 1;
      cases.push({ a, m: Uint8Array.of(1), sig: neutralR });
    }
    cases.push({ a: new Uint8Array(31), m: Uint8Array.of(1), sig: zeroSig });
    cases.push({ a: nacl.sign.keyPair().publicKey, m: Uint8Array.of(1), sig: new Uint8Array(63) });
    const want = await Promise.all(cases.map((c) => inline.verify(c.a, c.m, c.sig)));
    const got = await Promise.all(cases.map((c) => pooled.verify(c.a, c.m, c.sig)));
    expect(got).toEqual(want);
    expect(want.filter(Boolean)).toHaveLength(40);
  });

  it('signs as the inline implementation does', async () => {
    const pair = nacl.sign.keyPair();
    const m = Uint8Array.of(1, 2, 3);
    const pooled = createNodeEd25519({ verify: 'threadpool' });
    expect(await pooled.sign(pair.secretKey, m)).toEqual(nacl.sign.detached(m, pair.secretKey));
    await expect(pooled.sign(new Uint8Array(10), m)).rejects.toThrow();
  });
});
