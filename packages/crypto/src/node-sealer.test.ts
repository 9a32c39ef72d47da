// The server seals every access-audit entry to its patient (`createNodeSealTo`, node:crypto). Importing an
// X25519 secret key derives its public key, so importing the ephemeral key once for its public key and
// again for the shared secret cost a third of each seal. The sealer's X25519 now imports it once and
// reuses that key for the shared secret of the same bytes only: its boxes stay nacl.box's bytes in
// sealTo's layout, and every answer equals tweetnacl's whatever the order of calls.
import type * as NodeCrypto from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it, vi } from 'vitest';
import { createNodeSealTo, createNodeSealX25519, createNodeX25519 } from '../node/x25519';
import { createSealTo, openSealed, type X25519 } from './stream-keys';
import { forgetCachedKeys } from './signatures';

const imports = vi.hoisted(() => ({ secretKeys: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return {
    ...actual,
    createPrivateKey: (...args: Parameters<typeof actual.createPrivateKey>) => {
      imports.secretKeys += 1;
      return actual.createPrivateKey(...args);
    },
  };
});

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const patient = nacl.box.keyPair();

describe("the node sealer's X25519", () => {
  it('imports one secret key a seal, where two imports a seal were made before', () => {
    const body = new Uint8Array(300);
    const count = (seal: (pk: Uint8Array, m: Uint8Array) => Uint8Array) => {
      imports.secretKeys = 0;
      for (let i = 0; i < 10; i++) seal(patient.publicKey, body);
      return imports.secretKeys;
    };
    expect(count(createSealTo(createNodeX25519()))).toBe(20);
    expect(count(createNodeSealTo())).toBe(10);
  });

  it('keeps a secret key imported once it opens a second box, never a key met once', () => {
    const opener = createNodeX25519();
    const boxes = Array.from({ length: 10 }, () => createNodeSealTo()(patient.publicKey, Uint8Array.of(7)));
    imports.secretKeys = 0;
    for (const box of boxes)
      expect(openSealed(patient, box, opener)).toEqual({ ok: true, value: Uint8Array.of(7) });
    // The first open imports it, the second imports it to keep; the other eight import nothing.
    expect(imports.secretKeys).toBe(2);
    // Kept by its bytes: the same array holding another key answers for that key.
    const held = Uint8Array.from(patient.secretKey);
    const other = nacl.box.keyPair();
    const peer = nacl.box.keyPair().publicKey;
    expect(same(opener.sharedSecret(held, peer), nacl.scalarMult(held, peer))).toBe(true);
    held.set(other.secretKey);
    expect(same(opener.sharedSecret(held, peer), nacl.scalarMult(other.secretKey, peer))).toBe(true);
    // A seal's ephemeral keys are met once each: every seal imports as before, none is kept.
    imports.secretKeys = 0;
    const sealer = createSealTo(opener);
    for (let i = 0; i < 5; i++) sealer(patient.publicKey, Uint8Array.of(i));
    expect(imports.secretKeys).toBe(10);
    // forgetCachedKeys drops the kept keys: the next open imports again.
    forgetCachedKeys();
    imports.secretKeys = 0;
    openSealed(patient, boxes[0]!, opener);
    expect(imports.secretKeys).toBe(1);
  });

  it("writes nacl.box's bytes in sealTo's layout, which openSealed opens", () => {
    const inner = createNodeSealX25519();
    const secrets: Uint8Array[] = [];
    const recording: X25519 = {
      ...inner,
      publicKey: (secret) => {
        secrets.push(Uint8Array.from(secret));
        return inner.publicKey(secret);
      },
    };
    const seal = createSealTo(recording);
    for (const plaintext of [new Uint8Array(0), nacl.randomBytes(1), nacl.randomBytes(3000)]) {
      const sealed = seal(patient.publicKey, plaintext);
      const esk = secrets.at(-1)!;
      const nonce = sealed.subarray(33, 57);
      expect(sealed[0]).toBe(1);
      expect(same(sealed.subarray(1, 33), nacl.scalarMult.base(esk))).toBe(true);
      expect(same(sealed.subarray(57), nacl.box(plaintext, nonce, patient.publicKey, esk))).toBe(true);
      const opened = openSealed(patient, sealed);
      expect(opened.ok && same(opened.value, plaintext)).toBe(true);
    }
    expect(secrets).toHaveLength(3);
  });

  it("answers tweetnacl's values in any order of calls, reusing a key only for the same bytes", () => {
    const x = createNodeSealX25519();
    for (let i = 0; i < 50; i++) {
      const a = nacl.randomBytes(32);
      const b = nacl.randomBytes(32);
      const peer = nacl.randomBytes(32);
      expect(same(x.publicKey(a), nacl.scalarMult.base(a))).toBe(true);
      // Another key after a's public key: not a's.
      expect(same(x.sharedSecret(b, peer), nacl.scalarMult(b, peer))).toBe(true);
      // a's key is no longer held; asked again it is imported again.
      expect(same(x.sharedSecret(a, peer), nacl.scalarMult(a, peer))).toBe(true);
      // The same array changed in place between the two calls: the new bytes count.
      x.publicKey(a);
      a[i % 32] = a[i % 32]! ^ 1;
      expect(same(x.sharedSecret(a, peer), nacl.scalarMult(a, peer))).toBe(true);
      // Public key twice, then the shared secret of the first.
      x.publicKey(a);
      x.publicKey(b);
      expect(same(x.sharedSecret(a, peer), nacl.scalarMult(a, peer))).toBe(true);
    }
    // A low-order peer: X25519's all-zero output, as createNodeX25519 answers it.
    const a = nacl.randomBytes(32);
    x.publicKey(a);
    expect(same(x.sharedSecret(a, new Uint8Array(32)), new Uint8Array(32))).toBe(true);
    expect(() => x.publicKey(a.subarray(1))).toThrow();
    expect(() => x.sharedSecret(a.subarray(1), a)).toThrow();
  });
});
