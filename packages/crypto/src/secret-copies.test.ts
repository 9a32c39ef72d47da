// Copies of secret keys that this package makes on the way to a library (a seed handed to tweetnacl, a
// PKCS#8 encoding handed to WebCrypto) are zeroed once the library has taken its own: zeroing the key an
// account holds (its lock) must leave no copy of it behind. Seen through what the libraries are given.
import nacl from 'tweetnacl';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateDeviceKeys } from './device';
import { createWebCryptoEd25519 } from './signatures';

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('generateDeviceKeys', () => {
  it('zeroes the seed it drew once tweetnacl has made the key pair (the secret key holds the only copy)', () => {
    const seeds: Uint8Array[] = [];
    const fromSeed = nacl.sign.keyPair.fromSeed.bind(nacl.sign.keyPair);
    vi.spyOn(nacl.sign.keyPair, 'fromSeed').mockImplementation((seed) => {
      seeds.push(seed);
      return fromSeed(seed);
    });
    const device = generateDeviceKeys();
    expect(seeds).toHaveLength(1);
    // The key pair is the seed's: tweetnacl copied it before it was zeroed.
    expect(nacl.sign.keyPair.fromSecretKey(device.secretKey).publicKey).toEqual(device.publicKey);
    expect(isZero(device.secretKey.subarray(0, 32))).toBe(false);
    expect(isZero(seeds[0]!)).toBe(true);
  });
});

describe('WebCrypto Ed25519', () => {
  /** WebCrypto over the global SubtleCrypto, keeping each PKCS#8 buffer it is asked to import. */
  const recordingWebCrypto = () => {
    const subtle = globalThis.crypto.subtle;
    const imported: Uint8Array[] = [];
    const recording = {
      importKey: (...args: Parameters<typeof subtle.importKey>) => {
        if (args[0] === 'pkcs8' && args[1] instanceof Uint8Array) imported.push(args[1]);
        return subtle.importKey(...args);
      },
      sign: (...args: Parameters<typeof subtle.sign>) => subtle.sign(...args),
      verify: (...args: Parameters<typeof subtle.verify>) => subtle.verify(...args),
    };
    // Only the three members the implementation calls.
    return { ed: createWebCryptoEd25519(() => recording as unknown as typeof subtle), imported };
  };

  it('zeroes the PKCS#8 copy of the seed once the key is imported, and still signs right', async () => {
    const { ed, imported } = recordingWebCrypto();
    const pair = nacl.sign.keyPair();
    const msg = Uint8Array.of(1, 2, 3);
    const sig = await ed.sign(pair.secretKey, msg);
    expect(nacl.sign.detached.verify(msg, sig, pair.publicKey)).toBe(true);
    expect(imported).toHaveLength(1);
    expect(isZero(imported[0]!)).toBe(true);
    // The cached key signs again without another import; the secret key itself is left as it was.
    expect(await ed.sign(pair.secretKey, msg)).toEqual(sig);
    expect(imported).toHaveLength(1);
    expect(pair.secretKey).toEqual(nacl.sign.keyPair.fromSeed(pair.secretKey.subarray(0, 32)).secretKey);
  });

  it('zeroes the PKCS#8 copy when the import fails too', async () => {
    const imported: Uint8Array[] = [];
    const failing = {
      importKey: (_format: string, data: Uint8Array) => {
        imported.push(data);
        return Promise.reject(new Error('no Ed25519 here'));
      },
    };
    const ed = createWebCryptoEd25519(() => failing as unknown as typeof globalThis.crypto.subtle);
    await expect(ed.sign(nacl.sign.keyPair().secretKey, Uint8Array.of(1))).rejects.toThrow('no Ed25519');
    expect(imported).toHaveLength(1);
    expect(isZero(imported[0]!)).toBe(true);
  });
});
