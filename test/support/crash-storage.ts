// A memory storage (kept across sessions of one database name) that can play a device crash: after
// `crash()`, no write of the storage instances opened before it completes (as a killed process's
// unfinished work never does, nor does it hear of later writes) and the running session is left as it
// is, never closed. The next run of the app opens the database through `afterCrash()`, another storage
// (under another name, so the dead session's claim on the database does not refuse it) over the same
// data: what was stored at the crash.
// Writes of local documents whose id `holdLocal` matches are held until the crash, to keep one step (say
// the audit append) from reaching the disk before it whatever the timing.
import { filter } from 'rxjs';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';

export const crashableStorage = () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inner: RxStorage<any, any> = getRxStorageMemory();
  let crashed = false;
  let crashedNow = (): void => undefined;
  const crash$ = new Promise<void>((resolve) => (crashedNow = resolve));
  const never = new Promise<never>(() => undefined);
  let held: ((id: string) => boolean) | null = null;
  /** Ids of the documents of every write completed before the crash. */
  const stored: string[] = [];
  const idsOf = (rows: unknown): string[] =>
    Array.isArray(rows)
      ? rows.flatMap((r: { document?: { id?: unknown } }) =>
          typeof r.document?.id === 'string' ? [r.document.id] : [],
        )
      : [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrap = (instance: RxStorageInstance<any, any, any>) =>
    new Proxy(instance, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        // A dead process hears of no write made after its death (the next run's, over the same data).
        if (prop === 'changeStream') return () => target.changeStream().pipe(filter(() => !crashed));
        if (prop !== 'bulkWrite' || typeof value !== 'function') {
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        return async (rows: unknown, context: string) => {
          const ids = idsOf(rows);
          if (!crashed && held !== null && ids.some(held)) await crash$;
          if (crashed) return never;
          const result = await (value as (r: unknown, c: string) => Promise<unknown>).call(
            target,
            rows,
            context,
          );
          stored.push(...ids);
          return result;
        };
      },
    });
  const storageNamed = (
    name: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    create: (instance: RxStorageInstance<any, any, any>) => RxStorageInstance<any, any, any>,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): RxStorage<any, any> => ({
    ...inner,
    name,
    rxdbVersion: inner.rxdbVersion,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async createStorageInstance(params: RxStorageInstanceCreationParams<any, any>) {
      return create(await inner.createStorageInstance(params));
    },
  });
  let runs = 0;
  return {
    storage: storageNamed(inner.name, wrap),
    /** The process dies now: nothing the running session writes from here on completes. */
    crash: (): void => {
      crashed = true;
      crashedNow();
    },
    /** The storage the app's next run opens the database with: the data as the crash left it. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    afterCrash: (): RxStorage<any, any> => storageNamed(`${inner.name}-after-crash-${++runs}`, (i) => i),
    /** How many writes completed before the crash stored a document whose id matches. */
    stored: (match: (id: string) => boolean): number => stored.filter(match).length,
    /** Holds, until the crash, writes of local documents whose id matches (e.g. `meta-audit-chain:`). */
    holdLocal: (match: (id: string) => boolean): void => {
      held = match;
    },
  };
};
