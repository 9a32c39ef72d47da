/**
 * Ed25519 through node:crypto (OpenSSL): about 200× tweetnacl's verify rate on this hardware. Signatures
 * are identical to tweetnacl's (Ed25519 is deterministic); signatures.test.ts cross-checks all three ways.
 * Node-only, so it lives outside src/ and is imported as `@hale/crypto/node` by the server.
 * KeyObjects are cached (bounded) because importing a key costs as much as a verify. A private key is
 * cached under a labelled hash of the whole 64-byte secret key, as the WebCrypto cache is: keyed by the
 * public half alone, a secret key whose halves disagree would leave its seed's key to be used for the
 * secret key with that public half; and the secret itself is never a map key. Private keys are kept
 * in a `createPrivateKeyCache` (LRU), so `forgetCachedKeys` drops them with WebCrypto's.
 *
 * | `verify` option       | where a verify runs              | for                                              |
 * | --------------------- | -------------------------------- | ------------------------------------------------ |
 * | `'inline'` (default)  | on the calling thread, at once   | one verify at a time (the server's checks)      |
 * | `'threadpool'`        | libuv's threadpool (OpenSSL job) | many in flight (a device: @hale/platform-node's): they run beside the main thread's work; one alone costs ≈40 % more |
 *
 * Both accept exactly the same signatures (the same OpenSSL call after the same shared input checks).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import {
  createEd25519FromAsync,
  createEd25519FromSync,
  ed25519Pkcs8FromSecretKey,
  ed25519SpkiFromPublicKey,
  createKeyCache,
  createPrivateKeyCache,
  privateKeyCacheId,
  type Ed25519,
} from '../src/index';

const CACHE_LIMIT = 10_000;

export const createNodeEd25519 = (options: { verify?: 'inline' | 'threadpool' } = {}): Ed25519 => {
  const privateKeys = createPrivateKeyCache<KeyObject>(CACHE_LIMIT);
  const publicKeys = createKeyCache<KeyObject>(CACHE_LIMIT);
  const signInline = (secretKey64: Uint8Array, msg: Uint8Array): Uint8Array => {
    const id = privateKeyCacheId(secretKey64);
    let key = privateKeys.get(id);
    if (key === undefined) {
      // The DER holds the seed: viewed, not copied (a Buffer copy may sit in Node's shared pool), and
      // zeroed once Node has its own key object.
      const der = ed25519Pkcs8FromSecretKey(secretKey64);
      try {
        key = createPrivateKey({
          key: Buffer.from(der.buffer, der.byteOffset, der.byteLength),
          format: 'der',
          type: 'pkcs8',
        });
      } finally {
        der.fill(0);
      }
      privateKeys.set(id, key);
    }
    return new Uint8Array(sign(null, msg, key));
  };
  /** The public key imported (cached); throws on a key OpenSSL refuses. */
  const publicKeyOf = (publicKey: Uint8Array): KeyObject => {
    const id = Buffer.from(publicKey).toString('base64');
    let key = publicKeys.get(id);
    if (key === undefined) {
      key = createPublicKey({
        key: Buffer.from(ed25519SpkiFromPublicKey(publicKey)),
        format: 'der',
        type: 'spki',
      });
      publicKeys.set(id, key);
    }
    return key;
  };
  if (options.verify === 'threadpool') {
    return createEd25519FromAsync({
      name: 'node:crypto (threadpool)',
      sign: async (secretKey64, msg) => signInline(secretKey64, msg),
      verify: (publicKey, msg, sig) =>
        new Promise((resolve) => {
          if (publicKey.length !== 32 || sig.length !== 64) {
            resolve(false);
            return;
          }
          try {
            verify(null, msg, publicKeyOf(publicKey), sig, (error, ok) => resolve(error === null && ok));
          } catch {
            resolve(false);
          }
        }),
    });
  }
  return createEd25519FromSync({
    name: 'node:crypto',
    sign: signInline,
    verify: (publicKey, msg, sig) => {
      if (publicKey.length !== 32 || sig.length !== 64) return false;
      try {
        return verify(null, msg, publicKeyOf(publicKey), sig);
      } catch {
        return false;
      }
    },
  });
};
