import type * as NodeCrypto from 'node:crypto';
import nacl from 'tweetnacl';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createNodeEd25519 } from '../node/ed25519';

// Every DER buffer node:crypto is asked to import a private key from, as given (not copied), and whether
// it held the seed then; `failNext` makes the next import throw.
const imports = vi.hoisted(() => ({
  der: [] as { given: Uint8Array; seedThen: Uint8Array }[],
  failNext: false,
}));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return {
    ...actual,
    createPrivateKey: (...args: Parameters<typeof actual.createPrivateKey>) => {
      const options = args[0] as { key?: unknown; format?: string };
      if (options.format === 'der' && options.key instanceof Uint8Array) {
        imports.der.push({ given: options.key, seedThen: Uint8Array.from(options.key.subarray(-32)) });
      }
      if (imports.failNext) {
        imports.failNext = false;
        throw new Error('no Ed25519 here');
      }
      return actual.createPrivateKey(...args);
    },
  };
});

beforeEach(() => {
  imports.der = [];
  imports.failNext = false;
});

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

describe('node:crypto Ed25519 copies of the seed', () => {
  it('zeroes the PKCS#8 DER it imported the seed from, and imports once per key', async () => {
    const pair = nacl.sign.keyPair();
    const ed = createNodeEd25519();
    const msg = Uint8Array.of(4);
    const sig = await ed.sign(pair.secretKey, msg);
    expect(nacl.sign.detached.verify(msg, sig, pair.publicKey)).toBe(true);
    expect(imports.der).toHaveLength(1);
    const [der] = imports.der;
    // It was the seed that went in, and what Node was given holds zeroes now: no copy left behind.
    expect(der!.seedThen).toEqual(pair.secretKey.subarray(0, 32));
    expect(der!.given).toHaveLength(48);
    expect(isZero(der!.given)).toBe(true);
    expect(await ed.sign(pair.secretKey, msg)).toEqual(sig);
    expect(imports.der).toHaveLength(1);
  });

  it('zeroes it when the import fails too', async () => {
    const ed = createNodeEd25519();
    imports.failNext = true;
    await expect(ed.sign(nacl.sign.keyPair().secretKey, Uint8Array.of(1))).rejects.toThrow('no Ed25519');
    expect(imports.der).toHaveLength(1);
    expect(isZero(imports.der[0]!.given)).toBe(true);
  });
});

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
