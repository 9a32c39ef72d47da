// A record saved just before the app quits (or auto-locks) syncs; its `records-changed` audit entry must
// not be lost to the close: close() appends the changes noted in the last moments before it stops.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice } from '../support/devices';
import { input } from '../support/records';

describe('audit trail of a write made just before the session closes', () => {
  const server = useServer({ realClock: true });

  it('records the change: close() does not drop it', async () => {
    const t = server.t;
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const dbName = `audit-close-${Date.now()}`;
    const patient = await registerAccount(t);
    const first = await openDevice(t, patient, { offline: true, storage, dbName });
    const allergy = await first.records.add('Allergy', input('Allergy'));
    await first.close();
    const again = await openDevice(t, patient, { storage, dbName });
    server.sessions.push(again);
    await allPushed(again);
    const recorded = await eventually(
      async () =>
        (await again.audit.entries()).some(
          (e) => e.body.action === 'records-changed' && JSON.stringify(e.body).includes(allergy.id),
        ),
      'the write is in the audit trail',
      5_000,
    ).then(
      () => true,
      () => false,
    );
    expect(recorded).toBe(true);
  });
});
