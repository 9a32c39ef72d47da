// A provider device keeps its newest acknowledged audit entries in each patient's log, to send them again
// after a restore of the server (audit-log.ts, KEPT). Once access to the patient ends (the grant revoked and
// the records purged), they go: kept for every patient ever served, they would grow without bound and their
// count would tell how many patients the provider had. The chain position stays: a new grant continues it.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { useServer } from '../support/fixture';
import { eventually, grantWrite, providerWithLabWrite } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

/** Ids of the device database `dbName`'s metadata documents that are not removed. */
const metaIds = (dbName: string): string[] => {
  const out: string[] = [];
  for (const [key, state] of getRxStorageMemory().collectionStates) {
    if (!key.startsWith(`${dbName}--`) || !key.includes('plugin-local-documents')) continue;
    for (const [id, doc] of state.documents) if (!(doc as { _deleted?: boolean })._deleted) out.push(id);
  }
  return out;
};

describe("a provider device's kept audit entries for a patient", () => {
  const server = useServer();
  const sessions = server.sessions;

  it('are removed when access to the patient ends; granted again, the chain goes on', async () => {
    const dbName = `kept-access-end-${Date.now()}`;
    const { patient, provider, p, d, lab } = await providerWithLabWrite(server.t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      dbName,
      now: () => server.t.clock.now,
    });
    const author = d.account.device.deviceId;
    await d.records.add('LabResult', input('LabResult', { testName: 'B12' }), {
      patientId: patient.accountId,
    });
    await d.audit.flushChanges();
    await eventually(async () => (await d.audit.pendingCount()) === 0, 'the entry stored');
    const kept = () => metaIds(dbName).filter((id) => id.startsWith('meta-audit-kept:'));
    const chains = () => metaIds(dbName).filter((id) => id.startsWith('meta-audit-chain:'));
    // Kept once acknowledged (after the entry left the outbox).
    await eventually(() => kept().length === 1, 'the entry kept');
    const chainsBefore = chains();

    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the copy is removed');
    await eventually(() => kept().length === 0, 'the kept entries are removed');
    expect(chains()).toEqual(chainsBefore);

    await grantWrite(p, provider.accountId, 'lab-result', HOUR);
    await eventually(() => d.engine.writable(`${patient.accountId}/lab-result`), 'writable again');
    await d.records.add('LabResult', input('LabResult', { testName: 'folate' }), {
      patientId: patient.accountId,
    });
    await d.audit.flushChanges();
    await eventually(async () => (await d.audit.pendingCount()) === 0, 'the entry stored');
    const positions = (await p.audit.fetchAll(patient.accountId))
      .filter((e) => e.author === author)
      .map((e) => e.audit?.authorSeq);
    expect(positions).toEqual([1, 2]);
    expect((await p.audit.verify()).problems.filter((x) => x.author === author)).toEqual([]);
    await eventually(() => kept().length === 1, 'kept again');
  });
});
