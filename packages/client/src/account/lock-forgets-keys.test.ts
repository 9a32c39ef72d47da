// lock() zeroes the account's key bytes and also drops the Ed25519 implementations' imported private
// keys (`forgetCachedKeys`): no key object of the locked account stays reachable through a cache. Seen
// through the imports a WebCrypto implementation makes: after lock, signing with a copy of the old key
// bytes has to import the key again.
import { describe, expect, it } from 'vitest';
import {
  createWebCryptoEd25519,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
} from '@hale/crypto';
import { lock, type UnlockedAccount } from './account';

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
