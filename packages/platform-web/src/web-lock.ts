/**
 * The device store's lock across the tabs, workers and installed app of one origin, over the browser's
 * Web Locks (`navigator.locks`): a second tab opening the same device is refused SESSION_ALREADY_OPEN
 * instead of forking its audit chain. The browser gives a dead tab's lock back.
 */
import type { DeviceLock, DeviceLockHandle } from '@hale/client';

/** The part of the Web Locks API (`navigator.locks`) `webDeviceLock` uses. */
export interface WebLockManagerLike {
  request(
    name: string,
    options: { ifAvailable: true },
    callback: (lock: unknown) => Promise<void> | void,
  ): Promise<unknown>;
}

/**
 * A DeviceLock over the browser's Web Locks: `webDeviceLock(navigator.locks)`. It spans the tabs, workers
 * and installed app of one origin, and the browser releases it when the tab holding it dies.
 */
export const webDeviceLock = (locks: WebLockManagerLike): DeviceLock => ({
  acquire: (name) =>
    new Promise<DeviceLockHandle | null>((resolve, reject) => {
      let free = (): void => undefined;
      const held: Promise<unknown> = locks.request(name, { ifAvailable: true }, (lock) => {
        if (lock === null) return resolve(null);
        // The lock is held for as long as this promise is pending.
        return new Promise<void>((released) => {
          free = released;
          resolve({
            release: async () => {
              free();
              await held;
            },
          });
        });
      });
      held.catch(reject);
    }),
});
