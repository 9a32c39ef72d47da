/**
 * The vault's account record: read, written, and the device key sealed in it.
 *
 * - The root is held only passphrase-wrapped; the device's Ed25519 secret key only sealed (secretbox) under
 *   `keys.localKey`, derived from the root: unreadable until the passphrase unwraps the root.
 * - What is read back is checked: the unsealed device key must match the record's device id and public key
 *   (its public half recomputed from the seed), else VAULT_CORRUPT, the opened bytes zeroed first.
 * - Vault-writing operations run one at a time per Vault object (`exclusive`), each re-reading the vault once
 *   it runs; two Vault objects over the same storage are not serialised with each other.
 * - Failure modes: no record → NO_ACCOUNT; a record where none may be → ACCOUNT_EXISTS; wrong passphrase →
 *   WRONG_PASSPHRASE; a wrap that cannot be used → BAD_WRAPPED_ROOT; a broken record → VAULT_CORRUPT (see
 *   vault.ts for VAULT_TOO_NEW).
 */
import { type Vault, type VaultRecord, parseVaultRecord } from './vault';
import {
  unwrapRootWithPassphrase,
  randomBytes,
  base64urlEncode,
  type DeviceKeys,
  base64urlDecode,
  signingKeyPairFromSeed,
  constantTimeEqual,
  deviceIdFromPublicKey,
  type PassphraseWrappedRoot,
  type AccountKeys,
} from '@hale/crypto';
import { AccountError } from '../core/account-error';
import nacl from 'tweetnacl';
import { VAULT_KEY, type UnlockedAccount, type Role, type AccountDeps } from './account-deps';

// Tail of the queue of vault-writing operations, per vault.
const vaultQueues = new WeakMap<Vault, Promise<void>>();

/**
 * Runs `fn` once every vault-writing operation started earlier on `vault` has ended (however it ended).
 * Without it a check-then-write (empty vault? then register and write) interleaves with another.
 */
export async function exclusive<T>(vault: Vault, fn: () => Promise<T>): Promise<T> {
  const before = vaultQueues.get(vault) ?? Promise.resolve();
  let release = (): void => undefined;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = before.then(() => mine);
  vaultQueues.set(vault, tail);
  try {
    await before;
    return await fn();
  } finally {
    release();
    if (vaultQueues.get(vault) === tail) vaultQueues.delete(vault);
  }
}

export async function unwrapRoot(wrappedRoot: unknown, passphrase: string): Promise<Uint8Array> {
  const root = await unwrapRootWithPassphrase(wrappedRoot, passphrase);
  if (root.ok) return root.value;
  if (root.error.code === 'WRONG_KEY')
    throw new AccountError(
      'WRONG_PASSPHRASE',
      'this passphrase does not open the account; check it and try again',
    );
  throw new AccountError('BAD_WRAPPED_ROOT', `the wrapped root cannot be used: ${root.error.message}`);
}

function sealDeviceSecret(localKey: Uint8Array, secretKey: Uint8Array): string {
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const box = nacl.secretbox(secretKey, nonce, localKey);
  const out = new Uint8Array(nonce.length + box.length);
  out.set(nonce, 0);
  out.set(box, nonce.length);
  return base64urlEncode(out);
}

