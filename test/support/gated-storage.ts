// A memory storage for end-to-end tests that can hold RxDB's next downstream write of a device's records,
// its next write of a conflict it resolved, or the engine's next lookup of them, to drive races
// deterministically (test/conflicts/carrier-race, test/conflicts/settled-copy-race,
// test/sync/reconnect-full-page, test/conflicts/conflict-settle).
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';
import type { DeviceSession } from '@hale/client/advanced';
import { allPushed, eventually } from './devices';

/** RxDB's title of its replication metadata collection (META_INSTANCE_SCHEMA_TITLE). */
const META_TITLE = 'RxReplicationProtocolMetaData';

/**
 * A memory storage (kept across sessions of one database name) whose `records` instance can hold RxDB's
 * next downstream write (context `replication-downstream-…`), its next write of a resolved conflict
 * (`replication-up-write-conflict`, after the push handler answered the conflict) or its next
 * `findDocumentsById` (the engine's freshness lookup while it applies a page) until released, and which
 * counts completed upstream metadata writes (RxDB records a pushed version as its assumed master state
 * with them).
 */
export const gatedStorage = () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inner: RxStorage<any, any> = getRxStorageMemory();
  let armed: 'write' | 'conflict' | 'lookup' | null = null;
  let held: Promise<void> | null = null;
  let open = (): void => undefined;
  let upMetaWrites = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrap = (instance: RxStorageInstance<any, any, any>, kind: 'records' | 'meta' | 'other') =>
    new Proxy(instance, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        const hold = async (): Promise<void> => {
          armed = null;
          held = new Promise<void>((resolve) => (open = resolve));
          await held;
        };
        if (prop === 'findDocumentsById' && typeof value === 'function') {
          return async (...args: unknown[]) => {
            if (kind === 'records' && armed === 'lookup') await hold();
            return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        if (prop !== 'bulkWrite' || typeof value !== 'function') {
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        return async (rows: unknown, context: string) => {
          if (kind === 'records' && armed === 'write' && context.startsWith('replication-downstream-')) {
            await hold();
          }
          if (kind === 'records' && armed === 'conflict' && context === 'replication-up-write-conflict') {
            await hold();
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
      armed = 'write';
    },
    /** Holds RxDB's next write to `records` of a conflict it resolved. */
    holdNextConflictWrite: (): void => {
      armed = 'conflict';
    },
    /** Holds the next lookup of `records` documents by id. */
    holdNextLookup: (): void => {
      armed = 'lookup';
    },
    holding: (): boolean => held !== null,
    release: (): void => {
      held = null;
      open();
    },
    upMetaWrites: (): number => upMetaWrites,
  };
};

/**
 * Edits medication `id` on `s` to `dose` and waits until the server acknowledged it and RxDB recorded it
 * as its assumed master state: the moment the races of a held downstream write hinge on.
 */
export const editAcknowledged = async (
  s: DeviceSession,
  gate: ReturnType<typeof gatedStorage>,
  id: string,
  dose: string,
): Promise<void> => {
  const edited = gate.upMetaWrites();
  await s.records.update('Medication', id, { dose });
  await allPushed(s);
  await eventually(() => gate.upMetaWrites() > edited, 'the edit recorded as pushed');
};

/** Every revision number the local copy of `id` takes from now on; `stop()` ends the watch. */
export const watchRevisions = (s: DeviceSession, id: string) => {
  const states: number[] = [];
  const sub = s.db.records.$.subscribe((ev) => {
    if (ev.documentId === id) states.push(ev.documentData.rv);
  });
  return { states, stop: (): void => sub.unsubscribe() };
};
