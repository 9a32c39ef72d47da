// Test harness (harness-accounts): Registered test accounts and devices: keys, certificates, registration
// over HTTP, sessions, revocation, renames.
// Re-exported by harness.ts, which tests import.
import {
  accountSignaturePayload,
  authSignaturePayload,
  deviceNamePayload,
  deviceRevocationPayload,
  wrappingKeySignaturePayload,
  wrappedRootSignaturePayload,
  HttpAccountResponse,
  validate,
  type HttpDeviceNameRequest,
} from '@hale/protocol';
import {
  TEST_KDF,
  base64urlEncode,
  certifyDevice,
  sealDeviceName,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  wrapRootWithPassphrase,
  type AccountKeys,
  type DeviceKeys,
} from '@hale/crypto';
import type { AuthenticatedDevice } from '../core/sync-service';
import { ed, x25519, sign, type TestServer, type Endpoint, iso, http } from './harness-server';

export interface TestDevice {
  keys: DeviceKeys;
  deviceId: string;
}

export interface TestAccount {
  root: Uint8Array;
  keys: AccountKeys;
  accountId: string;
  role: 'patient' | 'provider';
  device: TestDevice;
  loginName: string;
}

/** The account's device as the sync service sees it once authenticated (for tests that call it directly). */
export const principalOf = (a: TestAccount): AuthenticatedDevice => ({
  accountId: a.accountId,
  deviceId: a.device.deviceId,
  role: a.role,
  devicePublicKey: a.device.keys.publicKey,
});

export const makeDeviceCert = async (
  account: { keys: AccountKeys; accountId: string },
  keys: DeviceKeys,
  name = 'test device',
) =>
  certifyDevice(
    account.keys.identity.secretKey,
    {
      accountId: account.accountId,
      deviceId: keys.deviceId,
      devicePublicKey: keys.publicKey,
      sealedName: sealDeviceName(name, account.keys.wrapping.publicKey, keys.deviceId, x25519),
      createdAt: iso(),
      identityPublicKey: account.keys.identity.publicKey,
    },
    ed,
  );

let loginCounter = 0;

export const TEST_PASSPHRASE = 'correct horse battery staple';

/**
 * A complete, signed POST /v1/accounts body (not sent) and the secrets behind it, as the current client
 * registers: with the wrapping-key and generation-0 wrap signatures (leave them out for an older client's).
 */
export const makeRegistration = async (
  role: 'patient' | 'provider' = 'patient',
  options: { passphrase?: string } = {},
) => {
  const root = generateRootSecret();
  const keys = deriveAccountKeys(root);
  const deviceKeys = generateDeviceKeys();
  const loginName = `user${++loginCounter}${Date.now().toString(36)}`;
  const account = {
    accountId: keys.accountId,
    role,
    identityPublicKey: base64urlEncode(keys.identity.publicKey),
    wrappingPublicKey: base64urlEncode(keys.wrapping.publicKey),
    wrappedRoot: (await wrapRootWithPassphrase(
      root,
      options.passphrase ?? TEST_PASSPHRASE,
      TEST_KDF,
    )) as never,
    loginName,
    createdAt: iso(),
  };
  const device = await makeDeviceCert({ keys, accountId: keys.accountId }, deviceKeys);
  const sig = await sign(keys.identity.secretKey, accountSignaturePayload(account));
  const wrappingKeySig = await sign(keys.identity.secretKey, wrappingKeySignaturePayload(account));
  const wrappedRootSig = await sign(
    keys.identity.secretKey,
    wrappedRootSignaturePayload({ accountId: keys.accountId, wrappedRoot: account.wrappedRoot, gen: 0 }),
  );
  const created: TestAccount = {
    root,
    keys,
    accountId: keys.accountId,
    role,
    device: { keys: deviceKeys, deviceId: deviceKeys.deviceId },
    loginName,
  };
  return { body: { account, device, sig, wrappingKeySig, wrappedRootSig }, account: created };
};

export const registerAccount = async (
  t: Endpoint,
  role: 'patient' | 'provider' = 'patient',
  options: { passphrase?: string } = {},
): Promise<TestAccount> => {
  const { body, account } = await makeRegistration(role, options);
  const res = await http(t.url, 'POST', '/v1/accounts', body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return account;
};

export const addDevice = async (t: Endpoint, account: TestAccount): Promise<TestDevice> => {
  const keys = generateDeviceKeys();
  const device = await makeDeviceCert(account, keys, 'second device');
  const res = await http(t.url, 'POST', '/v1/devices', { device });
  if (res.status !== 201) throw new Error(`add device failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { keys, deviceId: keys.deviceId };
};

/** `GET /v1/accounts/:id`, checked against its schema (200 expected). */
export const getAccountAnswer = async (t: Endpoint, accountId: string): Promise<HttpAccountResponse> => {
  const res = await http(t.url, 'GET', `/v1/accounts/${accountId}`);
  if (res.status !== 200) throw new Error(`get account failed: ${res.status} ${JSON.stringify(res.body)}`);
  const checked = validate(HttpAccountResponse, res.body);
  if (!checked.ok) throw new Error(checked.error.message);
  return checked.value;
};

export const revokeDevice = async (t: Endpoint | TestServer, account: TestAccount, device: TestDevice) => {
  const revocation = {
    v: 1 as const,
    accountId: account.accountId,
    deviceId: device.deviceId,
    // Signed on the server's clock, as a device with a right clock would: an in-process server's may
    // have been moved, and the server refuses a revokedAt far from its clock.
    revokedAt: iso('server' in t ? t.server.ctx.now() : Date.now()),
  };
  const sig = await sign(account.keys.identity.secretKey, deviceRevocationPayload(revocation));
  return http(t.url, 'POST', '/v1/devices/revoke', { revocation, sig });
};

/**
 * A `POST /v1/devices/name` body: `name` sealed to `account`'s wrapping key for `deviceId`, at `seq`, signed
 * by `signer`'s identity key (the account's own unless another is given).
 */
export const makeDeviceName = async (
  account: TestAccount,
  deviceId: string,
  name: string,
  seq: number,
  signer: { keys: AccountKeys } = account,
): Promise<HttpDeviceNameRequest> => {
  const record = {
    v: 1 as const,
    accountId: account.accountId,
    deviceId,
    sealedName: sealDeviceName(name, account.keys.wrapping.publicKey, deviceId, x25519),
    seq,
  };
  return { name: record, sig: await sign(signer.keys.identity.secretKey, deviceNamePayload(record)) };
};

/** Renames `device` of `account` to `name` at `seq` (`POST /v1/devices/name`), signed by the account. */
export const renameDevice = async (
  t: Endpoint,
  account: TestAccount,
  device: TestDevice,
  name: string,
  seq: number,
) => http(t.url, 'POST', '/v1/devices/name', await makeDeviceName(account, device.deviceId, name, seq));

export const sessionToken = async (t: Endpoint, device: TestDevice): Promise<string> => {
  const c = await http(t.url, 'POST', '/v1/auth/challenge', { deviceId: device.deviceId });
  if (c.status !== 200) throw new Error(`challenge failed: ${c.status} ${JSON.stringify(c.body)}`);
  const { challengeId, nonce, serverId } = c.body as { challengeId: string; nonce: string; serverId: string };
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce, deviceId: device.deviceId, serverId }),
  );
  const s = await http(t.url, 'POST', '/v1/auth/session', { challengeId, deviceId: device.deviceId, sig });
  if (s.status !== 200) throw new Error(`session failed: ${s.status} ${JSON.stringify(s.body)}`);
  return (s.body as { token: string }).token;
};
