// A grantee with write consent writes a version of the patient's lab result that breaks its transition
// rules (its value changed in place). The patient's device sets it aside BAD_TRANSITION; the patient's
// next write is sent over it (OVERWROTE_REFUSED), so the server no longer holds it. What the grantee
// wrote must not be gone everywhere: the patient's device keeps the refused version (sealed at rest with
// its device metadata) and gives it back with `sync.quarantinedVersion`, with its verified writer, also
// after the session is closed and opened again, until the entry is dismissed.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { DeviceSession } from '@hale/client/advanced';
import type { RecordOf } from '@hale/model';
import { useServer } from '../support/fixture';
import {
  allPushed,
  eventually,
  newDevice,
  openDevice,
  providerWithLabWrite,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';

type Lab = RecordOf<'LabResult'>;

/** What the grantee enters: nothing else of the test carries it. */
const PERFORMER = 'Westside Lab 7Q3';

/** A modified client's write: the held lab result's first version changed in place, one write further. */
const forge = async (d: DeviceSession, id: string) => {
  const doc = await d.db.records.findOne(id).exec();
  if (!doc) throw new Error(`the device does not hold ${id}`);
  const now = new Date().toISOString();
  await doc.incrementalModify((stored) => ({
    ...stored,
    rv: stored.rv + 1,
    updatedAt: now,
    author: d.account.device.deviceId,
    by: d.account.accountId,
    data: {
      ...(stored.data as unknown as Lab),
      value: 140,
      performer: PERFORMER,
      version: 1,
      versions: [],
      updatedAt: now,
    },
  }));
};

describe('a refused version the patient’s change was stored over', () => {
  const server = useServer({ realClock: true });
  const storedRev = (id: string) =>
    (server.t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(id) as { rev: string }).rev;

  it('is kept on the patient’s device and given back by quarantinedVersion, across a restart, until dismissed', async () => {
    const { patient, p, d, lab, stream } = await providerWithLabWrite(server.t, server.sessions, {
      lab: input('LabResult', { value: 98 }),
    });
    // A second device of the patient, reopened later over the same store.
    const storage = getRxStorageMemory();
    const dbName = `kept-version-${Date.now()}`;
    const device = await newDevice(server.t, patient);
    let p2 = await openDevice(server.t, patient, { device, storage, dbName });
    server.sessions.push(p2);
    await eventually(async () => (await p2.records.get(lab.id)) !== null, 'p2 holds the lab');
    await Promise.all([waitOnline(p), waitOnline(p2), waitOnline(d)]);

    await forge(d, lab.id);
    await allPushed(d);
    await eventually(() => p2.sync.quarantine().some((q) => q.id === lab.id), 'p2 sets it aside');
    const forgedRev = storedRev(lab.id);
    const entry = { stream, id: lab.id, rev: forgedRev };

    await p2.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'one' });
    await allPushed(p2);
    await eventually(() => storedRev(lab.id) !== forgedRev, 'the server holds the patient’s version');
    await eventually(
      () => p2.sync.quarantine().some((q) => q.id === lab.id && q.overwritten !== undefined),
      'the entry is marked overwritten',
    );
    expect(p2.sync.state().errors.filter((e) => e.code === 'OVERWROTE_REFUSED')).toHaveLength(1);

    // Nothing else gives back what the grantee wrote: not the record, not the lists, not the reports.
    const elsewhere = async (s: DeviceSession) =>
      JSON.stringify([
        await s.records.get(lab.id),
        s.sync.quarantine(),
        s.sync.unsent(),
        s.sync.state().errors,
        (await s.db.records.find().exec()).map((r) => r.toJSON()),
      ]);
    expect(await elsewhere(p2)).not.toContain(PERFORMER);

    // The new call does, with the account and device that signed it.
    const shown = (v: Awaited<ReturnType<DeviceSession['sync']['quarantinedVersion']>>) => ({
      reason: v.reason,
      overwritten: v.overwritten?.by,
      by: v.author.accountId,
      device: v.author.deviceId,
      kind: v.record.kind,
      deleted: v.record.deleted,
      value: v.record.data['value'],
      performer: v.record.data['performer'],
    });
    const expected = {
      reason: 'BAD_TRANSITION',
      overwritten: d.account.accountId,
      by: d.account.accountId,
      device: d.account.device.deviceId,
      kind: 'LabResult',
      deleted: false,
      value: 140,
      performer: PERFORMER,
    };
    expect(shown(await p2.sync.quarantinedVersion(entry))).toEqual(expected);
    expect(p2.sync.quarantine().find((q) => q.id === lab.id)?.content).toMatchObject({ kept: true });

    // Closed and opened again over the same store: still there.
    server.sessions.splice(server.sessions.indexOf(p2), 1);
    await p2.close();
    p2 = await openDevice(server.t, patient, { device, storage, dbName });
    server.sessions.push(p2);
    await waitOnline(p2);
    expect(shown(await p2.sync.quarantinedVersion(entry))).toEqual(expected);

    // Dismissed: gone, and so is its content.
    await p2.sync.dismissQuarantined(entry);
    await expect(p2.sync.quarantinedVersion(entry)).rejects.toMatchObject({ code: 'NOT_QUARANTINED' });
    const left = (await p2.db.getLocal<{ value: unknown }>('meta-quarantine'))?.toJSON().data.value;
    expect(left).toEqual([]);
  });
});
