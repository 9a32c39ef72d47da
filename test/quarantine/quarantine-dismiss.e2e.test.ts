// A record the server altered is set aside for good; once the person has seen it and dismissed it, it
// is gone from the list on this device for good too, and still never shown. Devices are HaleSessions
// (`openHaleForTests` over nodePlatform), the reader restarted by unlock over its kept store.
import { describe, expect, it } from 'vitest';
import { isHaleError, type HaleSession } from '@hale/client';
import type { TestServer } from '@hale/sync-server/testing';
import { flipStoredCiphertext, storedCiphertext, useServer } from '../support/fixture';
import {
  allPushed,
  createdDevice,
  input,
  joinedDevice,
  online,
  reconnected,
  restarted,
  useHaleSessions,
  when,
} from '../restore/restore-parties';

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

describe('a quarantine entry dismissed', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('stays off the list across a reconnect, a restart and the version served again, and is never applied', async () => {
    const t = server.t;
    const { session: a, loginName } = await createdDevice(t.url, sessions);
    const allergy = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await allPushed(a, 'pushed');
    const altered = flipStoredCiphertext(t, allergy.id);

    // A second device of the patient, over a store that outlives its sessions (an app restarting).
    const { session: first, device } = await joinedDevice(t.url, sessions, loginName);
    let b = first;
    const restart = async (): Promise<HaleSession> => {
      sessions.splice(sessions.indexOf(b), 1);
      await b.close();
      const s = await restarted(t.url, sessions, device);
      await online(s);
      return s;
    };
    await online(b);
    await when(
      b.sync.quarantine,
      (q) => q.some((x) => x.id === allergy.id && x.reason === 'TAMPERED'),
      'the altered record is set aside',
    );
    const entry = b.sync.quarantine.get().find((q) => q.id === allergy.id)!;
    expect(b.sync.state.get().quarantined).toBe(1);

    await b.sync.dismissQuarantined(entry);
    expect(b.sync.quarantine.get()).toEqual([]);
    expect(b.sync.state.get().quarantined).toBe(0);

    b.sync.goOffline();
    b.sync.goOnline();
    await online(b);
    await reconnected(b, device, 'the reader reconnects');
    b = await restart();
    expect(b.sync.quarantine.get()).toEqual([]);
    expect(b.sync.state.get().quarantined).toBe(0);

    // While the device is offline the server serves it again, then a readable record after it: the pull
    // at the reconnect serves both, in order, so once that one is here the altered one was judged again.
    b.sync.goOffline();
    serveAgain(t, allergy.id);
    const after = await a.records.add('Allergy', input('Allergy', { substance: 'Pollen' }));
    await allPushed(a, 'the next record pushed');
    b.sync.goOnline();
    await when(b.records.one(after.id), (r) => r !== null, 'the next record arrives');
    await online(b);
    expect(b.sync.quarantine.get()).toEqual([]);
    expect(b.sync.state.get().errors.filter((e) => e.code === 'QUARANTINED')).toEqual([]);
    expect(await b.records.get(allergy.id)).toBeNull();
    b = await restart();
    expect(b.sync.quarantine.get()).toEqual([]);
    expect(b.sync.state.get().quarantined).toBe(0);
    expect(await b.records.get(allergy.id)).toBeNull();
    expect(storedCiphertext(t, allergy.id)).toEqual(altered);

    // It is no longer an entry; and once the account is locked nothing is dismissed.
    const unknown = await codeOf(b.sync.dismissQuarantined(entry));
    expect(isHaleError(unknown, 'NOT_QUARANTINED')).toBe(true);
    expect(unknown).toMatchObject({ name: 'SyncError', code: 'NOT_QUARANTINED' });
    await b.lock();
    expect(await codeOf(b.sync.dismissQuarantined(entry))).toMatchObject({
      name: 'AccountError',
      code: 'LOCKED',
    });
  });
});
