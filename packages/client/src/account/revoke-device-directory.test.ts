// A device that revokes another device of its account made and signed that revocation itself: its own
// device directory (the session open on it) must treat the revoked device as revoked from the
// revocation's cutoff at once, not once its cached account answer is older than its maximum age (5
// minutes) or the next reconnect, and keep it so across a restart, whatever device list the server serves
// then (docs/architecture.md, "Devices and revocation").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { TEST_KDF } from '@hale/crypto';
import type { HttpAccountDeviceResponse, HttpAccountResponse } from '@hale/protocol';
import { ed, startServer, type TestServer } from '../../../../sync-server/src/testing/harness';
import { createHttpApi, type HttpApi } from '../api/http-api';
import type { WebSocketLike } from '../sync/connection';
import { openDeviceSession } from '../session/session';
import {
  createAccount,
  joinWithPassphrase,
  revokeDevice,
  unlock,
  type AccountDeps,
  type UnlockedAccount,
} from './account';
import { memoryVault } from './vault';

const PASS = 'correct horse battery staple';
const MINUTE = 60_000;

let t: TestServer;
let api: HttpApi;

beforeAll(async () => {
  t = await startServer();
  api = createHttpApi({ baseUrl: t.url, fetch });
});
afterAll(async () => {
  await t.stop();
});

/** Signs on the server's clock, so the revocation's signed time is the server's time of it. */
const deps = (): AccountDeps => ({
  api,
  vault: memoryVault(),
  ed,
  kdf: TEST_KDF,
  weakKdfForTests: true,
  now: () => t.clock.now,
});

/** A socket that never opens: the sessions here stay offline, their lookups go through the HTTP API. */
const noSocket = (): WebSocketLike => ({
  readyState: 0,
  send: () => undefined,
  close: () => undefined,
  onopen: null,
  onmessage: null,
  onclose: null,
  onerror: null,
});

/**
 * A laptop and a phone of one patient, a session open on the laptop, and a server that answers either
 * truthfully (`live`) or the phone's account answer and device answer from before any revocation.
 */
const setup = async () => {
  const loginName = `revokedir-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const laptop = deps();
  const { account } = await createAccount(laptop, {
    role: 'patient',
    passphrase: PASS,
    loginName,
    deviceName: 'laptop',
  });
  const phone = await joinWithPassphrase(deps(), { loginName, passphrase: PASS, deviceName: 'phone' });
  const phoneId = phone.device.deviceId;
  const before: { account: HttpAccountResponse; device: HttpAccountDeviceResponse } = {
    account: await api.getAccount(account.accountId),
    device: await api.getAccountDevice(account.accountId, phoneId),
  };
  const served = { replayOld: false };
  const storage = getRxStorageMemory();
  // The laptop's clock, a minute past the server's: the cutoff is then the revocation's, not this clock.
  const open = (a: UnlockedAccount) =>
    openDeviceSession({
      account: a,
      serverUrl: 'http://127.0.0.1:1',
      ed,
      createWebSocket: noSocket,
      storage,
      offline: true,
      now: () => t.clock.now + MINUTE,
      getAccount: async (id) => (served.replayOld ? before.account : api.getAccount(id)),
      getDevice: async (id, deviceId) =>
        served.replayOld ? before.device : api.getAccountDevice(id, deviceId),
    });
  return { account, laptop, phone, phoneId, served, open };
};

describe('revokeDevice on a device with a session open', () => {
  it('its directory takes the revocation at once, with its cutoff, and keeps it across a restart', async () => {
    const { account, laptop, phone, phoneId, served, open } = await setup();
    const session = await open(account);
    try {
      // The phone is active, and its list is now cached for up to 5 minutes.
      expect(await session.directory.lookupDeviceKey(account.accountId, phoneId)).toEqual({
        status: 'found',
        key: phone.device.publicKey,
      });
      const answer = await revokeDevice(laptop, { account, deviceId: phoneId });
      const cutoff = new Date(t.clock.now).toISOString();
      expect(answer.revokedAt).toBe(cutoff);
      // No reconnect, no list older than its maximum age: only the revocation this device made.
      expect(await session.directory.lookupDeviceKey(account.accountId, phoneId)).toEqual({
        status: 'found',
        key: phone.device.publicKey,
        revokedAt: cutoff,
      });
      expect(await session.directory.deviceKey(account.accountId, phoneId)).toBeNull();
    } finally {
      await session.close();
    }
    // Restarted against a server that replays the device list and device answer from before.
    served.replayOld = true;
    const again = await open(account);
    try {
      expect(await again.directory.lookupDeviceKey(account.accountId, phoneId)).toEqual({
        status: 'found',
        key: phone.device.publicKey,
        revokedAt: new Date(t.clock.now).toISOString(),
      });
      expect(await again.directory.deviceKey(account.accountId, phoneId)).toBeNull();
    } finally {
      await again.close();
    }
  });

  it('with no list cached yet, a list replayed from before at once does not make the device active', async () => {
    const { account, laptop, phone, phoneId, served, open } = await setup();
    const session = await open(account);
    try {
      await revokeDevice(laptop, { account, deviceId: phoneId });
      served.replayOld = true;
      expect(await session.directory.lookupDeviceKey(account.accountId, phoneId)).toEqual({
        status: 'found',
        key: phone.device.publicKey,
        revokedAt: new Date(t.clock.now).toISOString(),
      });
    } finally {
      await session.close();
    }
  });

  it('takes a revocation sent with another account object of the account (a second unlock) at once too', async () => {
    const { account, laptop, phone, phoneId, open } = await setup();
    const session = await open(account);
    try {
      expect(await session.directory.lookupDeviceKey(account.accountId, phoneId)).toEqual({
        status: 'found',
        key: phone.device.publicKey,
      });
      // The same laptop's vault opened again: an account object sharing no key object with the session's.
      const again = await unlock(laptop, { passphrase: PASS });
      expect(again.keys).not.toBe(account.keys);
      const answer = await revokeDevice(laptop, { account: again, deviceId: phoneId });
      expect(await session.directory.lookupDeviceKey(account.accountId, phoneId)).toEqual({
        status: 'found',
        key: phone.device.publicKey,
        revokedAt: answer.revokedAt,
      });
      expect(await session.directory.deviceKey(account.accountId, phoneId)).toBeNull();
    } finally {
      await session.close();
    }
  });
});
