// A server restored from a backup onto an empty disk (docs/operations.md: nothing to carry from) loses the
// audit entries appended after the backup, among them entries the patient's own device wrote and the
// server acknowledged. That device reports the loss, naming the restore, until the person accepts it;
// from then on its chain goes on from what the restored server holds, so its later entries link to an
// entry that exists (no gap stays in the log). Another device of the patient that verified the lost
// entries sees the cut once, naming the restore, and accepts it the same way.
import { describe, expect, it } from 'vitest';
import { addDevice } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useRestorableServer } from '../support/restorable-server';
import { eventually, openDevice, patientWithAuditedGrant, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** Positions of `author`'s chain in the patient's log as served, in order. */
const positionsOf = async (s: DeviceSession, author: string): Promise<number[]> =>
  (await s.audit.fetchAll(s.account.accountId))
    .filter((e) => e.author === author)
    .map((e) => e.audit?.authorSeq ?? 0)
    .sort((a, b) => a - b);

const deletedOf = <P extends { kind: string; author: string }>(problems: readonly P[], author: string): P[] =>
  problems.filter((x) => x.kind === 'deleted' && x.author === author);

describe("a patient device's own audit entries lost with a restore of the server onto an empty disk", () => {
  const { sessions, start } = useRestorableServer('hale-audit-restore-own-', {
    lostDisk: true,
    inProcess: true,
  });

  it('are reported naming the restore until accepted; then the chain goes on from what is served, with no gap', async () => {
    const { t, backup, restore } = await start();
    const { patient, p } = await patientWithAuditedGrant(t, sessions);
    const qDevice = await addDevice(t, patient);
    const q = await openDevice(t, patient, { device: qDevice });
    sessions.push(q);
    await waitOnline(q);
    await eventually(async () => (await q.audit.pendingCount()) === 0, "q's sign-in entry stored");
    const own = patient.device.deviceId;
    const inBackup = await positionsOf(p, own);
    await backup();

    // p writes after the backup; its entry is acknowledged, and both devices verify it.
    await p.records.add('Allergy', input('Allergy', { substance: 'after-backup' }));
    await p.audit.flushChanges();
    await eventually(async () => (await p.audit.pendingCount()) === 0, "p's entry for the write stored");
    const beforeRestore = await positionsOf(p, own);
    expect(beforeRestore.length).toBeGreaterThan(inBackup.length);
    expect((await p.audit.verify()).ok).toBe(true);
    expect((await q.audit.verify()).ok).toBe(true);
    console.log(
      `p's chain: positions ${inBackup.join(',')} in the backup, ${beforeRestore.join(',')} before the restore`,
    );

    await restore();
    let detail: string | undefined;
    await eventually(
      async () => {
        const v = await p.audit.verify().catch(() => null);
        detail = deletedOf(v?.problems ?? [], own)[0]?.detail;
        return (
          detail?.includes('restore of its store') === true && detail.includes('continues from position')
        );
      },
      "p reports its own chain's loss, naming the restore, and continues its chain",
      30_000,
    );
    console.log(`p after the restore: ${detail}`);
    // Reported again until accepted.
    const again = await p.audit.verify();
    expect(deletedOf(again.problems, own).map((x) => x.detail)).toEqual([
      expect.stringContaining('restore of its store'),
    ]);
    expect(deletedOf(again.problems, own)[0]?.authorSeq).toBe(inBackup.length + 1);

    // Accepted: no longer reported.
    const accepted = await p.audit.acceptLosses();
    console.log(
      `p acceptLosses: ${JSON.stringify(accepted.problems.map((x) => [x.kind, x.author === own]))}`,
    );
    expect(deletedOf(accepted.problems, own)).toEqual([]);
    expect(deletedOf((await p.audit.verify()).problems, own)).toEqual([]);

    // A new write: its entry links to an entry the restored server holds.
    const next = await p.records.add('Allergy', input('Allergy', { substance: 'after-restore' }));
    await p.audit.flushChanges();
    await eventually(async () => (await p.audit.pendingCount()) === 0, "p's entry after the restore stored");
    const served = await positionsOf(p, own);
    console.log(`p's chain after the restore and a new write: ${served.join(',')}`);
    expect(served).toEqual(served.map((_, i) => i + 1));
    expect(served.length).toBe(inBackup.length + 1);
    const pAfter = await p.audit.verify();
    expect(pAfter.problems).toEqual([]);
    const newEntry = (await p.audit.fetchAll(patient.accountId)).find(
      (e) => e.author === own && e.audit?.authorSeq === served.at(-1),
    );
    expect(newEntry).toBeDefined();
    const newBody = (await p.audit.entries()).find((e) => e.id === newEntry?.id)?.body;
    expect(newBody?.kind === 'AuditEntry' ? newBody.changes?.map((c) => c.id) : undefined).toEqual([next.id]);

    // q verified the lost entry: it sees the cut once, naming the restore, and accepts it.
    const qBefore = await q.audit.verify();
    console.log(
      `q after the restore: ${deletedOf(qBefore.problems, own)
        .map((x) => x.detail)
        .join(' | ')}`,
    );
    expect(deletedOf(qBefore.problems, own).map((x) => x.detail)).toEqual([
      expect.stringContaining('restore of its store'),
    ]);
    const qAccepted = await q.audit.acceptLosses();
    expect(deletedOf(qAccepted.problems, own)).toEqual([]);
    const qAfter = await q.audit.verify();
    expect(qAfter.problems.filter((x) => x.author === own)).toEqual([]);
    expect((await q.audit.entries()).some((e) => e.id === newEntry?.id)).toBe(true);
  }, 120_000);
});
