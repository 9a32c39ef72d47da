// The server can drop the newest entries of any author's chain in a patient's audit log (its own access
// events, another device of the patient), or roll the whole log back. The served log alone cannot show
// it: a device that read the longer log reports it against the positions it verified then. Before, only
// this device's own chain was checked, so the server could hide an access it logged moments before.
import { describe, expect, it } from 'vitest';
import { addDevice } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, openDevice, patientWithAuditedGrant, waitOnline } from '../support/devices';

describe("the ends of other authors' audit chains", () => {
  const server = useServer({ realClock: true });

  it('cut off by the server are reported by verify, and by the views, which still answer', async () => {
    const t = server.t;
    const { patient, p } = await patientWithAuditedGrant(t, server.sessions);
    const bDevice = await addDevice(t, patient);
    const b = await openDevice(t, patient, { device: bDevice });
    server.sessions.push(b);
    await waitOnline(b);
    await b.audit.append(patient.accountId, { action: 'export', count: 0 });
    await b.audit.flush();
    await eventually(async () => (await b.audit.pendingCount()) === 0, 'b drained');

    // A reads the log through a view only.
    const whoBefore = await p.audit.whoAccessed();
    const all = await p.audit.fetchAll(patient.accountId);
    const own = patient.device.deviceId;
    const serverEntries = all.filter((e) => e.author !== own && e.author !== bDevice.keys.deviceId);
    const lastServer = serverEntries.at(-1)!;
    const lastB = all.filter((e) => e.author === bDevice.keys.deviceId).at(-1)!;
    expect(whoBefore.length).toBeGreaterThan(0);
    expect(p.audit.issues()).toEqual([]);

    t.store.db.exec('DROP TRIGGER docs_audit_no_delete');
    for (const e of [lastServer, lastB])
      t.store.db.prepare('DELETE FROM docs WHERE stream = ? AND id = ?').run(e.stream, e.id);

    const v = await p.audit.verify();
    console.log(`cut ends: ${v.problems.length} problem(s): ${v.problems.map((x) => x.detail).join(' | ')}`);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      expect.objectContaining({
        kind: 'deleted',
        author: lastServer.author,
        authorSeq: lastServer.audit!.authorSeq,
        entryId: serverEntries.at(-2)?.id ?? '',
      }),
      expect.objectContaining({
        kind: 'deleted',
        author: bDevice.keys.deviceId,
        authorSeq: lastB.audit!.authorSeq,
      }),
    ]);
    // The views answer what still verifies, and say the log has problems.
    expect(await p.audit.whoAccessed()).toHaveLength(whoBefore.length - 1);
    expect(p.audit.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 2/)]);
  });
});
