// A clinician's own entries are kept by a device that was not running its care duties when they arrived:
// its next start reads the store's writes since its saved mark (no query over the whole store), and so does
// the start after a restart, for what arrived while it was closed.
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import type { DexieSettings } from 'rxdb';
import { describe, expect, it } from 'vitest';
import { createHttpApi } from '@hale/client/advanced';
import { haleSessionOf } from '@hale/client/testing';
import { addDevice } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, ed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { careDevice, share } from './care-devices';

describe("a clinician's own entries", () => {
  const server = useServer({ realClock: true });

  it('are kept by a device whose care duties start after they arrived, and after a restart', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider');
    const P = patient.account.accountId;
    await share(patient, clinician, ['lab-result', 'allergy']);
    const allergy = await patient.hale.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    const lab = await clinician.hale.records.add(
      'LabResult',
      input('LabResult', { testName: 'HbA1c', value: 6.9, units: '%', status: 'final' }),
      { patientId: P },
    );
    await allPushed(clinician.device);

    // The clinician's second device joins and syncs the chart, its care duties not running.
    const storage = getRxStorageDexie({
      indexedDB: indexedDB as unknown as NonNullable<DexieSettings['indexedDB']>,
      IDBKeyRange: IDBKeyRange as unknown as NonNullable<DexieSettings['IDBKeyRange']>,
    });
    const dbName = `own-entries-${Date.now()}`;
    const second = await addDevice(t, clinician.account);
    let other = await openDevice(t, clinician.account, { device: second, storage, dbName });
    server.sessions.push(other);
    await waitOnline(other);
    await eventually(async () => (await other.records.get(lab.id)) !== null, 'the lab on the second device');
    await eventually(async () => (await other.records.get(allergy.id)) !== null, 'the allergy too');

    const api = createHttpApi({ baseUrl: t.url, fetch: (url, init) => fetch(url, init) });
    let hale = haleSessionOf(other, { api, ed });
    await eventually(async () => (await hale.care.ownEntries.patients()).includes(P), 'kept at start');
    let text = JSON.stringify(await hale.care.ownEntries.export(P));
    expect(text).toContain(lab.id);
    expect(text).not.toContain(allergy.id);

    // Closed; meanwhile the clinician writes again from the first device. Reopened, the next start keeps it.
    server.sessions.splice(server.sessions.indexOf(other), 1);
    await other.close();
    const lab2 = await clinician.hale.records.add(
      'LabResult',
      input('LabResult', { testName: 'LDL', value: 2.1, units: 'mmol/L', status: 'final' }),
      { patientId: P },
    );
    await allPushed(clinician.device);
    other = await openDevice(t, clinician.account, { device: second, storage, dbName });
    server.sessions.push(other);
    await waitOnline(other);
    await eventually(async () => (await other.records.get(lab2.id)) !== null, 'the second lab arrives');
    hale = haleSessionOf(other, { api, ed });
    await eventually(
      async () => JSON.stringify(await hale.care.ownEntries.export(P)).includes(lab2.id),
      'kept',
    );
    text = JSON.stringify(await hale.care.ownEntries.export(P));
    expect(text).toContain(lab.id);
    expect(text).toContain('LDL');
    expect(text).not.toContain('Latex');
  });
});
