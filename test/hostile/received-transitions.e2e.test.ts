// A grantee with write consent holds the stream key and its own signing key: a modified client can sign
// and push any version of a record it may write, going around the records API's transition rules. A
// version that rewrites what is final (a lab result's earlier versions, a value changed in place) must
// not replace what the patient's devices hold: it is quarantined BAD_TRANSITION and the held version
// stays, whether it arrives live, by a pull, or as the server's side of a conflict (where the patient's
// edit is then sent over it). Genuine versions, also several at once after a device was offline, still
// apply.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import type { RecordOf } from '@hale/model';
import { useServer } from '../support/fixture';
import { allPushed, eventually, providerWithLabWrite, waitOnline } from '../support/devices';
import { input } from '../support/records';

type Lab = RecordOf<'LabResult'>;

/**
 * What a modified provider client does: writes `change(held data)` straight into its store as the next
 * revision, so the engine seals, signs and pushes it with the provider's real keys.
 */
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
  return doc.rv + 1;
};

/** Waits until the patient either set the record aside or took a version with `value`. */
const judged = (p: DeviceSession, id: string, value: number) =>
  eventually(
    async () => p.sync.quarantine().some((q) => q.id === id) || (await labOf(p, id))?.value === value,
    'the patient set it aside or applied it',
  );

const labOf = async (s: DeviceSession, id: string) => (await s.records.get<'LabResult'>(id))?.record ?? null;
const serverRv = (
  t: { store: { db: { prepare: (sql: string) => { get: (id: string) => unknown } } } },
  id: string,
) =>
  Number(
    ((t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(id) as { rev: string }).rev ?? '0').split(
      '-',
    )[0],
  );

describe('versions received from the server are held to the record transition rules', () => {
  const server = useServer({ realClock: true });

  /** A lab result at version 2 (one earlier version kept) on the patient's device and the provider's. */
  const labAtVersion2 = async () => {
    const t = server.t;
    const setup = await providerWithLabWrite(t, server.sessions, { lab: input('LabResult', { value: 98 }) });
    const { p, d, lab } = setup;
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await d.records.update('LabResult', lab.id, { value: 101 }, { reason: 'recalibrated' });
    await allPushed(d);
    await eventually(async () => (await labOf(p, lab.id))?.version === 2, 'the patient has version 2');
    return setup;
  };

  it('a version dropping earlier versions, received live, is quarantined and the held one stays', async () => {
    const { p, d, lab } = await labAtVersion2();
    const rv = await forge(d, lab.id, (held) => ({ ...held, value: 140, version: 1, versions: [] }));
    await allPushed(d);
    await eventually(() => serverRv(server.t, lab.id) === rv, 'the server stored the forged version');

    await judged(p, lab.id, 140);
    const held = await labOf(p, lab.id);
    expect([held?.value, held?.version, held?.versions.length]).toEqual([101, 2, 1]);
    expect(
      p.sync
        .quarantine()
        .filter((q) => q.id === lab.id)
        .map((q) => q.reason),
    ).toEqual(['BAD_TRANSITION']);
    expect(p.sync.state().errors.some((e) => e.code === 'QUARANTINED' && e.id === lab.id)).toBe(true);
  });

  it('a final field changed in place, received by a pull after being offline, is quarantined', async () => {
    const { p, d, lab } = await labAtVersion2();
    p.sync.goOffline();
    const rv = await forge(d, lab.id, (held) => ({ ...held, value: 55 }));
    await allPushed(d);
    await eventually(() => serverRv(server.t, lab.id) === rv, 'the server stored the forged version');
    p.sync.goOnline();
    await waitOnline(p);

    await judged(p, lab.id, 55);
    const held = await labOf(p, lab.id);
    expect([held?.value, held?.version]).toEqual([101, 2]);
    expect(p.sync.quarantine().find((q) => q.id === lab.id)?.reason).toBe('BAD_TRANSITION');
  });

  it('genuine versions still apply, also two at once after being offline', async () => {
    const { p, d, lab } = await labAtVersion2();
    p.sync.goOffline();
    await d.records.update('LabResult', lab.id, { value: 103 }, { reason: 'repeat' });
    await d.records.update('LabResult', lab.id, { value: 104 }, { reason: 'repeat again' });
    await allPushed(d);
    p.sync.goOnline();
    await waitOnline(p);
    await eventually(async () => (await labOf(p, lab.id))?.version === 4, 'the patient has version 4');
    expect((await labOf(p, lab.id))?.versions.map((v) => v.value)).toEqual([98, 101, 103]);
    // And one more, live.
    await d.records.update('LabResult', lab.id, { value: 105 }, { reason: 'live' });
    await eventually(async () => (await labOf(p, lab.id))?.version === 5, 'the patient has version 5');
    expect(p.sync.quarantine()).toEqual([]);
  });

  it("the server's side of a conflict that breaks the rules is not merged in", async () => {
    const { p, d, lab } = await labAtVersion2();
    p.sync.goOffline();
    // The patient edits the lab result offline (a version the server has not seen)...
    await p.records.update('LabResult', lab.id, { performer: 'Lab B' }, { reason: 'performer' });
    // ...while the provider's modified client replaces its history.
    const rv = await forge(d, lab.id, (held) => ({ ...held, value: 140, version: 1, versions: [] }));
    await allPushed(d);
    await eventually(() => serverRv(server.t, lab.id) === rv, 'the server stored the forged version');
    p.sync.goOnline();

    // Merged, the forgery would show as the record (its edit is the later one) or as a conflict side.
    await eventually(
      async () =>
        p.sync.quarantine().some((q) => q.id === lab.id) || (await p.records.get(lab.id))?.conflict === true,
      'the patient set it aside or merged it',
    );
    const held = await labOf(p, lab.id);
    // The patient's own edit (version 3, on version 2) stays the local copy, unmerged with the forgery.
    expect([held?.value, held?.version, held?.versions.length, held?.performer]).toEqual([
      101,
      3,
      2,
      'Lab B',
    ]);
    expect((await p.records.get(lab.id))?.conflict).toBe(false);
    expect(p.sync.quarantine().find((q) => q.id === lab.id)?.reason).toBe('BAD_TRANSITION');
    // One write after the version the patient held, signed by the provider: the patient's edit is sent
    // over it (forged-master-later-writes.e2e), not kept unsent.
    await eventually(() => serverRv(server.t, lab.id) > rv, "the patient's edit is sent over the forgery");
    expect(p.sync.unsent()).toEqual([]);
  });
});
