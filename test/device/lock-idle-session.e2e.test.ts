// the TSDoc of @hale/client/advanced "## Accounts": "`lock(account)` with a device session still open (an idle
// auto-lock) is safe ... From the lock on, the session uses none of the account's keys ... the socket is
// given up and none is authenticated again (`connection.status()` `fatal`, `failure()` `SyncError`
// `LOCKED`; requests waiting for the connection and `sync.awaitInSync()` reject with it at once) and
// `sync.state().errors` lists a `LOCKED` issue."
// The case an idle auto-lock really is: a session in sync, nothing touching it after the lock.
import { describe, expect, it } from 'vitest';
import { createAccount, createHttpApi, isAccountError, lock, memoryVault } from '@hale/client/advanced';
import { TEST_KDF } from '@hale/crypto';
import type { TestAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, openDevice, waitOnline } from '../support/devices';

const server = useServer({ realClock: true });

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) =>
      `${isAccountError(e) ? 'AccountError' : 'other'} ${String((e as { code?: string }).code)}`,
  );

describe('an idle session locked (auto-lock)', () => {
  it('awaitInSync rejects LOCKED at once, the socket is given up and the state says LOCKED', async () => {
    const { t, sessions } = server;
    const api = createHttpApi({ baseUrl: t.url, fetch });
    const { account } = await createAccount(
      { api, vault: memoryVault(), ed, kdf: TEST_KDF, weakKdfForTests: true },
      { role: 'patient', passphrase: 'correct horse battery', deviceName: 'laptop' },
    );
    const s = await openDevice(t, {} as TestAccount, { sessionAccount: account });
    sessions.push(s);
    await waitOnline(s);
    await s.sync.awaitInSync();
    // Idle: the sign-in audit entry and everything else settled before the lock.
    await new Promise((r) => setTimeout(r, 1_500));

    lock(account);
    const awaited = await codeOf(s.sync.awaitInSync());
    await new Promise((r) => setTimeout(r, 3_000));
    expect({
      awaitInSync: awaited,
      connection: s.connection.status(),
      status: s.sync.state().status,
      lockedIssue: s.sync.state().errors.some((e) => e.code === 'LOCKED'),
    }).toEqual({
      awaitInSync: 'other LOCKED',
      connection: 'fatal',
      status: 'fatal',
      lockedIssue: true,
    });
  });
});
