import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';

/**
 * A memory storage (kept across sessions of one database name) that keeps every instance it creates, to
 * read what lies on its "disk", and can fail the writes of one document id (`failWrites`), as a full or
 * broken disk would.
 */
export const diskStorage = () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inner: RxStorage<any, any> = getRxStorageMemory();
  const instances: unknown[] = [];
  let failing: string | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...inner,
    name: inner.name,
    rxdbVersion: inner.rxdbVersion,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async createStorageInstance(params: RxStorageInstanceCreationParams<any, any>) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const instance: RxStorageInstance<any, any, any> = await inner.createStorageInstance(params);
      instances.push(instance);
      return new Proxy(instance, {
        get(target, prop, receiver) {
          const value: unknown = Reflect.get(target, prop, receiver);
          if (prop === 'bulkWrite' && typeof value === 'function') {
            return async (rows: Array<{ document: { id?: unknown } }>, context: string) => {
              if (failing !== null && rows.some((r) => r.document.id === failing)) {
                throw new Error('disk write failed');
              }
              return (value as (r: unknown, c: string) => Promise<unknown>).call(target, rows, context);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
  /** Every stored document with this primary key, as JSON text (deleted ones included). */
  const stored = (id: string): string[] => {
    const out: string[] = [];
    for (const instance of instances) {
      const docs = (instance as { internals: { documents: Map<string, unknown> } }).internals.documents;
      const doc = docs.get(id);
      if (doc !== undefined) out.push(JSON.stringify(doc));
    }
    return out;
  };
  /** The ids of the stored documents starting with `prefix` (deleted ones included). */
  const storedIds = (prefix: string): string[] => {
    const out: string[] = [];
    for (const instance of instances) {
      const docs = (instance as { internals: { documents: Map<string, unknown> } }).internals.documents;
      for (const id of docs.keys()) if (id.startsWith(prefix)) out.push(id);
    }
    return out;
  };
  return {
    storage,
    stored,
    storedIds,
    failWrites: (id: string | null): void => {
      failing = id;
    },
  };
};
