// The same decision about a conflict, made on two devices before either hears of the other's, is one
// decision: each settlement re-stamps the record's bookkeeping (`updatedAt`, who wrote the version), but
// the clinical content is the same, so the second push must not open a new conflict between the two.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client';
import { useServer } from './support/fixture';
import { allPushed, eventually, openTwoDevices, providerWithLabWrite } from './support/devices';
import { input } from './support/records';

const setAside = (s: DeviceSession): string[] => [
  ...s.sync.quarantine().map((q) => `quarantined: ${q.reason}`),
  ...s.sync.unsent().map((u) => `unsent: ${u.code}`),
];

/** Both devices go offline, edit `id` (b 20 ms later), then push in turn: both end on the merge. */
const conflictBetween = async (
  a: DeviceSession,
  b: DeviceSession,
  edit: (s: DeviceSession, label: string) => Promise<unknown>,
  id: string,
): Promise<void> => {
  a.sync.goOffline();
  b.sync.goOffline();
  await edit(a, 'first');
  await new Promise((r) => setTimeout(r, 20));
  await edit(b, 'second');
  a.sync.goOnline();
  await allPushed(a);
  b.sync.goOnline();
  await allPushed(b);
  await eventually(async () => {
    const [x, y] = [await a.records.get(id), await b.records.get(id)];
    return x !== null && y !== null && x.conflict && x.rv === y.rv;
  }, 'both devices hold the merge');
};

/** Both settle `id` the same way offline, then push in turn; answers what each holds afterwards. */
const settleOnBoth = async (a: DeviceSession, b: DeviceSession, id: string, choice: 'keep' | 'other') => {
  a.sync.goOffline();
  b.sync.goOffline();
  await a.records.resolveConflict(id, choice, { expectedRv: (await a.records.get(id))!.rv });
  await new Promise((r) => setTimeout(r, 20));
  await b.records.resolveConflict(id, choice, { expectedRv: (await b.records.get(id))!.rv });
  a.sync.goOnline();
  await allPushed(a, 'the first settlement is pushed');
  b.sync.goOnline();
  await allPushed(b, 'the second settlement is pushed');
  // Whatever the second push led to has reached the first device.
  await eventually(
    async () => (await a.records.get(id))?.rv === (await b.records.get(id))?.rv,
    'both devices hold one version',
  );
  return Promise.all([a.records.get(id), b.records.get(id)]);
};

describe('one settlement made on two devices', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  for (const choice of ['keep', 'other'] as const) {
    it(`'${choice}' on two devices of the patient settles the conflict once`, async () => {
      const t = server.t;
      const patient = await registerAccount(t);
      const { a, b } = await openTwoDevices(t, patient, sessions);
      const med = await a.records.add(
        'Medication',
        input('Medication', { name: 'Lisinopril', dose: '10 mg' }),
      );
      await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');
      await conflictBetween(
        a,
        b,
        (s, label) => s.records.update('Medication', med.id, { dose: label === 'first' ? '20 mg' : '5 mg' }),
        med.id,
      );

      const [x, y] = await settleOnBoth(a, b, med.id, choice);
      expect([x?.conflict, y?.conflict]).toEqual([false, false]);
      expect(x?.conflictData).toBeNull();
      expect((x?.record as { dose?: string } | undefined)?.dose).toBe(choice === 'keep' ? '5 mg' : '20 mg');
      expect(canonicalJson(x?.record)).toBe(canonicalJson(y?.record));
      expect([a, b].map(setAside)).toEqual([[], []]);
    });
  }

  it("'keep' by the patient and by the provider settles the conflict once", async () => {
    const t = server.t;
    const { p, d, lab } = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'base' }),
    });
    await conflictBetween(
      p,
      d,
      (s, label) => s.records.update('LabResult', lab.id, { testName: `${label} edit` }),
      lab.id,
    );

    const [x, y] = await settleOnBoth(p, d, lab.id, 'keep');
    expect([x?.conflict, y?.conflict]).toEqual([false, false]);
    expect((x?.record as { testName?: string } | undefined)?.testName).toBe('second edit');
    expect(canonicalJson(x?.record)).toBe(canonicalJson(y?.record));
    expect([p, d].map(setAside)).toEqual([[], []]);
  });
});
