// Reading fake-indexeddb raw, for tests that check what lies on disk (device-db.test, meta-store.test).
import { indexedDB } from 'fake-indexeddb';

// Minimal typing of the IndexedDB calls used to dump fake-indexeddb (the project has no DOM lib).
interface IdbRequest<T> {
  result: T;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
  error: unknown;
}
interface IdbDatabase {
  objectStoreNames: ArrayLike<string>;
  transaction(
    names: string[],
    mode: 'readonly',
  ): { objectStore(name: string): { getAll(): IdbRequest<unknown[]> } };
  close(): void;
}
interface IdbFactory {
  databases(): Promise<{ name?: string }[]>;
  open(name: string): IdbRequest<IdbDatabase>;
}
const idb = indexedDB as unknown as IdbFactory;

function request<T>(req: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(String(req.error)));
  });
}

/** Everything fake-indexeddb holds for databases whose name mentions `dbName`, as one string. */
export async function dumpIndexedDb(dbName: string): Promise<string> {
  const out: unknown[] = [];
  for (const info of await idb.databases()) {
    if (!info.name?.includes(dbName)) continue;
    const db = await request(idb.open(info.name));
    for (const store of Array.from(db.objectStoreNames)) {
      out.push(
        info.name,
        store,
        await request(db.transaction([store], 'readonly').objectStore(store).getAll()),
      );
    }
    db.close();
  }
  return JSON.stringify(out);
}
