import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstance, RxStorageInstanceCreationParams } from 'rxdb';
import { useServer } from './support/fixture';
import { newDevice, openDevice, patientWithAllergies, waitOnline } from './support/devices';

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

// 'online' says the device is caught up: a list shown when it says so holds every record pulled.
describe('a device is online only once what it pulled is stored', () => {
  const server = useServer({ realClock: true });

  it(
    'a query started when the status turns online sees every record of the catch-up',
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
      let atOnline: Promise<unknown[]> | null = null;
      const sub = d.sync.state$.subscribe((s) => {
        if (s.status === 'online' && atOnline === null) atOnline = d.records.query('Allergy');
      });
      await waitOnline(d);
      sub.unsubscribe();
      expect(atOnline).not.toBeNull();
      expect(await atOnline!).toHaveLength(RECORDS);
      expect(d.sync.state().initialSync).toStrictEqual({ done: RECORDS, total: RECORDS });
    },
  );
});
