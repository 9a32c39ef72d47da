// lock() zeroes the account's key bytes and also drops the Ed25519 implementations' imported private
// keys (`forgetCachedKeys`): no key object of the locked account stays reachable through a cache. Seen
// through the imports a WebCrypto implementation makes: after lock, signing with a copy of the old key
// bytes has to import the key again. Nor does unlocking leave a copy of a secret behind (a seed it derived,
// a key pair it made only to check the vault's device key) that lock cannot reach.
import nacl from 'tweetnacl';
import { describe, expect, it, vi } from 'vitest';
import {
  TEST_KDF,
  createWebCryptoEd25519,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  curveLibrary,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { HttpApi } from '../api/http-api';
import { createAccount, lock, unlock, type UnlockedAccount } from './account';
import { memoryVault } from './vault';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

describe('lock', () => {
  it("leaves none of the account's imported signing keys cached", async () => {
    const subtle = globalThis.crypto.subtle;
    let imports = 0;
    const counted = {
      importKey: (...args: Parameters<typeof subtle.importKey>) => {
        if (args[0] === 'pkcs8') imports++;
        return subtle.importKey(...args);
      },
      sign: (...args: Parameters<typeof subtle.sign>) => subtle.sign(...args),
      verify: (...args: Parameters<typeof subtle.verify>) => subtle.verify(...args),
    };
    // Only the three members the implementation calls.
    const ed = createWebCryptoEd25519(() => counted as unknown as typeof subtle);
    const root = generateRootSecret();
    const keys = deriveAccountKeys(root);
    const account: UnlockedAccount = {
      accountId: keys.accountId,
      role: 'patient',
      root,
      keys,
      device: generateDeviceKeys(),
      deviceName: 'laptop',
    };
    // What code holding copies of the key bytes could still sign with.
    const copies = [account.keys.identity.secretKey.slice(), account.device.secretKey.slice()];
    const msg = Uint8Array.of(7);
    for (const key of [...copies, ...copies]) await ed.sign(key, msg);
    expect(imports).toBe(2);

    lock(account);
    for (const key of copies) await ed.sign(key, msg);
    expect(imports).toBe(4);
  });
});

// A server that takes any registration and knows no versions: enough to write a vault to unlock from.
const acceptingApi = {
  serverInfo: () => Promise.reject(new Error('offline')),
  register: () => Promise.resolve({}),
} as unknown as HttpApi;

describe('lock after unlock', () => {
  it('leaves no copy of a secret key that unlocking derived or checked', async () => {
    const vault = memoryVault();
    const passphrase = 'correct horse battery';
    const created = await createAccount(
      { api: acceptingApi, vault, ed: nodeEd25519, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase, deviceName: 'laptop' },
    );
    lock(created.account);
    // Every Ed25519 and X25519 secret unlocking hands the curve libraries or gets back from tweetnacl:
    // the identity and device seeds, the wrapping secret and the pair made from it.
    const seen: Uint8Array[] = [];
    const ed25519PublicKey = curveLibrary.ed25519PublicKey;
    const fromSecretKey = nacl.box.keyPair.fromSecretKey.bind(nacl.box.keyPair);
    const seeds = vi.spyOn(curveLibrary, 'ed25519PublicKey').mockImplementation((seed) => {
      seen.push(seed);
      return ed25519PublicKey(seed);
    });
    const boxes = vi.spyOn(nacl.box.keyPair, 'fromSecretKey').mockImplementation((secret) => {
      const pair = fromSecretKey(secret);
      seen.push(secret, pair.secretKey);
      return pair;
    });
    try {
      const account = await unlock({ vault }, { passphrase });
      // identity seed, wrapping (secret, pair), device key check seed
      expect(seen).toHaveLength(4);
      lock(account);
      expect(seen.filter((bytes) => bytes.some((b) => b !== 0))).toHaveLength(0);
    } finally {
      seeds.mockRestore();
      boxes.mockRestore();
    }
  });
});
