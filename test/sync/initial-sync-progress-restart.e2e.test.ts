import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage, RxStorageInstanceCreationParams } from 'rxdb';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

// the TSDoc of @hale/client/advanced, `initialSync`: "`{ done, total }` documents of the catch-up after connecting, for a
// progress bar". After a restart the total is what the catch-up pulls, counted from the positions RxDB
// stored, not the stream's whole history: the connection's listing may come before RxDB's first pull call
// handed the engine those positions (a store slow to open RxDB's replication metadata, as a phone's
// IndexedDB at start-up, makes it come first every time; the storage below is one once armed), and the
// count then waits for that call.

/** RxDB's title of its replication metadata collection (META_INSTANCE_SCHEMA_TITLE). */
const META_TITLE = 'RxReplicationProtocolMetaData';

/** A memory storage whose replication metadata opens 300 ms late once `slow` is set. */
const slowMetaStorage = () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inner: RxStorage<any, any> = getRxStorageMemory();
  const gate = { slow: false };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...inner,
    name: inner.name,
    rxdbVersion: inner.rxdbVersion,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async createStorageInstance(params: RxStorageInstanceCreationParams<any, any>) {
      if (gate.slow && params.schema.title === META_TITLE) await new Promise((r) => setTimeout(r, 300));
      return inner.createStorageInstance(params);
    },
  };
  return { storage, gate };
};

const HELD = 40;
const NEW = 12;

describe('initial-sync progress after a restart', () => {
  const server = useServer({ realClock: true });

  it(
    'counts in total only what the catch-up pulls, not what the device holds',
    { timeout: 60_000 },
    async () => {
      const t = server.t;
      const patient = await registerAccount(t);
      const second = await addDevice(t, patient);
      const a = await openDevice(t, patient);
      server.sessions.push(a);
      for (let i = 0; i < HELD; i++) await a.records.add('Allergy', input('Allergy'));
      await allPushed(a);
      const { storage, gate } = slowMetaStorage();
      const open = () =>
        openDevice(t, patient, {
          device: second,
          storage,
          dbName: 'initial-sync-progress-restart',
          batchSize: 5,
        });
      let b = await open();
      server.sessions.push(b);
      await waitOnline(b);
      await eventually(
        async () => (await b.records.query('Allergy')).length === HELD,
        'b holds the allergies',
      );
      await b.close();

      // While b is closed, the other device adds more.
      for (let i = 0; i < NEW; i++) await a.records.add('Allergy', input('Allergy'));
      await allPushed(a);

      gate.slow = true;
      b = await open();
      server.sessions.push(b);
      const seen: Array<{ done: number; total: number }> = [];
      b.sync.state$.subscribe((s) => {
        const last = seen.at(-1);
        if (last?.done !== s.initialSync.done || last.total !== s.initialSync.total) seen.push(s.initialSync);
      });
      await waitOnline(b);
      await eventually(
        async () => (await b.records.query('Allergy')).length === HELD + NEW,
        'b pulled the new ones',
      );

      // The catch-up pulled 12 documents (in pages of 5): a bar of them, not of the 52 the store holds.
      expect(Math.max(...seen.map((s) => s.total)), JSON.stringify(seen)).toBe(NEW);
      expect(b.sync.state().initialSync).toEqual({ done: NEW, total: NEW });
    },
  );
});
