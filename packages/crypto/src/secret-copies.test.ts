// Copies of secret keys that this package makes on the way to a library (a seed handed to tweetnacl, a
// PKCS#8 encoding handed to WebCrypto) are zeroed once the library has taken its own: zeroing the key an
// account holds (its lock) must leave no copy of it behind. Seen through what the libraries are given.
import nacl from 'tweetnacl';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { curveLibrary } from './curve-library';
import { generateDeviceKeys } from './device';
import { base64urlEncode } from './encoding';
import { createWebCryptoEd25519 } from './signatures';
import { useSecretbox } from './secretbox';
import { generateStreamKey, unwrapKey, wrapKey } from './stream-keys';

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('generateDeviceKeys', () => {
  it('zeroes the seed it drew once the key pair is made (the secret key holds the only copy)', () => {
    const seeds: Uint8Array[] = [];
    const ed25519PublicKey = curveLibrary.ed25519PublicKey;
    vi.spyOn(curveLibrary, 'ed25519PublicKey').mockImplementation((seed) => {
      seeds.push(seed);
      return ed25519PublicKey(seed);
    });
    const device = generateDeviceKeys();
    expect(seeds).toHaveLength(1);
    // The key pair is the seed's: it was copied into the secret key before it was zeroed.
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

describe('stream-key envelopes', () => {
  const recipient = nacl.box.keyPair();
  const ctx = { stream: 'Qk3abc/allergy', epoch: 7 };

  /** Every string the text codecs and JSON are given or answer while `run` runs. */
  const stringsMadeBy = <T>(run: () => T): { value: T; strings: string[] } => {
    const decode = vi.spyOn(TextDecoder.prototype, 'decode');
    const encode = vi.spyOn(TextEncoder.prototype, 'encode');
    const parse = vi.spyOn(JSON, 'parse');
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const value = run();
      const strings = [
        ...decode.mock.results.map((r) => r.value as unknown),
        ...encode.mock.calls.map((c) => c[0]),
        ...parse.mock.calls.map((c) => c[0]),
        ...stringify.mock.results.map((r) => r.value as unknown),
      ].filter((s): s is string => typeof s === 'string');
      return { value, strings };
    } finally {
      vi.restoreAllMocks();
    }
  };

  it('unwrapKey makes no string of the key, and zeroes the opened plaintext', () => {
    const key = generateStreamKey();
    const envelope = wrapKey(key, recipient.publicKey, ctx);
    // The box opens through the thread's secretbox (libsodium where installed): one that notes what it answers.
    const opened: Array<Uint8Array | null> = [];
    useSecretbox({
      name: 'noting',
      sealInto: () => {
        throw new Error('not sealing here');
      },
      open: (box, nonce, k) => {
        const plain = nacl.secretbox.open(box, nonce, k);
        opened.push(plain);
        return plain;
      },
    });
    let made: { value: ReturnType<typeof unwrapKey>; strings: string[] };
    try {
      made = stringsMadeBy(() => unwrapKey(envelope, recipient, ctx));
    } finally {
      useSecretbox(null);
    }
    const { value, strings } = made;
    expect(value).toEqual({ ok: true, value: key });
    const text = base64urlEncode(key);
    expect(strings.length).toBeGreaterThan(0);
    expect(strings.filter((s) => s.includes(text))).toEqual([]);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toBeInstanceOf(Uint8Array);
    expect(isZero(opened[0]!)).toBe(true);
  });

  it('wrapKey makes no string of the key, and zeroes the plaintext it sealed', () => {
    const key = generateStreamKey();
    const after = vi.spyOn(nacl.box, 'after');
    const { value: envelope, strings } = stringsMadeBy(() => wrapKey(key, recipient.publicKey, ctx));
    const sealed = after.mock.calls.map((c) => c[0]);
    const text = base64urlEncode(key);
    expect(strings.length).toBeGreaterThan(0);
    expect(strings.filter((s) => s.includes(text))).toEqual([]);
    expect(sealed).toHaveLength(1);
    expect(isZero(sealed[0]!)).toBe(true);
    expect(unwrapKey(envelope, recipient, ctx)).toEqual({ ok: true, value: key });
  });
});
