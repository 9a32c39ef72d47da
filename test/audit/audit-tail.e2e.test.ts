import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, waitOnline, openDevice } from '../support/devices';

describe("the end of a device's own audit chain", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('cut off by the server is reported as deleted; entries not yet pushed are not', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    await p.audit.append(patient.accountId, { action: 'consent-grant', granteeId: 'x', purpose: 'a' });
    await p.audit.append(patient.accountId, { action: 'consent-revoke', grantId: 'y' });
    await p.audit.flush();
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'drained');

    // Still in the outbox, not pushed: expected to be missing from the served log.
    await p.audit.append(patient.accountId, { action: 'export', count: 0 });
    expect(await p.audit.pendingCount()).toBe(1);
    expect((await p.audit.verify()).ok).toBe(true);

    const mine = (await p.audit.fetchAll(patient.accountId)).filter(
      (e) => e.author === patient.device.deviceId,
    );
    const [previous, last] = mine.slice(-2);
    if (!previous?.audit || !last?.audit) throw new Error('fixture: two own entries expected');
    // The server (or its disk) drops the device's newest stored entry.
    t.store.db.exec('DROP TRIGGER docs_audit_no_delete');
    t.store.db.prepare('DELETE FROM docs WHERE stream = ? AND id = ?').run(last.stream, last.id);
    const v = await p.audit.verify();
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      expect.objectContaining({
        kind: 'deleted',
        author: patient.device.deviceId,
        authorSeq: last.audit.authorSeq,
        entryId: previous.id,
      }),
    ]);
  });
});
