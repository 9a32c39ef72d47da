// A server restored from a backup onto an empty disk (docs/operations.md: nothing to carry from) has lost
// the audit entries appended after the backup, among them its own record of who accessed what; its chain
// of access events goes on from the backup's last entry. A patient device that verified the longer log
// reports the loss, saying the server announced a restore, and its views go on answering.
// The write after the backup comes from another device of the patient, so the device that checks appends
// nothing after the backup: an entry of its own acknowledged after the backup would be lost too, and its
// own chain stays held to what the server acknowledged even once losses are accepted (audit-log.ts). Written
// from this device, whether that happened hung on whether its coalesced entry (200 ms) was acknowledged
// before the server stopped, about one run in three.
import { describe, expect, it } from 'vitest';
import { addDevice } from '@hale/sync-server/testing';
import { useRestorableServer } from '../support/restorable-server';
import { eventually, openDevice, patientWithAuditedGrant, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('the audit log after a restore of the server onto an empty disk', () => {
  const { sessions, start } = useRestorableServer('hale-audit-restore-', { lostDisk: true, inProcess: true });

  it("reports the server's lost access events as deleted, naming the restore; the views still answer", async () => {
    const { t, backup, restore } = await start();
    const { patient, p, d } = await patientWithAuditedGrant(t, sessions);
    const qDevice = await addDevice(t, patient);
    const q = await openDevice(t, patient, { device: qDevice });
    sessions.push(q);
    await waitOnline(q);
    await eventually(async () => (await q.audit.pendingCount()) === 0, "q's sign-in entry stored");
    const own = patient.device.deviceId;
    const ownEntries = async () =>
      (await p.audit.fetchAll(patient.accountId)).filter((e) => e.author === own).map((e) => e.id);
    const ownInBackup = await ownEntries();
    const inBackup = (await p.audit.whoAccessed()).length;
    await backup();
    // Accesses after the backup: the server logs them, the patient's device verifies them.
    const later = await q.records.add('Allergy', input('Allergy', { substance: 'after-backup' }));
    await eventually(async () => (await d.records.get(later.id)) !== null, 'the provider pulls it');
    // q's entry for the write is acknowledged before the device checks the log, so it verifies it too.
    await q.audit.flushChanges();
    await eventually(async () => (await q.audit.pendingCount()) === 0, "q's entry for the write stored");
    await eventually(
      async () => (await p.audit.whoAccessed()).length > inBackup,
      'accesses after the backup logged',
      30_000,
    );
    const served = await p.audit.fetchAll(patient.accountId);
    const server = served.find((e) => e.author !== own && e.author !== qDevice.deviceId)?.author;
    expect((await p.audit.verify()).ok).toBe(true);
    // The checking device appended nothing since the backup: its own chain is all in it.
    expect(await p.audit.pendingCount()).toBe(0);
    expect(await ownEntries()).toEqual(ownInBackup);
    console.log(
      `accesses: ${inBackup} in the backup, ${(await p.audit.whoAccessed()).map((a) => a.action).join(', ')} before the restore`,
    );

    await restore();
    // Once the device is back and knows of the restore, the server's chain is below what it verified.
    let problem: string | undefined;
    let qProblem: string | undefined;
    await eventually(
      async () => {
        const v = await p.audit.verify().catch(() => null);
        problem = v?.problems.find((x) => x.author === server && x.kind === 'deleted')?.detail;
        qProblem = v?.problems.find((x) => x.author === qDevice.deviceId && x.kind === 'deleted')?.detail;
        return problem?.includes('restore of its store') === true;
      },
      "the server chain's loss reported, with the restore",
      30_000,
    );
    console.log(`after the restore: ${problem}`);
    // q's entry after the backup was lost with it, and is reported the same way.
    expect(qProblem).toContain('restore of its store');
    // Every access the backup holds is still listed.
    expect((await p.audit.whoAccessed()).length).toBeGreaterThanOrEqual(inBackup);
    expect(p.audit.issues()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted/)]),
    );

    // The person was told and accepts the loss: it is no longer reported, the log as served is held to.
    const accepted = await p.audit.acceptLosses();
    expect(accepted.problems.filter((x) => x.kind === 'deleted')).toEqual([]);
    const after = await p.audit.verify();
    expect(after.problems.filter((x) => x.kind === 'deleted')).toEqual([]);
    expect(after.ok).toBe(true);
  }, 120_000);
});
