import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';
import { useServer } from '../support/fixture';
import { eventually, newDevice, openDevice, patientWithAllergies, waitOnline } from '../support/devices';
import { input } from '../support/records';

const RECORDS = 30;
const STORE_DELAY_MS = 300;

/**
 * Memory storage whose records instance stores what replication pulls only after `STORE_DELAY_MS`, as a
 * slow disk would: the pages a pull handed to RxDB are then not yet queryable for a while.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const slowPulledWrites = (): RxStorage<any, any> => {
  const inner = getRxStorageMemory();
  return {
    ...inner,
    name: 'slow-pulled-writes',
    rxdbVersion: inner.rxdbVersion,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async createStorageInstance(params: RxStorageInstanceCreationParams<any, any>) {
      const instance = await inner.createStorageInstance(params);
      if (params.collectionName !== 'records') return instance;
      return new Proxy(instance, {
        get(target, prop, receiver) {
          const value: unknown = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          const bound = (value as (...a: unknown[]) => unknown).bind(target);
          if (prop !== 'bulkWrite') return bound;
          return async (rows: unknown, context: string) => {
            if (context.startsWith('replication-downstream')) {
              await new Promise((resolve) => setTimeout(resolve, STORE_DELAY_MS));
            }
            return bound(rows, context);
          };
        },
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
      }) as RxStorageInstance<any, any, any>;
    },
  };
};

// 'online' says the device is caught up and `lastSyncedAt` when it last synced: a list shown when either
// says so holds every record pulled (and `lastSyncedAt` is kept across restarts, so a device opened
// offline must not show a time whose records it never stored).
describe('a device is online, and synced, only once what it pulled is stored', () => {
  const server = useServer({ realClock: true });

  it(
    'a query started when the status turns online, lastSyncedAt is first set or initial sync completes, sees every record of the catch-up',
    { timeout: 60_000 },
    async () => {
      const t = server.t;
      const { patient } = await patientWithAllergies(t, server.sessions, RECORDS);

      const d = await openDevice(t, patient, {
        device: await newDevice(t, patient),
        batchSize: 10,
        storage: slowPulledWrites(),
      });
      server.sessions.push(d);
      expect(d.sync.state().lastSyncedAt).toBeNull();
      // What a query started at each moment answers.
      const at: { online?: Promise<unknown[]>; synced?: Promise<unknown[]>; complete?: Promise<unknown[]> } =
        {};
      const sub = d.sync.state$.subscribe((s) => {
        if (s.status === 'online') at.online ??= d.records.query('Allergy');
        if (s.lastSyncedAt !== null) at.synced ??= d.records.query('Allergy');
        const { done, total } = s.initialSync;
        if (total > 0 && done === total) at.complete ??= d.records.query('Allergy');
      });
      await waitOnline(d);
      sub.unsubscribe();
      expect(await at.online).toHaveLength(RECORDS);
      expect(await at.synced).toHaveLength(RECORDS);
      // A progress bar at 100% shows a list with every record.
      expect(await at.complete).toHaveLength(RECORDS);
      expect(d.sync.state().initialSync).toStrictEqual({ done: RECORDS, total: RECORDS });
    },
  );

  it('lastSyncedAt moves for a live change only once it is stored', { timeout: 60_000 }, async () => {
    const t = server.t;
    const { patient, device: a } = await patientWithAllergies(t, server.sessions, 1);
    const b = await openDevice(t, patient, {
      device: await newDevice(t, patient),
      storage: slowPulledWrites(),
    });
    server.sessions.push(b);
    await waitOnline(b);
    await eventually(async () => (await b.records.query('Allergy')).length === 1, 'the first allergy stored');
    const before = b.sync.state().lastSyncedAt;
    expect(before).not.toBeNull();
    // A later time than `before` is then possible (ISO strings of the same clock compare as times).
    await new Promise((resolve) => setTimeout(resolve, 5));

    const at: { synced?: Promise<unknown> } = {};
    let id = '';
    const sub = b.sync.state$.subscribe((s) => {
      if (id !== '' && s.lastSyncedAt !== before) at.synced ??= b.records.get(id);
    });
    try {
      id = (await a.records.add('Allergy', input('Allergy'))).id;
      await eventually(() => at.synced !== undefined, 'lastSyncedAt moved on the other device');
      expect(await at.synced).not.toBeNull();
    } finally {
      sub.unsubscribe();
    }
  });
});
