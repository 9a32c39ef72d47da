import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, newDevice, openDevice, workerProjectJobs } from '../support/devices';
import { input } from '../support/records';
import { onCryptoWorkerProject } from '../support/test-offload';

// The worker project (vitest.config.ts) is only worth its run time if its scenarios' cryptography does
// take the worker's path. Scenarios write a few records at a time, fewer than an app's offload sends
// (OFFLOAD_MIN_BATCH): this fails if the project's wiring lets such batches stay in-thread.
describe.runIf(onCryptoWorkerProject)('the worker project runs small batches on its crypto worker', () => {
  const server = useServer({ realClock: true });

  it('a few records written, reopened and synced send at-rest and wire jobs of every op to the worker', async () => {
    const t = server.t;
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const dbName = `worker-project-${Date.now()}`;
    const patient = await registerAccount(t);
    const before = workerProjectJobs();

    const first = await openDevice(t, patient, { offline: true, storage, dbName });
    for (let i = 0; i < 3; i++) await first.records.add('Immunization', input('Immunization'));
    await first.close();
    // Reopened: its records are read back from storage, opened at rest.
    const again = await openDevice(t, patient, { storage, dbName });
    server.sessions.push(again);
    expect(await again.records.query('Immunization')).toHaveLength(3);
    await allPushed(again, 'pushed');
    const other = await openDevice(t, patient, { device: await newDevice(t, patient) });
    server.sessions.push(other);
    await eventually(async () => (await other.records.query('Immunization')).length === 3, 'received');

    const after = workerProjectJobs();
    const sent = Object.fromEntries(
      (['seal', 'open', 'wireSeal', 'wireOpen'] as const).map((op) => [
        op,
        (after.get(op) ?? 0) - (before.get(op) ?? 0),
      ]),
    );
    const none = Object.entries(sent).flatMap(([op, n]) => (n > 0 ? [] : [op]));
    expect(none, `ops the worker got no job of (jobs by op: ${JSON.stringify(sent)})`).toEqual([]);
  });
});
