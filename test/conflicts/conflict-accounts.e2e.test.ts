// A conflict between two accounts (a patient and a provider with write consent) is merged by whichever
// device pushes second, and that device sends the merge as its own (the wire `author` is always the
// sending device). The merge must therefore name that device's account in `by`: every reader requires the
// author device to be a certified device of `by`, and a merge still naming the other account is
// quarantined (BAD_AUTHOR) by every other device, which then also cannot push its next edit of the record
// (CONFLICT_UNREADABLE). Who wrote each side stays visible in `conflictData`. Devices are opened as the
// app opens them (`openHaleForTests`), against a real server.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import type { HaleSession } from '@hale/client';
import { useServer } from '../support/fixture';
import { useHaleSessions } from '../client-api/hale-devices';
import { clinicianWithLabWrite, holds, input, openDevice, pushed, setAside, until } from './parties';

/** What a device shows of the record, for comparing devices (key order is not content). */
const shown = async (s: HaleSession, id: string) => {
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
const converged = async (devices: readonly HaleSession[], id: string): Promise<boolean> => {
  const views = await Promise.all(devices.map((s) => shown(s, id)));
  const [first] = views;
  return (
    first !== undefined &&
    first !== null &&
    first.conflict &&
    views.every((v) => v !== null && canonicalJson(v) === canonicalJson(first))
  );
};

describe('a conflict between a patient and a provider', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  for (const merger of ['patient', 'provider'] as const) {
    it(`the ${merger} device that merges sends the merge as its own: every device takes it, and the next edit goes through`, async () => {
      const url = server.t.url;
      const { patient, p, d, lab } = await clinicianWithLabWrite(
        url,
        sessions,
        input('LabResult', { testName: 'base' }),
      );
      const { session: p2 } = await openDevice(url, sessions, { join: patient.loginName });
      await holds(p2, lab.id, 'the second patient device has it');

      // The device that pushes second merges; the other edit is the later one, so it wins the merge.
      const [first, second] = merger === 'patient' ? [d, p] : [p, d];
      p.sync.goOffline();
      d.sync.goOffline();
      await second.records.update('LabResult', lab.id, { testName: `${merger} edit (earlier)` });
      // The later edit is stamped later.
      await new Promise((r) => setTimeout(r, 20));
      await first.records.update('LabResult', lab.id, { testName: 'other edit (later)' });
      first.sync.goOnline();
      await pushed(first, 'the later edit is pushed first');
      second.sync.goOnline();
      await pushed(second, 'the merge is pushed');

      const agreed = await until(() => converged([p, d, p2], lab.id), 'all three devices hold the merge')
        .then(() => true)
        .catch(() => false);
      // What a device set aside says why it did not take the merge.
      expect([p, d, p2].map(setAside)).toEqual([[], [], []]);
      expect(agreed, 'all three devices hold the merge').toBe(true);
      const merged = (await p2.records.get<'LabResult'>(lab.id))!;
      expect(merged.record.testName).toBe('other edit (later)');
      // The merge is the merging device's version; each side still names who wrote it.
      expect({ by: merged.by, author: merged.author }).toEqual({
        by: second.account.accountId,
        author: second.account.deviceId,
      });
      expect(merged.conflictData).toMatchObject({
        testName: `${merger} edit (earlier)`,
        _conflictFrom: { by: second.account.accountId, author: second.account.deviceId },
        _recordFrom: { by: first.account.accountId, author: first.account.deviceId },
      });

      // The device that lost its say in the merge edits again: it builds on the merge and reaches everyone.
      await first.records.update('LabResult', lab.id, { testName: 'edited after the merge' });
      const reached = await until(async () => {
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
