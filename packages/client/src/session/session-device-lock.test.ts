// The device store is claimed through the injected DeviceLock (store/device-lock.ts): held elsewhere (another
// tab), an open fails SESSION_ALREADY_OPEN before any store or socket is opened; the lock is taken before the
// store is opened and given back after it is closed, and after an open that failed; removeDeviceDb honours it.
import { describe, expect, it } from 'vitest';
import type { RxStorage } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { isAccountError } from '../core/account-error';
import { removeDeviceDb } from '../store/device-db';
import { deviceLockName, type DeviceLock } from '../store/device-lock';
import { deviceDbName, openDeviceSession } from './session';
import { anAccount } from './session.test-util';

/** One lock table shared by every "tab": a name held by one holder at a time, events in order. */
const lockTable = () => {
  const held = new Set<string>();
  const events: string[] = [];
  const tab = (who: string): DeviceLock => ({
    acquire: async (name) => {
      if (held.has(name)) {
        events.push(`${who} refused`);
        return null;
      }
      held.add(name);
      events.push(`${who} acquired`);
      return {
        release: async () => {
          held.delete(name);
          events.push(`${who} released`);
        },
      };
    },
  });
  return { held, events, tab };
};

/** Memory storage (one per "tab": its own in-process map key stays apart) counting instances created. */
const countingStorage = (name: string) => {
  const inner = getRxStorageMemory();
  let created = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...inner,
    name,
    createStorageInstance: (params) => {
      created++;
      return inner.createStorageInstance(params);
    },
  };
  return { storage, created: () => created };
};

const codeOf = (e: unknown): string => (isAccountError(e) ? e.code : `not an AccountError: ${String(e)}`);

describe('openDeviceSession with an injected device lock', () => {
  const account = anAccount();
  const dbName = deviceDbName(account.accountId, account.device.deviceId);
  const open = (
    deviceLock: DeviceLock,
    storage: RxStorage<unknown, unknown>,
    sockets: { n: number },
    offline = false,
  ) =>
    openDeviceSession({
      account,
      serverUrl: 'http://127.0.0.1:1',
      createWebSocket: () => {
        sockets.n++;
        throw new Error('no server in this test');
      },
      storage,
      getAccount: () => Promise.reject(new Error('no server in this test')),
      deviceLock,
      offline,
    });

  it('in this process, a second open is refused before the lock is asked, and opens after close', async () => {
    const locks = lockTable();
    const a = countingStorage('memory-same');
    const first = await open(locks.tab('A'), a.storage, { n: 0 }, true);
    expect([...locks.held]).toEqual([deviceLockName('memory-same', dbName)]);

    const again = countingStorage('memory-same');
    const sockets = { n: 0 };
    const refused = await open(locks.tab('B'), again.storage, sockets).then(
      () => 'opened',
      (e: unknown) => codeOf(e),
    );
    expect(refused).toBe('SESSION_ALREADY_OPEN');
    expect(again.created()).toBe(0);
    expect(sockets.n).toBe(0);
    await first.close();
    expect(locks.held.size).toBe(0);
    const reopened = await open(locks.tab('B'), again.storage, sockets, true);
    await reopened.close();
    expect(locks.events).toEqual(['A acquired', 'A released', 'B acquired', 'B released']);
  });

  it('held by another process: SESSION_ALREADY_OPEN naming another tab, no store, no socket, lock untouched', async () => {
    const locks = lockTable();
    const storage = countingStorage('memory-elsewhere');
    const name = deviceLockName('memory-elsewhere', dbName);
    locks.held.add(name); // another tab holds it
    const sockets = { n: 0 };

    const outcome = await open(locks.tab('B'), storage.storage, sockets).then(
      () => null,
      (e: unknown) => e,
    );

    expect(codeOf(outcome)).toBe('SESSION_ALREADY_OPEN');
    expect(outcome instanceof Error ? outcome.message : '').toContain('another tab or window');
    expect(storage.created()).toBe(0);
    expect(sockets.n).toBe(0);
    expect([...locks.held]).toEqual([name]);

    // Given back by the other tab: the same call now opens, and this process's claim was not left behind.
    locks.held.delete(name);
    const session = await open(locks.tab('B'), storage.storage, sockets, true);
    expect(storage.created()).toBeGreaterThan(0);
    expect(locks.held.has(name)).toBe(true);
    await session.close();
    expect(locks.held.has(name)).toBe(false);
  });

  it('held until the store is closed, and given back after a failed open', async () => {
    const locks = lockTable();
    const inner = countingStorage('memory-order');
    const name = deviceLockName('memory-order', dbName);
    // The lock must be held whenever the store is created or closed.
    const heldAt: boolean[] = [];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const storage: RxStorage<any, any> = {
      ...inner.storage,
      createStorageInstance: async (params) => {
        heldAt.push(locks.held.has(name));
        const instance = await inner.storage.createStorageInstance(params);
        const close = instance.close.bind(instance);
        instance.close = async () => {
          heldAt.push(locks.held.has(name));
          return close();
        };
        return instance;
      },
    };
    const session = await open(locks.tab('A'), storage, { n: 0 }, true);
    await session.close();
    expect(heldAt.length).toBeGreaterThan(1);
    expect(heldAt.every(Boolean)).toBe(true);
    expect(locks.held.size).toBe(0);

    // An open that fails after taking the lock (the store refuses to be created) gives it back.
    const failing = countingStorage('memory-order');
    failing.storage.createStorageInstance = () => Promise.reject(new Error('disk full'));
    const failed = await open(locks.tab('C'), failing.storage, { n: 0 }, true).then(
      () => 'opened',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    expect(failed).toBe('disk full');
    expect(locks.held.size).toBe(0);
    expect(locks.events).toEqual(['A acquired', 'A released', 'C acquired', 'C released']);
  });

  it('removeDeviceDb removes nothing while the lock is held elsewhere', async () => {
    const locks = lockTable();
    const { storage } = countingStorage('memory-remove');
    const session = await open(locks.tab('A'), storage, { n: 0 }, true);
    await session.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'mild',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    await session.close();

    const name = deviceLockName('memory-remove', dbName);
    locks.held.add(name);
    const refused = await removeDeviceDb({ name: dbName, storage, deviceLock: locks.tab('B') }).then(
      () => 'removed',
      (e: unknown) => codeOf(e),
    );
    expect(refused).toBe('SESSION_ALREADY_OPEN');
    locks.held.delete(name);
    const again = await open(locks.tab('A'), storage, { n: 0 }, true);
    expect(await again.db.records.find().exec()).toHaveLength(1);
    await again.close();

    await removeDeviceDb({ name: dbName, storage, deviceLock: locks.tab('B') });
    const wiped = await open(locks.tab('A'), storage, { n: 0 }, true);
    expect(await wiped.db.records.find().exec()).toHaveLength(0);
    await wiped.close();
    expect(locks.held.size).toBe(0);
  });
});
