// What the sync state says once the app stops syncing: after close() `awaitInSync` rejects STOPPED (the
// unsent writes go with the next session, so "in sync" never comes), and going offline (`goOffline()`)
// while the device subscribes to live changes is the person's choice, not a SUBSCRIBE_FAILED issue.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const server = useServer({ realClock: true });

const settledWithin = async (p: Promise<unknown>, ms: number): Promise<string> => {
  const outcome = p.then(
    () => 'resolved',
    () => 'rejected',
  );
  return Promise.race([outcome, new Promise<string>((r) => setTimeout(() => r('pending'), ms))]);
};

describe('awaitInSync and close()', () => {
  it('a call made after close() with writes unsent rejects STOPPED, not in sync', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient, { offline: true });
    await a.records.add('Allergy', input('Allergy'));
    expect(a.sync.state().pendingWrites).toBe(1);
    await a.close();

    // Nothing reached the server; the change waits for the next session.
    expect(t.store.db.prepare('SELECT count(*) AS n FROM docs').get()).toEqual({ n: 0 });
    await expect(a.sync.awaitInSync()).rejects.toMatchObject({ code: 'STOPPED' });
  });

  it('a call waiting when close() runs is settled (rejected), not left pending for ever', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient, { offline: true });
    await a.records.add('Allergy', input('Allergy'));
    const waiting = a.sync.awaitInSync();
    waiting.catch(() => undefined);
    await a.close();
    expect(await settledWithin(waiting, 1_000)).toBe('rejected');
    await expect(waiting).rejects.toMatchObject({ code: 'STOPPED' });
  });
});

describe('going offline while the device subscribes', () => {
  it('lists no SUBSCRIBE_FAILED "connection stopped", before or after going online again', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    // The first subscribe frame is held (a slow link); the rest pass.
    let held = false;
    const createWebSocket = interceptedWebSocket({
      sent: (text, send) => {
        if (!held && (JSON.parse(text) as { t: string }).t === 'subscribe') {
          held = true;
          return;
        }
        send(text);
      },
    });
    const a = await openDevice(t, patient, { createWebSocket });
    server.sessions.push(a);
    await waitOnline(a);
    await eventually(() => held, 'the device subscribes');

    a.sync.goOffline();
    await new Promise((r) => setTimeout(r, 100));
    expect(a.sync.state().status).toBe('stopped');
    a.sync.goOnline();
    await waitOnline(a);
    await new Promise((r) => setTimeout(r, 300));

    // Online and live again (the second subscribe passed): nothing failed that the person must act on.
    expect(a.sync.state().status).toBe('online');
    expect(a.sync.state().errors.filter((e) => e.code === 'SUBSCRIBE_FAILED')).toEqual([]);
  });
});
