// The same decision about a conflict, made on two devices before either hears of the other's, is one
// decision: each settlement re-stamps the record's bookkeeping (`updatedAt`, who wrote the version), but
// the clinical content is the same, so the second push must not open a new conflict between the two.
// The second device's push is answered with the first's settlement, which RxDB then stores in its copy:
// until it has, that device still counts a pending write (its copy is no version the server holds).
// Devices are opened as the app opens them (`openHaleForTests`), against a real server.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import type { HaleSession } from '@hale/client';
import { useServer } from '../support/fixture';
import { gatedStorage } from '../support/gated-storage';
import { useHaleSessions } from '../client-api/hale-devices';
import { clinicianWithLabWrite, holds, input, openDevice, pushed, setAside, until } from './parties';

/** Both devices go offline, edit `id` (b 20 ms later), then push in turn: both end on the merge. */
const conflictBetween = async (
  a: HaleSession,
  b: HaleSession,
  edit: (s: HaleSession, label: string) => Promise<unknown>,
  id: string,
): Promise<void> => {
  a.sync.goOffline();
  b.sync.goOffline();
  await edit(a, 'first');
  await new Promise((r) => setTimeout(r, 20));
  await edit(b, 'second');
  a.sync.goOnline();
  await pushed(a);
  b.sync.goOnline();
  await pushed(b);
  await until(async () => {
    const [x, y] = [await a.records.get(id), await b.records.get(id)];
    return x !== null && y !== null && x.conflict && x.rv === y.rv;
  }, 'both devices hold the merge');
};

/**
 * Both settle `id` the same way offline, then push in turn; answers what each holds afterwards.
 * `beforeSecond` runs just before `b` goes online.
 */
const settleOnBoth = async (
  a: HaleSession,
  b: HaleSession,
  id: string,
  choice: 'keep' | 'other',
  beforeSecond: () => void = () => undefined,
) => {
  a.sync.goOffline();
  b.sync.goOffline();
  await a.records.resolveConflict(id, choice, { expectedRv: (await a.records.get(id))!.rv });
  await new Promise((r) => setTimeout(r, 20));
  await b.records.resolveConflict(id, choice, { expectedRv: (await b.records.get(id))!.rv });
  a.sync.goOnline();
  await pushed(a, 'the first settlement is pushed');
  beforeSecond();
  b.sync.goOnline();
  await pushed(b, 'the second settlement is pushed');
  // Whatever the second push led to has reached the first device.
  await until(
    async () => (await a.records.get(id))?.rv === (await b.records.get(id))?.rv,
    'both devices hold one version',
  );
  return Promise.all([a.records.get(id), b.records.get(id)]);
};

describe('one settlement made on two devices', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  for (const choice of ['keep', 'other'] as const) {
    it(`'${choice}' on two devices of the patient settles the conflict once`, async () => {
      const url = server.t.url;
      const { session: a, loginName } = await openDevice(url, sessions);
      const { session: b } = await openDevice(url, sessions, { join: loginName });
      const med = await a.records.add(
        'Medication',
        input('Medication', { name: 'Lisinopril', dose: '10 mg' }),
      );
      await holds(b, med.id, 'b has the medication');
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
    const { p, d, lab } = await clinicianWithLabWrite(
      server.t.url,
      sessions,
      input('LabResult', { testName: 'base' }),
    );
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

  // Load made this happen now and then: RxDB wrote the first settlement into the second device's copy a
  // while after the push handler answered, and the second device reported nothing pending meanwhile.
  it("the second device holds the server's settlement once it reports nothing pending", async () => {
    const url = server.t.url;
    const gate = gatedStorage();
    const { session: a, loginName } = await openDevice(url, sessions);
    // The second device's store, at the platform's storage: RxDB's write of a resolved conflict can be held.
    const { session: b } = await openDevice(url, sessions, { join: loginName, storage: gate.storage });
    const med = await a.records.add('Medication', input('Medication', { name: 'Lisinopril', dose: '10 mg' }));
    await holds(b, med.id, 'b has the medication');
    await conflictBetween(
      a,
      b,
      (s, label) => s.records.update('Medication', med.id, { dose: label === 'first' ? '20 mg' : '5 mg' }),
      med.id,
    );

    let pendingWhileHeld = -1;
    let released: Promise<void> = Promise.resolve();
    const [x, y] = await settleOnBoth(a, b, med.id, 'keep', () => {
      // b's push is answered with a's settlement; RxDB's write of it into b's copy waits a while.
      gate.holdNextConflictWrite();
      released = until(() => gate.holding(), "b's conflict is resolved").then(async () => {
        pendingWhileHeld = b.sync.state.get().pendingWrites;
        await new Promise((r) => setTimeout(r, 300));
        gate.release();
      });
    });
    await released;
    expect(canonicalJson(y?.record)).toBe(canonicalJson(x?.record));
    expect(pendingWhileHeld).toBe(1);

    // What the server holds, as a third device of the patient opens it: the first settlement.
    const { session: c } = await openDevice(url, sessions, { join: loginName });
    await until(async () => (await c.records.get(med.id))?.rv === x?.rv, 'a third device pulls it');
    expect(canonicalJson((await c.records.get(med.id))?.record)).toBe(canonicalJson(x?.record));
    expect([a, b].map(setAside)).toEqual([[], []]);
  });
});
