import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { RxStorage } from 'rxdb';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  grantRead,
  grantWrite,
  openDevice,
  openTwoDevices,
  providerWithLabWrite,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// A served version older than the device's copy is dropped (freshness.ts) only while that copy is the
// server's state. A version the server never took stays the local copy after its unsent entry is gone,
// and a deletion made offline must not outlive a purge: either would make the server's versions look
// stale and hide them from the device.
describe('engine: what counts as the server-agreed local copy', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const writeGrantedProvider = async (options: { storage?: RxStorage<unknown, unknown> } = {}) => {
    const t = server.t;
    const dbName = `freshness-provider-${Date.now()}`;
    const lab = input('LabResult', {
      testName: `lipid panel ${'x'.repeat(180)}`,
      performer: 'y'.repeat(200),
    });
    return { t, dbName, ...(await providerWithLabWrite(t, sessions, { lab, dbName, ...options })) };
  };

  /** The provider edits offline; the patient turns the write grant into a read grant; the edit is refused. */
  const refusedEdit = async () => {
    const setup = await writeGrantedProvider();
    const { provider, p, d, lab } = setup;
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName: 'provider edit' });
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'read only');
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(() => d.sync.unsent().length === 1, 'the refused edit is kept');
    return setup;
  };

  const shows = async (s: DeviceSession, id: string) =>
    ((await s.records.get<'LabResult'>(id))?.record as { testName?: string } | undefined)?.testName;

  it("after discardUnsent, the patient's next version under the refused edit's number reaches the device", async () => {
    const { p, d, lab, stream } = await refusedEdit();
    expect(await d.sync.discardUnsent(stream, lab.id)).toBe(true);
    // The refused edit (rv 2) is still the provider's local copy; the patient's edit is rv 2 as well.
    expect((await d.records.get(lab.id))?.rv).toBe(2);
    await p.records.update('LabResult', lab.id, { testName: 'patient final' });
    await allPushed(p);
    await eventually(async () => (await shows(d, lab.id)) === 'patient final', "the patient's version");
    expect(d.sync.state().errors.filter((e) => e.code === 'STALE_VERSION')).toEqual([]);
  });

  it('a record keeps counting as diverged across a restart once its unsent entry is gone', async () => {
    const { t, provider, p, d, lab, dbName, stream } = await refusedEdit();
    expect(await d.sync.discardUnsent(stream, lab.id)).toBe(true);
    await d.close();
    sessions.splice(sessions.indexOf(d), 1);
    const again = await openDevice(t, provider, { dbName });
    sessions.push(again);
    await waitOnline(again);
    expect(again.sync.unsent()).toEqual([]);
    await p.records.update('LabResult', lab.id, { testName: 'patient final' });
    await allPushed(p);
    await eventually(async () => (await shows(again, lab.id)) === 'patient final', "the patient's version");
    expect(again.sync.state().errors.filter((e) => e.code === 'STALE_VERSION')).toEqual([]);
  });

  it('a record deleted offline leaves no content when access ends, and comes back when granted again', async () => {
    const memory = getRxStorageMemory();
    const instances: unknown[] = [];
    const storage = {
      ...memory,
      createStorageInstance: async (params: Parameters<typeof memory.createStorageInstance>[0]) => {
        const instance = await memory.createStorageInstance(params);
        instances.push(instance);
        return instance;
      },
    } as unknown as RxStorage<unknown, unknown>;
    const { provider, p, d, lab, stream } = await writeGrantedProvider({ storage });
    /** Sizes of the stored documents (sealed at rest) that mention the record, deleted ones included. */
    const sizes = (): number[] => {
      const out: number[] = [];
      for (const instance of instances) {
        const docs = (instance as { internals: { documents: Map<string, unknown> } }).internals.documents;
        for (const doc of docs.values()) {
          const text = JSON.stringify(doc);
          if (text.includes(lab.id)) out.push(text.length);
        }
      }
      return out;
    };
    d.sync.goOffline();
    await d.records.remove(lab.id);
    const held = async () => {
      const [doc] = await d.db.records.storageInstance.findDocumentsById([lab.id], true);
      return doc;
    };
    expect(Object.keys((await held())!.data).length).toBeGreaterThan(0);
    const before = Math.max(...sizes());
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    d.sync.goOnline();
    await eventually(() => !d.engine.readable(stream) && d.sync.state().status === 'online', 'access ended');
    // The deletion is emptied like the live records (decrypted here), and no stored copy (the replication's
    // own state included) holds the ~400 characters of sealed content any more.
    await eventually(async () => Object.keys((await held())!.data).length === 0, 'the deletion is emptied');
    await eventually(() => Math.max(0, ...sizes()) < before - 400, 'no stored copy holds the content');
    expect(d.sync.state().pendingWrites).toBe(0);

    // Granted again: the server's version (never deleted there) is the record again.
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'again');
    await eventually(async () => (await d.records.get(lab.id)) !== null, 'the record is back');
    expect(d.sync.state().errors.filter((e) => e.code === 'STALE_VERSION')).toEqual([]);
    expect((await p.records.get(lab.id))?.rv).toBe(1);
  });

  it('a deletion purged while offline is not sent when write access is back, and the record returns', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    const dbName = `purged-offline-${Date.now()}`;
    const d = await openDevice(t, provider, { dbName });
    sessions.push(p, d);
    await waitOnline(d);
    const lab = await p.records.add('LabResult', input('LabResult', { testName: 'ferritin' }));
    await allPushed(p);
    await p.consent.verifyProvider(provider.accountId);
    const grantLabs = (durationMs: number) => grantWrite(p, provider.accountId, 'lab-result', durationMs);
    await grantLabs(3_000);
    await eventually(async () => (await d.records.get(lab.id)) !== null, 'the provider has the lab result');
    d.sync.goOffline();
    await d.records.remove(lab.id);
    // The grant's end is enforced on the device's clock: the stream is purged while offline.
    await eventually(
      async () => {
        const [doc] = await d.db.records.storageInstance.findDocumentsById([lab.id], true);
        return doc !== undefined && Object.keys(doc.data).length === 0;
      },
      'purged while offline',
      10_000,
    );
    // Write access is back before the device is: restarted, it sends what RxDB has not pushed yet with
    // the stream writable again.
    await d.close();
    sessions.splice(sessions.indexOf(d), 1);
    await grantLabs(HOUR);
    const again = await openDevice(t, provider, { dbName });
    sessions.push(again);
    await waitOnline(again);
    await eventually(async () => (await again.records.get(lab.id)) !== null, 'the record is back');
    await allPushed(again);
    // The emptied deletion (one number above the server's version) would have been taken as a deletion.
    expect(await p.records.get(lab.id)).not.toBeNull();
    const row = t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(lab.id) as { rev: string };
    expect(row.rev.startsWith('1-')).toBe(true);
  });

  it('the same record deleted offline on two devices leaves nothing pending', async () => {
    const patient = await registerAccount(server.t);
    const { a, b } = await openTwoDevices(server.t, patient, sessions);
    const med = await a.records.add('Medication', input('Medication', { name: 'Warfarin', dose: '5 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');
    a.sync.goOffline();
    b.sync.goOffline();
    await a.records.remove(med.id);
    await b.records.remove(med.id);
    a.sync.goOnline();
    await allPushed(a, 'the deletion is on the server');
    // b's deletion conflicts with a's, and RxDB resolves it to a's version: nothing more is sent.
    b.sync.goOnline();
    await allPushed(b, "b's deletion is settled");
    expect(b.sync.unsent()).toEqual([]);
    expect(await b.records.get(med.id)).toBeNull();
  });
});
