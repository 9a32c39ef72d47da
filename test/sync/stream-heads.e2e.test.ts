// Signed stream heads end to end (docs/architecture.md, "Signed stream heads"): a patient device signs its
// stream once caught up; a device that joins afterwards checks the server's copy against that statement. A
// server serving an older genuine version (rv 1 after the patient signed rv 2) is caught as
// HEAD_ROLLED_BACK, one withholding a record as HEAD_WITHHELD, both naming the record; an honest server
// gives neither; a read grantee checks the patient's statement too. The hostile server is played by
// editing its SQLite rows, as restore/rollback.e2e.test.ts does.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession, WebSocketLike } from '@hale/client/advanced';
import { replayStored, storedRow, useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** A socket factory that also keeps every frame the server sent, to see a `head` answer arrive. */
const listening = (heard: string[]) => (url: string) => {
  const ws = new WebSocket(url);
  ws.addEventListener('message', (ev) => {
    if (typeof ev.data === 'string') heard.push(ev.data);
  });
  return ws as unknown as WebSocketLike;
};

const headIssues = (s: DeviceSession) => s.sync.state().errors.filter((e) => e.code.startsWith('HEAD_'));

describe('signed stream heads', () => {
  const server = useServer({ realClock: true });

  /** A patient device that wrote a record twice (rv 1, then rv 2) and whose stream head the server keeps at rv 2. */
  const signedTwice = async (t: TestServer) => {
    const patient = await registerAccount(t);
    // The device's clock, moved past the one-a-minute coalescing between the two writes.
    let skew = 0;
    const a = await openDevice(t, patient, { now: () => Date.now() + skew });
    server.sessions.push(a);
    await waitOnline(a);
    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(a);
    const stream = `${patient.accountId}/allergy`;
    const keptSeq = async () => (await t.store.heads.get(stream, undefined, 10))?.head.seq ?? 0;
    await eventually(async () => (await keptSeq()) === 1, 'the first statement is kept');
    const old = storedRow(t, rec.id);
    skew += 61_000;
    await a.records.update('Allergy', rec.id, { substance: 'Penicillin (retested: none)' });
    await allPushed(a);
    await eventually(async () => (await keptSeq()) === 2, 'the statement of rv 2 is kept');
    // Back on time: a grant dated a minute ahead would not have started yet.
    skew = 0;
    const kept = await t.store.heads.get(stream, undefined, 10);
    expect(kept?.rows).toEqual([{ id: rec.id, rev: storedRow(t, rec.id).rev, deleted: false }]);
    return { patient, a, rec, old, stream };
  };

  const joinFresh = async (t: TestServer, patient: Awaited<ReturnType<typeof registerAccount>>) => {
    const heard: string[] = [];
    const device = await addDevice(t, patient);
    const c = await openDevice(t, patient, { device, createWebSocket: listening(heard) });
    server.sessions.push(c);
    await waitOnline(c);
    return { c, heard };
  };

  it('a device joining after the server rolled a record back to rv 1 reports HEAD_ROLLED_BACK naming it', async () => {
    const t = server.t;
    const { patient, rec, old, stream } = await signedTwice(t);
    replayStored(t, rec.id, old);
    const { c } = await joinFresh(t, patient);
    expect((await c.records.get(rec.id))?.rv).toBe(1);
    await eventually(
      () => headIssues(c).some((e) => e.code === 'HEAD_ROLLED_BACK' && e.id === rec.id),
      'the rollback is reported',
    );
    const issue = headIssues(c).find((e) => e.code === 'HEAD_ROLLED_BACK')!;
    expect(issue.stream).toBe(stream);
    expect(issue.message).toContain(rec.id);
    expect(issue.message).toContain('revision 2');
  });

  it('a device joining while the server withholds a record reports HEAD_WITHHELD naming it', async () => {
    const t = server.t;
    const { patient, a, rec } = await signedTwice(t);
    const other = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(a);
    t.store.db.prepare('DELETE FROM docs WHERE id = ?').run(rec.id);
    const { c } = await joinFresh(t, patient);
    await eventually(async () => (await c.records.get(other.id)) !== null, 'the other record arrives');
    await eventually(
      () => headIssues(c).some((e) => e.code === 'HEAD_WITHHELD' && e.id === rec.id),
      'the withheld record is reported',
    );
    expect(headIssues(c).find((e) => e.code === 'HEAD_WITHHELD')!.message).toContain(rec.id);
    expect(await c.records.get(rec.id)).toBeNull();
  });

  it('an honest server gives no such issue', async () => {
    const t = server.t;
    const { patient } = await signedTwice(t);
    const { c, heard } = await joinFresh(t, patient);
    await eventually(
      () => heard.some((f) => f.includes('"t":"head"') && f.includes('"signed"')),
      'head read',
    );
    // The check runs on the answer: give it its turn, then once more after a later settle.
    await eventually(async () => (await c.records.query('Allergy')).length === 1, 'record held');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(headIssues(c)).toEqual([]);
  });

  it('a read grantee checks the patient’s statement too', async () => {
    const t = server.t;
    const { a, rec } = await signedTwice(t);
    const provider = await registerAccount(t, 'provider');
    await grantRead(a, provider.accountId, 'allergy', 3600_000, 'care');
    const other = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(a);
    t.store.db.prepare('DELETE FROM docs WHERE id = ?').run(rec.id);
    const d = await openDevice(t, provider);
    server.sessions.push(d);
    await waitOnline(d);
    await eventually(
      async () => (await d.records.get(other.id)) !== null,
      'the grantee pulls the other record',
    );
    await eventually(
      () => headIssues(d).some((e) => e.code === 'HEAD_WITHHELD' && e.id === rec.id),
      'the grantee reports the withheld record',
    );
  });
});
