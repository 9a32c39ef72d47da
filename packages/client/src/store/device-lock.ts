// Exclusive use of one device store. A device is a single writer by design: one audit chain, one audit
// outbox, one pending list, one stored sync position, all kept in its store and read-modify-written by the
// session that has it open. Two sessions of the same store (two browser tabs, a tab and the installed web
// app) would each keep their own cached copy of those and overwrite each other's: writes left unsent with
// nothing reporting them, an audit chain forked at a reused position.
//
// Invariants: a device store is claimed before it is opened (a session's, or removeDeviceDb's) and given
// back only after it is closed (or removed), also when opening fails. At most one claim of a store exists
// in this process, always (a map, taken synchronously, so two opens started together cannot both pass);
// and, when a DeviceLock is injected, at most one across every process that shares that lock (Web Locks:
// every tab, worker and installed app of one browser origin; the browser gives a dead tab's lock back).
// An app that runs in browsers MUST inject one: without it nothing stops a second tab.
//
// Failure modes: claimed already, in this process or (by the lock) elsewhere: AccountError
// SESSION_ALREADY_OPEN, before anything is opened, and the claim taken in this process is given back. A
// lock whose acquire throws: that error, likewise. A claim is released once; later releases do nothing.
import { AccountError } from '../core/account-error';

/**
 * The exclusive lock a platform injects (`webDeviceLock(navigator.locks)` in a browser), named
 * `deviceLockName(storage.name, dbName)`.
 * - A device is one writer (one audit chain, outbox and pending list): a session has its store to itself.
 * - Taken before the store opens, given back after `close()`.
 * - Required in a browser: without it a second tab opens the same device and their bookkeeping overwrites
 *   each other's.
 */
export interface DeviceLock {
  /**
   * Takes the lock named `name` without waiting for it: null when it is held elsewhere. Held until the
   * handle is released, or the holder (tab, process) ends.
   */
  acquire(name: string): Promise<DeviceLockHandle | null>;
}

/** A held device lock. */
export interface DeviceLockHandle {
  /** Gives the lock back; resolves once another holder could take it. */
  release(): Promise<void>;
}

/** The name a device store is claimed by: its storage's and its database's. */
export const deviceLockName = (storageName: string, dbName: string): string =>
  `hale-device-store|${storageName}|${dbName}`;

// Device stores claimed in this process, by deviceLockName. RxDB refuses a duplicate open itself, but with
// an untyped error, and then forgets the name of the database that is still open.
const claimed = new Map<string, object>();

export interface DeviceStoreClaim {
  /** Takes the injected lock too (nothing without one); SESSION_ALREADY_OPEN when held elsewhere. */
  lock(): Promise<void>;
  /** Gives back the lock, if taken, and the claim in this process. Once; later calls do nothing. */
  release(): Promise<void>;
}

export const sessionAlreadyOpen = (dbName: string, where: 'here' | 'elsewhere' = 'here'): AccountError =>
  new AccountError(
    'SESSION_ALREADY_OPEN',
    where === 'here'
      ? `a session of device database "${dbName}" is already open; use it or close it first`
      : `device database "${dbName}" is open in another tab or window; use that one or close it first`,
  );

/** Claims a device store in this process, synchronously (throws SESSION_ALREADY_OPEN if claimed here). */
export const claimDeviceStore = (
  store: { storageName: string; dbName: string },
  deviceLock?: DeviceLock,
): DeviceStoreClaim => {
  const name = deviceLockName(store.storageName, store.dbName);
  if (claimed.has(name)) throw sessionAlreadyOpen(store.dbName);
  const token = {};
  claimed.set(name, token);
  let handle: DeviceLockHandle | null = null;
  let released = false;
  return {
    async lock() {
      if (!deviceLock || released) return;
      const got = await deviceLock.acquire(name);
      if (got === null) throw sessionAlreadyOpen(store.dbName, 'elsewhere');
      // Released while acquiring: the caller has given up, so the lock goes straight back.
      if (released) {
        await got.release();
        throw sessionAlreadyOpen(store.dbName);
      }
      handle = got;
    },
    async release() {
      if (released) return;
      released = true;
      if (claimed.get(name) === token) claimed.delete(name);
      const held = handle;
      handle = null;
      await held?.release();
    },
  };
};
