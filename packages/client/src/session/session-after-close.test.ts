// The device session lifecycle (session.ts): what a session does after close(), and at a lock that comes
// while it is offline by goOffline(). Each test states the documented promise it checks (the TSDoc of @hale/client/advanced).
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { createNodeEd25519 } from '@hale/crypto/node';
import { isAccountError } from '../core/account-error';
import { lock, type UnlockedAccount } from '../account/account';
import type { WebSocketLike } from '../sync/connection';
import { openDeviceSession } from './session';
import { anAccount } from './session.test-util';

const ed = createNodeEd25519();

const allergy = () => ({
  substance: 'Penicillin',
  severity: 'mild' as const,
  recordedAt: new Date().toISOString(),
  active: true,
});

/** A socket that never opens (no server here); counts how many the session asked the platform for. */
const sockets = () => {
  const made = { n: 0 };
  const createWebSocket = (): WebSocketLike => {
    made.n++;
    return {
      readyState: 0,
      send: () => undefined,
      close: () => undefined,
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
  };
  return { made, createWebSocket };
};

const openSession = (
  account: UnlockedAccount,
  storage = getRxStorageMemory(),
  socket = sockets(),
  offline = true,
) =>
  openDeviceSession({
    account,
    serverUrl: 'http://127.0.0.1:1',
    ed,
    createWebSocket: socket.createWebSocket,
    storage,
    getAccount: () => Promise.reject(new Error('no server in this test')),
    offline,
  });

const outcome = async (p: () => Promise<unknown>): Promise<string> => {
  try {
    await p();
    return 'resolved';
  } catch (e) {
    if (isAccountError(e)) return `AccountError ${e.code}`;
    const code = (e as { code?: unknown }).code;
    return `raw ${(e as { name?: string }).name ?? typeof e} ${String(code)}`;
  }
};

const settleWithin = async (p: Promise<unknown>, ms: number): Promise<string> =>
  Promise.race([
    p.then(
      () => 'resolved',
      (e: unknown) => `rejected ${String((e as { code?: unknown }).code)}`,
    ),
    new Promise<string>((r) => setTimeout(() => r('still pending'), ms)),
  ]);

describe('a session after close()', () => {
  // the TSDoc of @hale/client/advanced (Files): "Locked account or closed session: `AccountError` `LOCKED`, as everywhere."
  // files.* follows it; records.* and exportFhir throw RxDB's untyped COL21 instead.
  it('records reads and writes, and exportFhir, reject AccountError LOCKED after close() (not a raw RxError)', async () => {
    const account = anAccount();
    const session = await openSession(account);
    const rec = await session.records.add('Allergy', allergy());
    await session.close();

    const got = {
      filesEnqueue: await outcome(() =>
        session.files.enqueue({
          type: 'document',
          bytes: new Uint8Array(4),
          fileName: 'a.txt',
          mediaType: 'text/plain',
        } as never),
      ),
      add: await outcome(() => session.records.add('Allergy', allergy())),
      get: await outcome(() => session.records.get(rec.id)),
      query: await outcome(() => session.records.query('Allergy')),
      update: await outcome(() => session.records.update('Allergy', rec.id, { active: false })),
      remove: await outcome(() => session.records.remove(rec.id)),
      exportFhir: await outcome(() => session.exportFhir()),
    };
    expect(got).toEqual({
      filesEnqueue: 'AccountError LOCKED',
      add: 'AccountError LOCKED',
      get: 'AccountError LOCKED',
      query: 'AccountError LOCKED',
      update: 'AccountError LOCKED',
      remove: 'AccountError LOCKED',
      exportFhir: 'AccountError LOCKED',
    });
  });

  // session.ts header: "nothing is ever sealed, signed or derived under zeroes"; close() zeroes the
  // session's copies of the secrets. audit.append after close() still resolves: the entry is signed under
  // the zeroed device key, at a chain position read from a closed store (as if empty), and kept nowhere.
  it('audit.append after close() refuses instead of answering an entry signed under the zeroed device key and stored nowhere', async () => {
    const account = anAccount();
    const storage = getRxStorageMemory();
    const session = await openSession(account, storage);
    await session.close();

    const result = await outcome(() =>
      session.audit.append(account.accountId, { action: 'export', summary: 'appended after close' }),
    );
    expect(result).toBe('AccountError LOCKED');
    // Nothing of it reached the store: the next session's own actions do not list it.
    const next = await openSession(account, storage);
    const own = await next.audit.ownActions();
    await next.close();
    expect(own.map((o) => o.body.action)).not.toContain('export');
  });

  // docs: close() "stops the socket and replication"; status `stopped` is "(`goOffline()` or `close()`)".
  // goOnline() on a closed session opens a new socket with the platform's factory and leaves `stopped`.
  it('goOnline() after close() opens no socket and the state stays stopped', async () => {
    const account = anAccount();
    const socket = sockets();
    const session = await openSession(account, getRxStorageMemory(), socket, true);
    await session.close();
    expect(session.sync.state().status).toBe('stopped');

    session.sync.goOnline();
    await new Promise((r) => setTimeout(r, 50));

    expect({ socketsOpened: socket.made.n, status: session.sync.state().status }).toEqual({
      socketsOpened: 0,
      status: 'stopped',
    });
  });
});

describe('lock(account) while the session went offline by goOffline()', () => {
  // docs (Accounts, lock with a session open): "at the lock itself, also in a session that is idle, the
  // connection ends and none is authenticated again (`connection.status()` `fatal`, `failure()` `SyncError`
  // `LOCKED`; requests waiting for the connection and `sync.awaitInSync()` reject with it at once …)".
  // After goOffline() the connection is `stopped`, connection.lockedOut() returns early for `stopped`, and
  // awaitInSync() (waiting before the lock, or called after it) stays pending until close().
  it('awaitInSync rejects LOCKED at once and the connection is fatal LOCKED', async () => {
    const account = anAccount();
    const session = await openSession(account, getRxStorageMemory(), sockets(), false);
    session.sync.goOffline();
    await session.records.add('Allergy', allergy());
    const before = settleWithin(session.sync.awaitInSync(), 1000);
    lock(account);
    const after = settleWithin(session.sync.awaitInSync(), 1000);
    const got = {
      waitingBefore: await before,
      calledAfter: await after,
      connection: session.connection.status(),
      failure: session.connection.failure()?.code ?? null,
    };
    await session.close();
    expect(got).toEqual({
      waitingBefore: 'rejected LOCKED',
      calledAfter: 'rejected LOCKED',
      connection: 'fatal',
      failure: 'LOCKED',
    });
  });
});
