import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import {
  changePassphrase,
  createHttpApi,
  isAccountError,
  lock,
  openSession,
  refreshWrappedRoot,
  unlock,
  type UnlockedAccount,
} from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { asTestAccount, eventually, ed, laptopAndPhone, openDevice } from '../support/devices';
import { input } from '../support/records';

// The account lifecycle across devices, end to end: a passphrase changed on the laptop reaches the phone,
// which then opens only with the new one — and its encrypted store, written before the change, still opens
// and keeps syncing (the change re-wraps the root; nothing is re-encrypted).
describe('a passphrase change across devices', () => {
  const server = useServer({ realClock: true });

  it('reaches the phone; the phone reopens with the new passphrase only, its records intact', async () => {
    const t = server.t;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const tokenOf = async (a: UnlockedAccount) => (await openSession(api, a.device, ed)).token;

    const { loginName, laptop, laptopDeps, phoneDeps, ...joined } = await laptopAndPhone(t.url, 'pp');
    let phone = joined.phone;

    // The phone's store outlives its sessions, as a browser's IndexedDB does.
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const phoneDb = `phone-${loginName}`;
    const laptopSession = await openDevice(t, asTestAccount(laptop));
    server.sessions.push(laptopSession);
    let phoneSession = await openDevice(t, asTestAccount(phone), { storage, dbName: phoneDb });
    const before = await laptopSession.records.add('Allergy', input('Allergy'));
    await eventually(
      async () => (await phoneSession.records.get(before.id)) !== null,
      'phone has the allergy',
    );

    await changePassphrase(laptopDeps, {
      account: laptop,
      oldPassphrase: 'the first passphrase',
      newPassphrase: 'the second passphrase',
      token: await tokenOf(laptop),
    });
    expect(await refreshWrappedRoot(phoneDeps, { account: phone, token: await tokenOf(phone) })).toEqual({
      status: 'updated',
      gen: 1,
    });

    // The app quits; the old passphrase no longer opens the phone.
    await phoneSession.close();
    lock(phone);
    const refused = await unlock(phoneDeps, { passphrase: 'the first passphrase' }).catch((e: unknown) => e);
    expect(isAccountError(refused) && refused.code).toBe('WRONG_PASSPHRASE');
    phone = await unlock(phoneDeps, { passphrase: 'the second passphrase' });

    // Same store, same at-rest key (derived from the unchanged root): what was synced before opens,
    // and sync carries on in both directions.
    phoneSession = await openDevice(t, asTestAccount(phone), { storage, dbName: phoneDb });
    server.sessions.push(phoneSession);
    expect((await phoneSession.records.get(before.id))?.record.id).toBe(before.id);
    expect(phoneSession.sync.quarantine()).toEqual([]);
    const after = await phoneSession.records.add('Allergy', input('Allergy'));
    await eventually(
      async () => (await laptopSession.records.get(after.id)) !== null,
      'laptop has the new one',
    );
  });
});
