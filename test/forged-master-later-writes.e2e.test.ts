// Once the server holds a version of a record that the patient's device set aside BAD_TRANSITION (a
// grantee with write consent forged it), the patient's later local writes to that record meet it as the
// server's side of a conflict. It must never be merged in, whatever revision number the local change
// RxDB assumes as the server's carries: neither as the record nor as a conflict side, neither locally nor
// in a version pushed to the server. The patient's writes stay visible and reported in unsent changes.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client';
import type { RecordOf } from '@hale/model';
import { useServer } from './support/fixture';
import { allPushed, eventually, providerWithLabWrite, waitOnline } from './support/devices';
import { input } from './support/records';

type Lab = RecordOf<'LabResult'>;

/** A modified provider client's write: `change(held data)` as the next revision, sealed with its keys. */
const forge = async (d: DeviceSession, id: string, change: (lab: Lab) => Record<string, unknown>) => {
  const doc = await d.db.records.findOne(id).exec();
  if (!doc) throw new Error(`the provider does not hold ${id}`);
  const now = new Date().toISOString();
  await doc.incrementalModify((stored) => ({
    ...stored,
    rv: stored.rv + 1,
    updatedAt: now,
    author: d.account.device.deviceId,
    by: d.account.accountId,
    data: { ...change(stored.data as unknown as Lab), updatedAt: now },
  }));
};

describe('a forged server version set aside stays out of the patient’s later writes', () => {
  const server = useServer({ realClock: true });

  it('later local writes are kept unsent and reported, never merged with the forged version', async () => {
    const { p, d, lab } = await providerWithLabWrite(server.t, server.sessions, {
      lab: input('LabResult', { value: 98 }),
    });
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await forge(d, lab.id, (held) => ({ ...held, value: 140, version: 1, versions: [] }));
    await allPushed(d);
    await eventually(() => p.sync.quarantine().some((q) => q.id === lab.id), 'the forgery is set aside');
    const forgedRev = (
      server.t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(lab.id) as { rev: string }
    ).rev;

    const unsentWith = (performer: string) =>
      eventually(
        () => p.sync.unsent().some((u) => u.id === lab.id && u.data['performer'] === performer),
        `the edit to ${performer} is kept unsent`,
      );
    await p.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'one' });
    await unsentWith('Lab B');
    await p.records.update('LabResult', lab.id, { performer: 'Lab C' }, { reason: 'two' });
    await unsentWith('Lab C');

    const held = await p.records.get<'LabResult'>(lab.id);
    expect({
      conflict: held?.conflict,
      value: held?.record.value,
      performer: held?.record.performer,
      history: held?.record.versions.map((v) => v.value),
    }).toEqual({ conflict: false, value: 98, performer: 'Lab C', history: [98, 98] });
    // The server still holds the forgery: nothing of the patient's carried it there.
    expect(
      (server.t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(lab.id) as { rev: string }).rev,
    ).toBe(forgedRev);
    expect(
      p.sync
        .state()
        .errors.filter((e) => e.id === lab.id)
        .map((e) => e.code),
    ).toEqual(expect.arrayContaining(['QUARANTINED', 'CONFLICT_UNREADABLE']));
  });
});
