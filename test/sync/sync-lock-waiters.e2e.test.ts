// lock(account) while its device session is open: what waits on the connection is answered LOCKED at once
// (the session's socket factory refuses once locked, which ends the connection as a zeroed key does),
// instead of being held until the session closes. Nothing goes to the server meanwhile.
import { describe, expect, it } from 'vitest';
import { createAccount, createHttpApi, isAccountError, lock, memoryVault } from '@hale/client/advanced';
import { TEST_KDF } from '@hale/crypto';
import type { TestAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, createWebSocket, ed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const server = useServer({ realClock: true });

/** The code a promise settles with within `ms`, or 'pending' (held) / 'done'. */
const settledWithin = (p: Promise<unknown>, ms = 5_000): Promise<string> =>
  Promise.race([
    p.then(
      () => 'done',
      (e: unknown) => (isAccountError(e) ? `AccountError ${e.code}` : String((e as { code?: string }).code)),
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);

describe('requests made after lock(account)', () => {
  it('are rejected LOCKED, awaitInSync too, the state fatal with the reason, nothing sent', async () => {
    const { t, sessions } = server;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const loginName = `lockwait-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const { account } = await createAccount(
      { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: 'correct horse battery', loginName, deviceName: 'laptop' },
    );
    // Every socket the session opens, under its own (locked-refusing) factory.
    const sockets: ReturnType<typeof createWebSocket>[] = [];
    const a = await openDevice(t, {} as TestAccount, {
      sessionAccount: account,
      createWebSocket: (url) => {
        const socket = createWebSocket(url);
        sockets.push(socket);
        return socket;
      },
    });
    sessions.push(a);
    await waitOnline(a);
    await a.records.add('Allergy', input('Allergy'));
    await allPushed(a);
    expect(sockets).toHaveLength(1);
    const docsBefore = (t.store.db.prepare('SELECT COUNT(*) AS n FROM docs').get() as { n: number }).n;

    lock(account);
    // Found by the next use of the keys: the socket up is dropped (session.ts lockedNow).
    expect(await settledWithin(a.records.get('x'))).toBe('AccountError LOCKED');
    await eventually(() => a.connection.status() === 'fatal', 'the connection ends', 5_000);
    expect({
      request: await settledWithin(a.connection.request({ t: 'listStreams' })),
      awaitInSync: await settledWithin(a.sync.awaitInSync()),
      failure: a.connection.failure()?.code,
      status: a.sync.state().status,
    }).toEqual({ request: 'LOCKED', awaitInSync: 'LOCKED', failure: 'LOCKED', status: 'fatal' });
    expect(a.sync.state().errors.map((e) => e.code)).toContain('LOCKED');
    // The socket that was up is given up (closing or closed) once the replies to requests already sent
    // came (a signed stream head may be in flight), and no other one was opened.
    expect(sockets).toHaveLength(1);
    await eventually(() => sockets[0]!.readyState >= 2, 'the socket is given up', 5_000);
    // goOnline cannot sign in either: it ends the same way at once, no socket opened.
    a.sync.goOnline();
    expect(await settledWithin(a.connection.request({ t: 'listStreams' }))).toBe('LOCKED');
    expect(a.connection.status()).toBe('fatal');
    expect(sockets).toHaveLength(1);
    const docsAfter = (t.store.db.prepare('SELECT COUNT(*) AS n FROM docs').get() as { n: number }).n;
    expect(docsAfter).toBe(docsBefore);
    await a.close();
  });
});
