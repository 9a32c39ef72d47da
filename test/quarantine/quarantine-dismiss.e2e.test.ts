import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { lock, SyncError, type DeviceSession, type UnlockedAccount } from '@hale/client/advanced';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import { flipStoredCiphertext, storedCiphertext, useServer } from '../support/fixture';
import { allPushed, eventually, newDevice, openDevice, sessionAccount, waitOnline } from '../support/devices';
import { input } from '../support/records';

/** A server serving a version it holds again, as the newest of its stream (a new seq, same version). */
const serveAgain = (t: TestServer, id: string): void => {
  const { stream } = t.store.db.prepare('SELECT stream FROM docs WHERE id = ?').get(id) as { stream: string };
  const { head } = t.store.db.prepare('SELECT head FROM stream_heads WHERE stream = ?').get(stream) as {
    head: number;
  };
  t.store.db.prepare('UPDATE docs SET seq = ? WHERE id = ?').run(head + 1, id);
  t.store.db.prepare('UPDATE stream_heads SET head = ? WHERE stream = ?').run(head + 1, stream);
};

const codeOf = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => null,
    (e: unknown) => e,
  );

// A record the server altered is set aside for good; once the person has seen it and dismissed it, it
// is gone from the list on this device for good too, and still never shown.
describe('a quarantine entry dismissed', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('stays off the list across a reconnect, a restart and the version served again, and is never applied', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const allergy = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(a, 'pushed');
    const altered = flipStoredCiphertext(t, allergy.id);

    // A second device of the patient, over a store that outlives its sessions (an app restarting).
    const account: UnlockedAccount = {
      ...sessionAccount(patient, await newDevice(t, patient)),
      deviceName: 'reader',
    };
    const storage = getRxStorageMemory();
    const dbName = `dismiss-${Date.now()}`;
    const reopen = async (was?: DeviceSession): Promise<DeviceSession> => {
      if (was) {
        sessions.splice(sessions.indexOf(was), 1);
        await was.close();
      }
      const s = await openDevice(t, patient, { sessionAccount: account, storage, dbName });
      sessions.push(s);
      await waitOnline(s);
      return s;
    };
    let b = await reopen();
    await eventually(
      () => b.sync.quarantine().some((q) => q.id === allergy.id && q.reason === 'TAMPERED'),
      'the altered record is set aside',
    );
    const entry = b.sync.quarantine().find((q) => q.id === allergy.id)!;
    expect(b.sync.state().quarantined).toBe(1);

    await b.sync.dismissQuarantined(entry);
    expect(b.sync.quarantine()).toEqual([]);
    expect(b.sync.state().quarantined).toBe(0);

    b.sync.goOffline();
    b.sync.goOnline();
    await waitOnline(b);
    b = await reopen(b);
    expect(b.sync.quarantine()).toEqual([]);
    expect(b.sync.state().quarantined).toBe(0);

    // While the device is offline the server serves it again, then a readable record after it: the pull
    // at the reconnect serves both, in order, so once that one is here the altered one was judged again.
    b.sync.goOffline();
    serveAgain(t, allergy.id);
    const after = await a.records.add('Allergy', input('Allergy', { substance: 'Pollen' }));
    await allPushed(a, 'the next record pushed');
    b.sync.goOnline();
    await eventually(async () => (await b.records.get(after.id)) !== null, 'the next record arrives');
    await waitOnline(b);
    expect(b.sync.quarantine()).toEqual([]);
    expect(b.sync.state().errors.filter((e) => e.code === 'QUARANTINED')).toEqual([]);
    expect(await b.records.get(allergy.id)).toBeNull();
    b = await reopen(b);
    expect(b.sync.quarantine()).toEqual([]);
    expect(b.sync.state().quarantined).toBe(0);
    expect(await b.records.get(allergy.id)).toBeNull();
    expect(storedCiphertext(t, allergy.id)).toEqual(altered);

    // It is no longer an entry; and once the account is locked nothing is dismissed.
    const unknown = await codeOf(b.sync.dismissQuarantined(entry));
    expect(unknown).toBeInstanceOf(SyncError);
    expect(unknown).toMatchObject({ code: 'NOT_QUARANTINED' });
    lock(account);
    expect(await codeOf(b.sync.dismissQuarantined(entry))).toMatchObject({
      name: 'AccountError',
      code: 'LOCKED',
    });
  });
});
