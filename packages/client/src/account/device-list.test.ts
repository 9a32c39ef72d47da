// The account's device list as a person sees it, from a real server: active devices only with a
// certificate the account signed, revoked ones with the account's signed time when it verifies, and what
// a dishonest server adds or changes counted or refused, never shown as the account's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_KDF,
  certifyDevice,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  sealDeviceName,
} from '@hale/crypto';
import type { HttpAccountDeviceResponse, HttpAccountResponse } from '@hale/protocol';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type HttpApi } from '../api/http-api';
import {
  createAccount,
  joinWithPassphrase,
  revokeDevice,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { accountError } from './account.test-util';
import { MAX_REVOKED_DETAILS, listDevices } from './device-list';
import { memoryVault } from './vault';

const PASS = 'correct horse battery staple';
let t: TestServer;
let api: HttpApi;
let counter = 0;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

const deps = (): AccountDeps => ({ api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true });

/** A patient with a laptop and a phone, the phone revoked from the laptop. */
const laptopAndRevokedPhone = async () => {
  const loginName = `devices${++counter}-${Date.now().toString(36)}`;
  const laptop = deps();
  const { account } = await createAccount(laptop, {
    role: 'patient',
    passphrase: PASS,
    loginName,
    deviceName: 'laptop',
  });
  const phone = await joinWithPassphrase(deps(), { loginName, passphrase: PASS, deviceName: 'phone' });
  await revokeDevice(laptop, { account, deviceId: phone.device.deviceId });
  return { account, phone };
};

const inputOf = (account: UnlockedAccount) => ({
  accountId: account.accountId,
  identityPublicKey: account.keys.identity.publicKey,
  deviceId: account.device.deviceId,
  wrapping: account.keys.wrapping,
});

/** The real API with the account answer (and each device's) passed through `edit`. */
const editedApi = (
  account?: (a: HttpAccountResponse) => HttpAccountResponse,
  device?: (d: HttpAccountDeviceResponse) => HttpAccountDeviceResponse,
): Pick<HttpApi, 'getAccount' | 'getAccountDevice'> => ({
  getAccount: async (id) => (account ?? ((a) => a))(await api.getAccount(id)),
  getAccountDevice: async (id, deviceId) => (device ?? ((d) => d))(await api.getAccountDevice(id, deviceId)),
});

describe('listDevices', () => {
  it('lists the active devices and the revoked one with its signed time', async () => {
    const { account, phone } = await laptopAndRevokedPhone();
    const list = await listDevices({ api, ed }, inputOf(account));
    expect(list.active).toEqual([
      {
        deviceId: account.device.deviceId,
        name: 'laptop',
        createdAt: expect.any(String) as unknown,
        current: true,
      },
    ]);
    expect(list.revoked).toEqual([
      {
        deviceId: phone.device.deviceId,
        name: 'phone',
        createdAt: expect.any(String) as unknown,
        revokedAt: expect.any(String) as unknown,
        signed: true,
      },
    ]);
    expect(list.unverified).toBe(0);
  });

  it('does not show a device the account did not certify, nor make a revoked one active again', async () => {
    const { account, phone } = await laptopAndRevokedPhone();
    const real = await api.getAccount(account.accountId);
    const other = deriveAccountKeys(generateRootSecret());
    const rogue = generateDeviceKeys();
    // A certificate signed by another account's identity key, naming this account: it cannot verify.
    const forged = await certifyDevice(
      other.identity.secretKey,
      {
        accountId: other.accountId,
        deviceId: rogue.deviceId,
        devicePublicKey: rogue.publicKey,
        sealedName: sealDeviceName('rogue', other.wrapping.publicKey, rogue.deviceId),
        createdAt: new Date().toISOString(),
        identityPublicKey: other.identity.publicKey,
      },
      ed,
    );
    const phoneCert = (await api.getAccountDevice(account.accountId, phone.device.deviceId)).certificate;
    const lying = editedApi((a) => ({
      ...a,
      // The phone listed active too (an older list replayed beside the revocation), and the forgery.
      devices: [
        ...a.devices,
        phoneCert,
        forged,
        { ...forged, cert: { ...forged.cert, accountId: a.accountId } },
      ],
    }));
    const list = await listDevices({ api: lying, ed }, inputOf(account));
    expect(list.active.map((d) => d.deviceId)).toEqual([account.device.deviceId]);
    expect(list.revoked.map((d) => d.deviceId)).toEqual([phone.device.deviceId]);
    expect(list.unverified).toBe(2);
    expect(real.devices).toHaveLength(1);
  });

  it("takes the server's revocation time as unsigned when the account's signed revocation is withheld or forged", async () => {
    const { account, phone } = await laptopAndRevokedPhone();
    const later = '2099-01-01T00:00:00.000Z';
    const withheld = editedApi(undefined, ({ revocation: _r, ...d }) => ({ ...d, revokedAt: later }));
    expect((await listDevices({ api: withheld, ed }, inputOf(account))).revoked).toEqual([
      expect.objectContaining({ deviceId: phone.device.deviceId, revokedAt: later, signed: false }),
    ]);
    const moved = editedApi(undefined, (d) => ({
      ...d,
      revokedAt: later,
      ...(d.revocation
        ? { revocation: { ...d.revocation, revocation: { ...d.revocation.revocation, revokedAt: later } } }
        : {}),
    }));
    expect((await listDevices({ api: moved, ed }, inputOf(account))).revoked).toEqual([
      expect.objectContaining({ deviceId: phone.device.deviceId, revokedAt: later, signed: false }),
    ]);
  });

  it('refuses an answer for other keys (ACCOUNT_MISMATCH) and an unknown account (ACCOUNT_NOT_FOUND)', async () => {
    const { account } = await laptopAndRevokedPhone();
    const other = deriveAccountKeys(generateRootSecret());
    await accountError(
      listDevices({ api, ed }, { accountId: account.accountId, identityPublicKey: other.identity.publicKey }),
      'ACCOUNT_MISMATCH',
    );
    await accountError(
      listDevices({ api, ed }, { accountId: other.accountId, identityPublicKey: other.identity.publicKey }),
      'ACCOUNT_NOT_FOUND',
    );
  });

  it('asks for at most MAX_REVOKED_DETAILS revoked devices; the rest are listed by id, and a failed one too', async () => {
    const { account, phone } = await laptopAndRevokedPhone();
    const made = Array.from({ length: MAX_REVOKED_DETAILS + 5 }, () => generateDeviceKeys().deviceId);
    let asked = 0;
    const many: Pick<HttpApi, 'getAccount' | 'getAccountDevice'> = {
      getAccount: async (id) => {
        const a = await api.getAccount(id);
        return { ...a, revokedDevices: [...a.revokedDevices, ...made] };
      },
      getAccountDevice: async (id, deviceId) => {
        asked++;
        return api.getAccountDevice(id, deviceId);
      },
    };
    const list = await listDevices({ api: many, ed }, inputOf(account));
    expect(asked).toBe(MAX_REVOKED_DETAILS);
    expect(list.revoked).toHaveLength(MAX_REVOKED_DETAILS + 6);
    expect(list.revoked[0]).toMatchObject({ deviceId: phone.device.deviceId, signed: true });
    // Unknown to the server (NOT_FOUND): listed by id, unsigned.
    expect(list.revoked[1]).toEqual({ deviceId: made[0], signed: false });
    expect(list.revoked.at(-1)).toEqual({ deviceId: made.at(-1), signed: false });
  });
});
