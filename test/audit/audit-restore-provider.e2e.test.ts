// A provider device keeps its own signed chain in each patient's audit log (its entries about what it
// wrote there). A server restored from a backup onto an empty disk (docs/operations.md: nothing to carry
// from) loses the entries it acknowledged after the backup, those of the provider among them. A grantee
// never reads the patient's log (the server refuses it), so the provider cannot learn where the served
// chain ends; it holds the signed entries the server acknowledged and sends them again, ahead of its next
// entry for that patient, as devices send again every record the restore lost. The patient's devices then
// verify the provider's chain whole. Before, its next entry linked to the lost position: the positions lost
// stayed a gap inside the chain, reported `deleted` at every check, acceptLosses included.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { useRestorableServer } from '../support/restorable-server';
import { eventually, providerWithLabWrite, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** Positions of `author`'s chain in the patient's log as `reader` (a patient device) is served it. */
const positionsOf = async (reader: DeviceSession, author: string): Promise<number[]> =>
  (await reader.audit.fetchAll(reader.account.accountId))
    .filter((e) => e.author === author)
    .map((e) => e.audit?.authorSeq ?? 0)
    .sort((a, b) => a - b);

const problemsOf = <P extends { kind: string; author: string }>(
  problems: readonly P[],
  author: string,
): P[] => problems.filter((x) => x.author === author);

describe("a provider device's audit chain in a patient's log after a restore of the server onto an empty disk", () => {
  const { sessions, start } = useRestorableServer('hale-audit-restore-provider-', {
    lostDisk: true,
    inProcess: true,
  });

  it('is whole again once the provider appends: the entries lost are sent again, not left a gap', async () => {
    const { t, backup, restore } = await start();
    const { patient, p, d } = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
    });
    const provider = d.account.device.deviceId;
    /** The provider writes a lab result for the patient; its audit entry for that write is acknowledged. */
    const write = async (testName: string): Promise<void> => {
      await d.records.add('LabResult', input('LabResult', { testName }), { patientId: patient.accountId });
      await d.audit.flushChanges();
      await eventually(async () => (await d.audit.pendingCount()) === 0, `the entry for ${testName} stored`);
    };

    await write('in the backup');
    const inBackup = await positionsOf(p, provider);
    expect(inBackup).toEqual([1]);
    await backup();

    // After the backup: acknowledged, and verified by the patient's device.
    await write('after the backup');
    const beforeRestore = await positionsOf(p, provider);
    expect(beforeRestore).toEqual([1, 2]);
    expect(problemsOf((await p.audit.verify()).problems, provider)).toEqual([]);

    await restore();
    // Until the provider appends again, its chain is served cut at the end: the patient's device, which
    // verified position 2, reports it lost, naming the restore.
    let cut: string | undefined;
    await eventually(
      async () => {
        const v = await p.audit.verify().catch(() => null);
        cut = v?.problems.find((x) => x.author === provider && x.kind === 'deleted')?.detail;
        return cut?.includes('restore of its store') === true;
      },
      "the patient's device reports the provider's cut chain, naming the restore",
      30_000,
    );
    console.log(`provider's chain: ${beforeRestore.join(',')} before the restore; patient sees: ${cut}`);

    // The provider appends again, after a reconnection that announced the restore.
    await waitOnline(d);
    await write('after the restore');
    const after = await positionsOf(p, provider);
    const verified = await p.audit.verify();
    console.log(
      `after the provider's next entry: positions served ${after.join(',')}; patient's problems with it: ${JSON.stringify(
        problemsOf(verified.problems, provider).map((x) => [x.kind, x.authorSeq, x.detail]),
      )}`,
    );
    const accepted = await p.audit.acceptLosses();
    console.log(
      `after acceptLosses: ${JSON.stringify(problemsOf(accepted.problems, provider).map((x) => [x.kind, x.authorSeq]))}`,
    );
    expect(after).toEqual([1, 2, 3]);
    expect(d.audit.issues()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AUDIT_RESENT: .* 2 audit entries/)]),
    );
    expect(problemsOf(verified.problems, provider)).toEqual([]);
    expect(problemsOf(accepted.problems, provider)).toEqual([]);
    // Every entry of the provider's chain is listed in the patient's views as the provider's claim.
    const claims = (await p.audit.whoAccessed()).filter(
      (a) => a.source === 'grantee' && a.actorDeviceId === provider,
    );
    expect(claims.length).toBe(3);
  }, 120_000);
});
