// A conflict between two accounts (a patient and a provider with write consent) is merged by whichever
// device pushes second, and that device sends the merge as its own (the wire `author` is always the
// sending device). The merge must therefore name that device's account in `by`: every reader requires the
// author device to be a certified device of `by`, and a merge still naming the other account is
// quarantined (BAD_AUTHOR) by every other device, which then also cannot push its next edit of the record
// (CONFLICT_UNREADABLE). Who wrote each side stays visible in `conflictData`.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { allPushed, eventually, newDevice, openDevice, providerWithLabWrite } from '../support/devices';
import { input } from '../support/records';

/** What a device shows of the record, for comparing devices (key order is not content). */
const shown = async (s: DeviceSession, id: string) => {
  const r = await s.records.get<'LabResult'>(id);
  return r === null
    ? null
    : {
        rv: r.rv,
        conflict: r.conflict,
        record: canonicalJson(r.record),
        conflictData: canonicalJson(r.conflictData),
      };
};

/** Every device holds the same version of the record, in conflict, and none set anything aside. */
const converged = async (devices: readonly DeviceSession[], id: string): Promise<boolean> => {
  const views = await Promise.all(devices.map((s) => shown(s, id)));
  const [first] = views;
  return (
    first !== undefined &&
    first !== null &&
    first.conflict &&
    views.every((v) => v !== null && canonicalJson(v) === canonicalJson(first))
  );
};

/** What a device quarantined or holds unsent, as reasons. */
const setAside = (s: DeviceSession): string[] => [
  ...s.sync.quarantine().map((q) => `quarantined: ${q.reason}`),
  ...s.sync.unsent().map((u) => `unsent: ${u.code}`),
];

describe('a conflict between a patient and a provider', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  for (const merger of ['patient', 'provider'] as const) {
    it(`the ${merger} device that merges sends the merge as its own: every device takes it, and the next edit goes through`, async () => {
      const t = server.t;
      const { patient, provider, p, d, lab } = await providerWithLabWrite(t, sessions, {
        lab: input('LabResult', { testName: 'base' }),
      });
      const p2 = await openDevice(t, patient, { device: await newDevice(t, patient) });
      sessions.push(p2);
      await eventually(
        async () => (await p2.records.get(lab.id)) !== null,
        'the second patient device has it',
      );

      // The device that pushes second merges; the other edit is the later one, so it wins the merge.
      const [first, second] = merger === 'patient' ? [d, p] : [p, d];
      const firstAccount = merger === 'patient' ? provider : patient;
      const secondAccount = merger === 'patient' ? patient : provider;
      p.sync.goOffline();
      d.sync.goOffline();
      await second.records.update('LabResult', lab.id, { testName: `${merger} edit (earlier)` });
      await new Promise((r) => setTimeout(r, 20));
      await first.records.update('LabResult', lab.id, { testName: 'other edit (later)' });
      first.sync.goOnline();
      await allPushed(first, 'the later edit is pushed first');
      second.sync.goOnline();
      await allPushed(second, 'the merge is pushed');

      const agreed = await eventually(() => converged([p, d, p2], lab.id), 'all three devices hold the merge')
        .then(() => true)
        .catch(() => false);
      // What a device set aside says why it did not take the merge.
      expect([p, d, p2].map(setAside)).toEqual([[], [], []]);
      expect(agreed, 'all three devices hold the merge').toBe(true);
      const merged = (await p2.records.get<'LabResult'>(lab.id))!;
      expect(merged.record.testName).toBe('other edit (later)');
      // The merge is the merging device's version; each side still names who wrote it.
      expect({ by: merged.by, author: merged.author }).toEqual({
        by: secondAccount.accountId,
        author: secondAccount.device.deviceId,
      });
      expect(merged.conflictData).toMatchObject({
        testName: `${merger} edit (earlier)`,
        _conflictFrom: { by: secondAccount.accountId, author: secondAccount.device.deviceId },
        _recordFrom: { by: firstAccount.accountId, author: firstAccount.device.deviceId },
      });

      // The device that lost its say in the merge edits again: it builds on the merge and reaches everyone.
      await first.records.update('LabResult', lab.id, { testName: 'edited after the merge' });
      const reached = await eventually(async () => {
        const views = await Promise.all([p, d, p2].map((s) => s.records.get<'LabResult'>(lab.id)));
        return views.every((v) => v?.record.testName === 'edited after the merge');
      }, 'the next edit reaches every device')
        .then(() => true)
        .catch(() => false);
      expect([p, d, p2].map(setAside)).toEqual([[], [], []]);
      expect(reached, 'the next edit reaches every device').toBe(true);
    });
  }
});
