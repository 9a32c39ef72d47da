// Wiping a device (the TSDoc of @hale/client/advanced, Platform injection): close the session, then removeDeviceDb with the
// database's name. The name must be the one the session opened, or removeDeviceDb removes nothing and the
// health data stays on the device.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { UnlockedAccount } from '../account/account';
import { removeDeviceDb } from '../store/device-db';
import { deviceDbName, openDeviceSession } from './session';
import { anAccount } from './session.test-util';

describe('removeDeviceDb with the default database name', () => {
  const storage = getRxStorageMemory();
  /** A session of `account` under the default database name, offline. */
  const open = (account: UnlockedAccount) =>
    openDeviceSession({
      account,
      serverUrl: 'http://127.0.0.1:1',
      createWebSocket: () => {
        throw new Error('offline test: no socket');
      },
      storage,
      getAccount: () => Promise.reject(new Error('offline test: no server')),
      offline: true,
    });
  const recordsOf = async (account: UnlockedAccount): Promise<number> => {
    const session = await open(account);
    try {
      return (await session.db.records.find().exec()).length;
    } finally {
      await session.close();
    }
  };
  /** Adds an allergy in a session of `account`; answers the name of the database it opened. */
  const withAllergy = async (account: UnlockedAccount): Promise<string> => {
    const session = await open(account);
    await session.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'mild',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    const name = session.db.name;
    await session.close();
    return name;
  };

  it('wipes the records of that device only', async () => {
    const [wiped, kept] = [anAccount(), anAccount()];
    const opened = await withAllergy(wiped);
    await withAllergy(kept);
    const name = deviceDbName(wiped.accountId, wiped.device.deviceId);
    expect(name).toBe(opened);

    await removeDeviceDb({ name, storage });

    expect(await recordsOf(wiped)).toBe(0);
    expect(await recordsOf(kept)).toBe(1);
  });
});
