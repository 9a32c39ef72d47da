import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, newDevice, openDevice, allPushed } from '../support/devices';
import { input } from '../support/records';

// Dexie over an IndexedDB that outlives the session (as the browser's does across app restarts).
describe('a device restarts with writes still queued', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('queued offline writes survive the restart, sync once, and arrive exactly once elsewhere', async () => {
    const t = server.t;
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const restartDb = `restart-device-${Date.now()}`;
    const patient = await registerAccount(t);
    const first = await openDevice(t, patient, { offline: true, storage, dbName: restartDb });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await first.records.add('Immunization', input('Immunization'))).id);
    expect(first.sync.state().pendingWrites).toBe(5);
    await first.close(); // the app quits before it ever went online

    const again = await openDevice(t, patient, { storage, dbName: restartDb });
    sessions.push(again);
    expect((await again.records.query('Immunization')).length).toBe(5);
    await allPushed(again, 'queued writes pushed after restart');

    const other = await openDevice(t, patient, { device: await newDevice(t, patient) });
    sessions.push(other);
    await eventually(
      async () => (await other.records.query('Immunization')).length === 5,
      'other device has them',
    );
    // Initial-sync progress is reported as done/total and ends complete.
    await eventually(() => other.sync.state().status === 'online', 'other device online');
    const progress = other.sync.state().initialSync;
    expect(progress.total).toBe(5);
    expect(progress.done).toBe(progress.total);
    expect(other.sync.state().lastSyncedAt).not.toBeNull();
    expect((await other.records.query('Immunization')).map((r) => r.record.id).sort()).toEqual(
      [...ids].sort(),
    );
    const stored = t.store.db
      .prepare('SELECT count(*) AS n FROM docs WHERE stream = ?')
      .get(`${patient.accountId}/immunization`) as { n: number };
    expect(stored.n).toBe(5);
  });
});
