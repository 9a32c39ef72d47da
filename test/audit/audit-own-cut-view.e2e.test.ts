// The views (entries, who saw my records, disclosures) check the log as verify() does: held to the position
// the server acknowledged of this device's own chain, so a server that cut its end off is reported
// (AUDIT_LOG_PROBLEMS). (A cut inside the part a view cached before it is found at the next whole check,
// as any change to that part is: see the view cache in audit-log.ts.)
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, waitOnline, openDevice } from '../support/devices';

describe("views over a log whose end of this device's own chain the server cut off", () => {
  const server = useServer({ realClock: true });

  /** A patient device with two entries of its own acknowledged; `cut()` deletes the newer on the server. */
  const twoAcknowledged = async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    await p.audit.append(patient.accountId, { action: 'export', count: 0 });
    await p.audit.append(patient.accountId, { action: 'export', count: 1 });
    await p.audit.flush();
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'drained');
    const mine = (await p.audit.fetchAll(patient.accountId)).filter(
      (e) => e.author === patient.device.deviceId,
    );
    const last = mine.at(-1)!;
    const cut = (): void => {
      t.store.db.exec('DROP TRIGGER IF EXISTS docs_audit_no_delete');
      t.store.db.prepare('DELETE FROM docs WHERE stream = ? AND id = ?').run(last.stream, last.id);
    };
    return { patient, p, last, cut };
  };

  it('a view reading the whole log reports the loss as verify does', async () => {
    const { patient, p, last, cut } = await twoAcknowledged();
    cut();
    const listed = await p.audit.entries();
    expect(listed.some((e) => e.id === last.id)).toBe(false);
    expect(p.audit.issues()).toEqual([expect.stringMatching(/^AUDIT_LOG_PROBLEMS: .*deleted: 1/)]);
    const v = await p.audit.verify();
    expect(v.problems).toEqual([
      expect.objectContaining({
        kind: 'deleted',
        author: patient.device.deviceId,
        authorSeq: last.audit!.authorSeq,
      }),
    ]);
  });
});
