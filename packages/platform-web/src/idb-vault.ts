/**
 * The device vault (`Vault` of @hale/client) on IndexedDB: one object store of strings in a database of
 * its own. What it holds before unlock (the passphrase-wrapped root, the sealed device key) is what a
 * device cannot be reopened without, so it is written durably.
 *
 * | invariant                                                               | how                                              |
 * | ----------------------------------------------------------------------- | ------------------------------------------------ |
 * | `set`/`delete` resolve only once the browser says the write is on disk  | transaction `durability: 'strict'`, `oncomplete` |
 * | a failed or aborted write rejects, never resolves                        | `onerror` / `onabort` → VaultWriteError          |
 * | one connection per vault, reopened if the browser closes it              | `onclose` / `onversionchange` drop the handle    |
 *
 * Not localStorage: Chromium writes it to disk seconds later, and a browser killed in between lost a joined
 * device's vault (found by killing Chromium right after a join). Failure modes: IndexedDB missing or
 * refused (private mode, quota) → VaultUnavailableError from the first call.
 */
import { HaleError, type Vault } from '@hale/client';
import type { IdbDatabaseLike, IdbFactoryLike, IdbObjectStoreLike, IdbRequestLike } from './idb-types';

const STORE = 'vault';
const DEFAULT_NAME = 'hale-vault';

export class VaultUnavailableError extends HaleError {
  readonly code = 'VAULT_UNAVAILABLE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'VaultUnavailableError';
  }
}

export class VaultWriteError extends HaleError {
  readonly code = 'VAULT_WRITE_FAILED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'VaultWriteError';
  }
}

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';

const request = <T>(req: IdbRequestLike<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new VaultUnavailableError(`vault: ${describe(req.error)}`));
  });

export interface IdbVaultOptions {
  /** The browser's `indexedDB` (injected: the packages have no DOM types). */
  readonly indexedDB: IdbFactoryLike;
  /** Database name; one per app origin is enough (default `hale-vault`). */
  readonly name?: string;
}

/** A `Vault` on IndexedDB whose writes resolve only once durable. */
export const idbVault = (options: IdbVaultOptions): Vault & { close(): void } => {
  const name = options.name ?? DEFAULT_NAME;
  let opening: Promise<IdbDatabaseLike> | null = null;

  const db = (): Promise<IdbDatabaseLike> => {
    opening ??= new Promise<IdbDatabaseLike>((resolve, reject) => {
      let req: ReturnType<IdbFactoryLike['open']>;
      try {
        req = options.indexedDB.open(name, 1);
      } catch (e) {
        reject(new VaultUnavailableError(`vault: IndexedDB cannot be opened: ${describe(e)}`));
        return;
      }
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
      };
      req.onsuccess = () => {
        const handle = req.result;
        const drop = (): void => {
          opening = null;
        };
        handle.onclose = drop;
        handle.onversionchange = () => {
          handle.close();
          drop();
        };
        resolve(handle);
      };
      req.onerror = () => reject(new VaultUnavailableError(`vault: ${describe(req.error)}`));
      req.onblocked = () => reject(new VaultUnavailableError('vault: IndexedDB is blocked by another tab'));
    }).catch((e: unknown) => {
      opening = null;
      throw e;
    });
    return opening;
  };

  const write = async (change: (store: IdbObjectStoreLike) => void) => {
    const handle = await db();
    await new Promise<void>((resolve, reject) => {
      const tx = handle.transaction([STORE], 'readwrite', { durability: 'strict' });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(new VaultWriteError(`vault: write failed: ${describe(tx.error)}`));
      tx.onabort = () => reject(new VaultWriteError(`vault: write aborted: ${describe(tx.error)}`));
      try {
        change(tx.objectStore(STORE));
      } catch (e) {
        tx.abort();
        reject(new VaultWriteError(`vault: write refused: ${describe(e)}`));
      }
    });
  };

  return {
    get: async (key) => {
      const handle = await db();
      const value = await request(handle.transaction([STORE], 'readonly').objectStore(STORE).get(key));
      return typeof value === 'string' ? value : null;
    },
    set: (key, value) => write((store) => void store.put(value, key)),
    delete: (key) => write((store) => void store.delete(key)),
    close: () => {
      void opening?.then((handle) => handle.close()).catch(() => undefined);
      opening = null;
    },
  };
};
