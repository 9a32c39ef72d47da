// `forgetCachedKeys` drops every imported private key the Ed25519 implementations keep (WebCrypto's and
// node:crypto's), so a locked account leaves no key object behind: the next signature with the same
// secret key imports it again. Seen through the imports each implementation makes.
import type * as NodeCrypto from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it, vi } from 'vitest';
import { createNodeEd25519 } from '../node/ed25519';
import { createWebCryptoEd25519, forgetCachedKeys } from './signatures';

const nodeImports = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return {
    ...actual,
    createPrivateKey: (...args: Parameters<typeof actual.createPrivateKey>) => {
      nodeImports.count++;
      return actual.createPrivateKey(...args);
    },
  };
});

/** WebCrypto over the global SubtleCrypto, counting the private keys it imports. */
const countingWebCrypto = () => {
  const subtle = globalThis.crypto.subtle;
  const imports = { count: 0 };
  const counted = {
    importKey: (...args: Parameters<typeof subtle.importKey>) => {
      if (args[0] === 'pkcs8') imports.count++;
      return subtle.importKey(...args);
    },
    sign: (...args: Parameters<typeof subtle.sign>) => subtle.sign(...args),
    verify: (...args: Parameters<typeof subtle.verify>) => subtle.verify(...args),
  };
  // Only the three members the implementation calls; the rest of SubtleCrypto is never reached.
  return { ed: createWebCryptoEd25519(() => counted as unknown as typeof subtle), imports };
};

describe('forgetCachedKeys', () => {
  const msg = Uint8Array.of(1, 2, 3);

  it('drops the WebCrypto private keys: the same secret key is imported again, and still signs right', async () => {
    const { ed, imports } = countingWebCrypto();
    const a = nacl.sign.keyPair();
    const b = nacl.sign.keyPair();
    await ed.sign(a.secretKey, msg);
    await ed.sign(b.secretKey, msg);
    await ed.sign(a.secretKey, msg);
    expect(imports.count).toBe(2);
    forgetCachedKeys();
    const sig = await ed.sign(a.secretKey, msg);
    expect(imports.count).toBe(3);
    expect(nacl.sign.detached.verify(msg, sig, a.publicKey)).toBe(true);
    await ed.sign(b.secretKey, msg);
    expect(imports.count).toBe(4);
  });

  it('drops the node:crypto private keys of every instance', async () => {
    const [one, two] = [createNodeEd25519(), createNodeEd25519()];
    const a = nacl.sign.keyPair();
    nodeImports.count = 0;
    await one.sign(a.secretKey, msg);
    await two.sign(a.secretKey, msg);
    await one.sign(a.secretKey, msg);
    expect(nodeImports.count).toBe(2);
    forgetCachedKeys();
    const sig = await one.sign(a.secretKey, msg);
    await two.sign(a.secretKey, msg);
    expect(nodeImports.count).toBe(4);
    expect(nacl.sign.detached.verify(msg, sig, a.publicKey)).toBe(true);
  });
});
