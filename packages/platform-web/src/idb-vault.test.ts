import { describe, expect, it } from 'vitest';
import { indexedDB as fakeFactory } from 'fake-indexeddb';
import { idbVault, VaultUnavailableError, VaultWriteError } from './idb-vault';
import type { IdbFactoryLike } from './idb-types';

// fake-indexeddb's typings use the DOM lib, which this program does not load: its factory is taken as the
// structural shape the vault asks for (the same one a browser's `indexedDB` satisfies). One factory for
// the process, so each test names its own databases.
// eslint-disable-next-line @typescript-eslint/no-unsafe-return -- its type names the DOM's IDBFactory
const fakeIndexedDb = (): IdbFactoryLike => fakeFactory;
let n = 0;
const fresh = (): string => `vault-test-${++n}`;

/** `factory`, with the options of every read-write transaction noted in `seen`. */
const noteWrites = (factory: IdbFactoryLike, seen: unknown[]): IdbFactoryLike => ({
  open: (name, version) => {
    const req = factory.open(name, version);
    return new Proxy(req, {
      set(target, key, value: unknown) {
        if (key === 'onsuccess' && typeof value === 'function') {
          const handler = value as () => void;
          target.onsuccess = () => {
            const db = target.result;
            const transaction = db.transaction.bind(db);
            db.transaction = (stores, mode, options) => {
              if (mode === 'readwrite') seen.push(options);
              return transaction(stores, mode, options);
            };
            handler();
          };
          return true;
        }
        return Reflect.set(target, key, value);
      },
    });
  },
});

describe('the IndexedDB vault', () => {
  it('keeps, reads back from a new connection, overwrites and deletes strings', async () => {
    const indexedDB = fakeIndexedDb();
    const name = fresh();
    const vault = idbVault({ indexedDB, name });
    expect(await vault.get('account')).toBeNull();
    await vault.set('account', '{"v":1}');
    await vault.set('other', 'x');
    vault.close();
    const again = idbVault({ indexedDB, name });
    expect(await again.get('account')).toBe('{"v":1}');
    await again.set('account', '{"v":2}');
    await again.delete('other');
    expect([await again.get('account'), await again.get('other')]).toEqual(['{"v":2}', null]);
    // Another name is another vault.
    expect(await idbVault({ indexedDB, name: 'elsewhere' }).get('account')).toBeNull();
  });

  it('asks for strict durability on every write and resolves only when the transaction completes', async () => {
    const seen: unknown[] = [];
    const spying = noteWrites(fakeIndexedDb(), seen);
    const vault = idbVault({ indexedDB: spying, name: fresh() });
    await vault.set('a', '1');
    await vault.delete('a');
    expect(seen).toEqual([{ durability: 'strict' }, { durability: 'strict' }]);
  });

  it('a write the browser refuses rejects VAULT_WRITE_FAILED and leaves the old value', async () => {
    const indexedDB = fakeIndexedDb();
    const name = fresh();
    const vault = idbVault({ indexedDB, name });
    await vault.set('account', 'old');
    // A value IndexedDB cannot clone: the store refuses it and the transaction is aborted.
    const refused = vault.set('account', Symbol('x') as unknown as string);
    await expect(refused).rejects.toBeInstanceOf(VaultWriteError);
    await expect(refused).rejects.toMatchObject({ code: 'VAULT_WRITE_FAILED' });
    expect(await vault.get('account')).toBe('old');
  });

  it('IndexedDB that cannot be opened is VAULT_UNAVAILABLE, and a later call tries again', async () => {
    let fail = true;
    const real = fakeIndexedDb();
    const flaky: IdbFactoryLike = {
      open: (name, version) => {
        if (fail) throw new Error('The user denied permission to access the database.');
        return real.open(name, version);
      },
    };
    const vault = idbVault({ indexedDB: flaky, name: fresh() });
    await expect(vault.get('account')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    await expect(vault.set('account', 'x')).rejects.toBeInstanceOf(VaultUnavailableError);
    fail = false;
    await vault.set('account', 'x');
    expect(await vault.get('account')).toBe('x');
  });
});