export function openDeviceSecret(localKey: Uint8Array, record: VaultRecord): DeviceKeys {
  const sealed = base64urlDecode(record.deviceSecret);
  const publicKey = base64urlDecode(record.devicePublicKey);
  const corrupt = (why: string) => new AccountError('VAULT_CORRUPT', `vault: ${why}`);
  if (!sealed.ok || !publicKey.ok) throw corrupt('bad encoding');
  const n = nacl.secretbox.nonceLength;
  // tweetnacl throws (not null) for a nonce cut short: a record shorter than a sealed box is refused first.
  if (sealed.value.length < n + nacl.secretbox.overheadLength) throw corrupt('the device key does not open');
  const secretKey = nacl.secretbox.open(sealed.value.subarray(n), sealed.value.subarray(0, n), localKey);
  if (secretKey === null) throw corrupt('the device key does not open');
  // Refused from here on, the opened bytes are zeroed first: they are the device's real secret key (only
  // the root's localKey seals them), and an unlock that fails returns nothing lock() could zero.
  const refuse = (why: string): never => {
    secretKey.fill(0);
    throw corrupt(why);
  };
  if (secretKey.length !== 64) refuse('the device key does not open');
  // The public half is recomputed from the seed: a key that only claims to match is refused. The pair made
  // for that is a second copy of the secret key, which lock() would never reach: zeroed at once.
  const check = signingKeyPairFromSeed(secretKey.subarray(0, 32));
  const derived = check.publicKey;
  check.secretKey.fill(0);
  if (
    !constantTimeEqual(derived, publicKey.value) ||
    !constantTimeEqual(secretKey.subarray(32), publicKey.value) ||
    deviceIdFromPublicKey(publicKey.value) !== record.deviceId
  ) {
    refuse('the device key does not match its id');
  }
  return { deviceId: record.deviceId, publicKey: publicKey.value, secretKey };
}

export async function readRecord(vault: Vault): Promise<VaultRecord | null> {
  const text = await vault.get(VAULT_KEY);
  return text === null ? null : parseVaultRecord(text);
}

export async function requireRecord(vault: Vault): Promise<VaultRecord> {
  const record = await readRecord(vault);
  if (record === null) throw new AccountError('NO_ACCOUNT', 'this device holds no account');
  return record;
}

export async function requireEmptyVault(vault: Vault): Promise<void> {
  if ((await vault.get(VAULT_KEY)) !== null) {
    throw new AccountError('ACCOUNT_EXISTS', 'this device already holds an account');
  }
}

export async function writeRecord(
  vault: Vault,
  account: UnlockedAccount,
  wrappedRoot: PassphraseWrappedRoot | VaultRecord['wrappedRoot'],
  gen: number,
  wrappingKeyPublished: boolean,
  roleSig?: VaultRecord['roleSig'],
): Promise<void> {
  await vault.set(VAULT_KEY, recordText(account, wrappedRoot, gen, wrappingKeyPublished, roleSig));
}

/** The vault's account record for `account`, as stored (the device key sealed under a fresh nonce). */
export function recordText(
  account: UnlockedAccount,
  wrappedRoot: PassphraseWrappedRoot | VaultRecord['wrappedRoot'],
  gen: number,
  wrappingKeyPublished: boolean,
  roleSig?: VaultRecord['roleSig'],
): string {
  const record: VaultRecord = {
    v: 1,
    accountId: account.accountId,
    role: account.role,
    loginName: account.loginName ?? null,
    wrappedRoot,
    gen,
    deviceId: account.device.deviceId,
    devicePublicKey: base64urlEncode(account.device.publicKey),
    deviceSecret: sealDeviceSecret(account.keys.localKey, account.device.secretKey),
    deviceName: account.deviceName,
    ...(wrappingKeyPublished ? { wrappingKeyPublished: true as const } : {}),
    ...(roleSig === undefined ? {} : { roleSig }),
  };
  return JSON.stringify(record);
}

export function unlocked(fields: {
  root: Uint8Array;
  keys: AccountKeys;
  role: Role;
  loginName: string | null | undefined;
  device: DeviceKeys;
  deviceName: string;
}): UnlockedAccount {
  return {
    accountId: fields.keys.accountId,
    role: fields.role,
    ...(fields.loginName === null || fields.loginName === undefined ? {} : { loginName: fields.loginName }),
    root: fields.root,
    keys: fields.keys,
    device: fields.device,
    deviceName: fields.deviceName,
  };
}

/** Whether the vault holds an account record (under `VAULT_KEY`): which of sign-up or unlock to show. */
export async function hasAccount(deps: Pick<AccountDeps, 'vault'>): Promise<boolean> {
  return (await deps.vault.get(VAULT_KEY)) !== null;
}

/** Forgets the account on this device (the server keeps it; join again with the passphrase). */
export async function removeLocalAccount(deps: Pick<AccountDeps, 'vault'>): Promise<void> {
  // After any write in flight, or that write would bring the account back.
  await exclusive(deps.vault, () => deps.vault.delete(VAULT_KEY));
}
