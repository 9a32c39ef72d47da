// A memory storage for end-to-end tests that can hold RxDB's next downstream write of a device's records,
// to drive races between RxDB's upstream and downstream deterministically (test/carrier-race,
// test/settled-copy-race).
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';

/** RxDB's title of its replication metadata collection (META_INSTANCE_SCHEMA_TITLE). */
const META_TITLE = 'RxReplicationProtocolMetaData';

/**
 * A memory storage (kept across sessions of one database name) whose `records` instance can hold RxDB's next downstream write (context
 * `replication-downstream-…`) until released, and which counts completed upstream metadata writes (RxDB
 * records a pushed version as its assumed master state with them).
 */
export const gatedStorage = () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inner: RxStorage<any, any> = getRxStorageMemory();
  let armed = false;
  let held: Promise<void> | null = null;
  let open = (): void => undefined;
  let upMetaWrites = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrap = (instance: RxStorageInstance<any, any, any>, kind: 'records' | 'meta' | 'other') =>
    new Proxy(instance, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'bulkWrite' || typeof value !== 'function') {
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        return async (rows: unknown, context: string) => {
          if (kind === 'records' && armed && context.startsWith('replication-downstream-')) {
            armed = false;
            held = new Promise<void>((resolve) => (open = resolve));
            await held;
          }
          const result = await (value as (r: unknown, c: string) => Promise<unknown>).call(
            target,
            rows,
            context,
          );
          if (kind === 'meta' && context === 'replication-up-write-meta') upMetaWrites++;
          return result;
        };
      },
    });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...inner,
    name: inner.name,
    rxdbVersion: inner.rxdbVersion,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async createStorageInstance(params: RxStorageInstanceCreationParams<any, any>) {
      const instance = await inner.createStorageInstance(params);
      const kind =
        params.collectionName === 'records'
          ? 'records'
          : params.schema.title === META_TITLE
            ? 'meta'
            : 'other';
      return wrap(instance, kind);
    },
  };
  return {
    storage,
    /** Holds RxDB's next downstream write to `records`. */
    holdNextDownstream: (): void => {
      armed = true;
    },
    holding: (): boolean => held !== null,
    release: (): void => {
      held = null;
      open();
    },
    upMetaWrites: (): number => upMetaWrites,
  };
};
