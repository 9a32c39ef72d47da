// Opening a device session with an account that cannot be used (locked, or with no at-rest key), and
// opening one device's database twice: both are refused with a typed error before RxDB is touched.
import { describe, expect, it } from 'vitest';
import type { RxStorage } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  createAccount,
  createHttpApi,
  isAccountError,
  lock,
  memoryVault,
  type DeviceAccount,
  type DeviceSession,
} from '@hale/client/advanced';
import { TEST_KDF } from '@hale/crypto';
import { registerAccount, type TestAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, openDevice, sessionAccount } from '../support/devices';
import { input } from '../support/records';

/** Memory storage that counts the storage instances (databases, collections) created through it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const countingStorage = (): { storage: RxStorage<any, any>; created: () => number } => {
  const inner = getRxStorageMemory();
  let created = 0;
  return {
    storage: {
      ...inner,
      createStorageInstance: (params) => {
        created++;
        return inner.createStorageInstance(params);
      },
    },
    created: () => created,
  };
};

const codeOf = (e: unknown): string => (isAccountError(e) ? e.code : `untyped ${String(e)}`);

/** A patient account created on `t`, then locked. */
const lockedAccount = async (t: TestServer, loginPrefix: string) => {
  const api = createHttpApi({ baseUrl: t.url, fetch });
  const { account } = await createAccount(
    { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
    {
      role: 'patient',
      passphrase: 'correct horse battery',
      loginName: `${loginPrefix}-${Date.now().toString(36)}`,
      deviceName: 'd',
    },
  );
  lock(account);
  return account;
};

/** 'opened' (after using and closing it) or the error code of an offline session opened with `account`. */
const openOutcome = async (
  t: TestServer,
  patient: TestAccount,
  account: DeviceAccount,
  storage: ReturnType<typeof countingStorage>['storage'],
) =>
  openDevice(t, patient, { sessionAccount: account, storage, offline: true }).then(
    async (s) => {
      await s.records.add('Allergy', input('Allergy'));
      await s.close();
      return 'opened';
    },
    (e: unknown) => codeOf(e),
  );

describe('openDeviceSession refuses an account it cannot use', () => {
  const server = useServer({ realClock: true });

  it('a locked account is LOCKED, before any storage is opened', async () => {
    const t = server.t;
    const account = await lockedAccount(t, 'lk');
    const { storage, created } = countingStorage();

    expect(await openOutcome(t, await registerAccount(t), account, storage)).toBe('LOCKED');
    expect(created()).toBe(0);
  });

  it('a copy of a locked account (same key objects) is LOCKED too', async () => {
    const t = server.t;
    const account = await lockedAccount(t, 'lc');
    const copy = {
      accountId: account.accountId,
      role: account.role,
      root: account.root,
      keys: account.keys,
      device: account.device,
    };
    const { storage, created } = countingStorage();

    expect(await openOutcome(t, await registerAccount(t), copy, storage)).toBe('LOCKED');
    expect(created()).toBe(0);
  });

  it('an all-zero at-rest key is refused (LOCKED) even on an account object lock() never saw', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const base = sessionAccount(patient);
    const zeroKey = { ...base, keys: { ...base.keys, localKey: new Uint8Array(32) } };
    const { storage, created } = countingStorage();

    expect(await openOutcome(t, patient, zeroKey, storage)).toBe('LOCKED');
    expect(created()).toBe(0);
  });
});

describe('one device database, one open session', () => {
  const server = useServer({ realClock: true });

  it('a second open of the same device while one is open is SESSION_ALREADY_OPEN; after close it opens again', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const storage = getRxStorageMemory();
    const open = () => openDevice(t, patient, { storage, dbName: 'open-twice', offline: true });
    const keep = (s: DeviceSession) => {
      server.sessions.push(s);
      return s;
    };

    const both = await Promise.allSettled([open(), open()]);
    const opened = both.flatMap((r) => (r.status === 'fulfilled' ? [keep(r.value)] : []));
    const refused = both.flatMap((r) => (r.status === 'rejected' ? [codeOf(r.reason)] : []));
    expect(opened).toHaveLength(1);
    expect(refused).toEqual(['SESSION_ALREADY_OPEN']);

    // Still refused after a refusal (RxDB forgets the name of an open database when a duplicate fails).
    expect(await open().then(keep, codeOf)).toBe('SESSION_ALREADY_OPEN');

    const first = opened[0]!;
    const record = await first.records.add('Allergy', input('Allergy'));
    server.sessions.splice(server.sessions.indexOf(first), 1);
    await first.close();
    const again = keep(await open());
    expect((await again.records.get(record.id))?.record.id).toBe(record.id);
  });
});
