// A vault whose sealed device key opens but does not match the device named beside it (a damaged or
// edited record) is VAULT_CORRUPT — and the device secret key that unlocking opened to find that out is
// zeroed: nothing returns it, so nothing could ever lock it.
import nacl from 'tweetnacl';
import { describe, expect, it, vi } from 'vitest';
import { TEST_KDF, base64urlEncode, generateDeviceKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { HttpApi } from '../api/http-api';
import { VAULT_KEY, createAccount, unlock, unlockWithRecoveryKey } from './account';
import { accountError } from './account.test-util';
import { memoryVault } from './vault';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

// A server that takes any registration and knows no versions: enough to write a vault to unlock from.
const acceptingApi = {
  serverInfo: () => Promise.reject(new Error('offline')),
  register: () => Promise.resolve({}),
} as unknown as HttpApi;

const PASS = 'correct horse battery';

/** A vault holding a fresh account whose record names another device key than the one sealed in it. */
async function vaultNamingAnotherDevice() {
  const vault = memoryVault();
  const { recoveryKey } = await createAccount(
    { api: acceptingApi, vault, ed: nodeEd25519, kdf: TEST_KDF, weakKdfForTests: true },
    { role: 'patient', passphrase: PASS, deviceName: 'laptop' },
  );
  const record = JSON.parse(vault.entries().get(VAULT_KEY)!) as Record<string, unknown>;
  const other = generateDeviceKeys();
  record['deviceId'] = other.deviceId;
  record['devicePublicKey'] = base64urlEncode(other.publicKey);
  await vault.set(VAULT_KEY, JSON.stringify(record));
  return { vault, recoveryKey };
}

/** Runs `fn` while recording every plaintext secretbox.open hands out (the root, the device key). */
async function openedDuring(fn: () => Promise<unknown>): Promise<Uint8Array[]> {
  const opened: Uint8Array[] = [];
  const open = nacl.secretbox.open.bind(nacl.secretbox);
  const spy = vi.spyOn(nacl.secretbox, 'open').mockImplementation((box, nonce, key) => {
    const plain = open(box, nonce, key);
    if (plain !== null) opened.push(plain);
    return plain;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return opened;
}

describe('a vault record naming another device than its sealed key', () => {
  it('unlock: VAULT_CORRUPT, and the device key it opened is zeroed', async () => {
    const { vault } = await vaultNamingAnotherDevice();
    const opened = await openedDuring(() =>
      accountError(unlock({ vault }, { passphrase: PASS }), 'VAULT_CORRUPT'),
    );
    // The root (from the passphrase wrap) and the device secret key (from its seal).
    expect(opened.map((bytes) => bytes.length)).toEqual([32, 64]);
    expect(opened.filter((bytes) => bytes.some((b) => b !== 0))).toEqual([]);
  });

  it('unlockWithRecoveryKey: VAULT_CORRUPT, and the device key it opened is zeroed', async () => {
    const { vault, recoveryKey } = await vaultNamingAnotherDevice();
    const opened = await openedDuring(() =>
      accountError(unlockWithRecoveryKey({ vault }, { recoveryKey }), 'VAULT_CORRUPT'),
    );
    expect(opened.map((bytes) => bytes.length)).toEqual([64]);
    expect(opened.filter((bytes) => bytes.some((b) => b !== 0))).toEqual([]);
  });
});

describe('a vault record whose sealed device key is shorter than a sealed box', () => {
  it.each([
    ['shorter than a nonce', 'AAAA'],
    ['a nonce and less than the seal', base64urlEncode(new Uint8Array(24 + 15))],
  ])('%s: unlock and unlockWithRecoveryKey answer VAULT_CORRUPT', async (_, deviceSecret) => {
    const vault = memoryVault();
    const { recoveryKey } = await createAccount(
      { api: acceptingApi, vault, ed: nodeEd25519, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: PASS, deviceName: 'laptop' },
    );
    const record = JSON.parse(vault.entries().get(VAULT_KEY)!) as Record<string, unknown>;
    record['deviceSecret'] = deviceSecret;
    await vault.set(VAULT_KEY, JSON.stringify(record));
    const opened = await openedDuring(async () => {
      await accountError(unlock({ vault }, { passphrase: PASS }), 'VAULT_CORRUPT');
      await accountError(unlockWithRecoveryKey({ vault }, { recoveryKey }), 'VAULT_CORRUPT');
    });
    // Only the root opened (from the passphrase wrap), and it was zeroed.
    expect(opened.filter((bytes) => bytes.some((b) => b !== 0))).toEqual([]);
  });
});
