// `session.deleteAccount()` through `openHale`, against a real server: the server erases the account, the
// session closes, this device's store and vault entry are wiped (the app is back at its start), and the
// account can no longer be joined or unlocked; `erased` runs between the erasure and the lock.
import { describe, expect, it } from 'vitest';
import { isHaleError } from '@hale/client';
import { openHaleForTests } from '@hale/client/testing';
import { nodePlatform } from '@hale/platform-node';
import { useServer } from '../support/fixture';
import { PASSPHRASE, useHaleSessions } from './hale-devices';

describe('session.deleteAccount', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('erases the account on the server and wipes this device', async () => {
    const platform = nodePlatform();
    const hale = await openHaleForTests({ server: server.t.url, platform });
    const loginName = `del-${Date.now().toString(36)}`;
    const { session } = await hale.createAccount({
      role: 'patient',
      passphrase: PASSPHRASE,
      loginName,
      deviceName: 'only device',
    });
    sessions.push(session);
    await session.records.add('Allergy', {
      substance: 'Latex',
      severity: 'mild',
      recordedAt: new Date().toISOString(),
      active: true,
    });
    const accountId = session.account.accountId;

    // `erased` runs after the server erased and before the session locks: the session still reads there.
    const seen: number[] = [];
    const erased = await session.deleteAccount({
      erased: () => seen.push(session.records.list('Allergy').get().total),
    });
    expect(erased).toMatchObject({ accountId, devices: 1 });
    expect(seen).toHaveLength(1);
    expect(() => session.records.list('Allergy')).toThrow();
    expect(await hale.hasAccount()).toBe(false);
    const stored = server.t.store.db
      .prepare('SELECT count(*) AS n FROM accounts WHERE account_id = ?')
      .get(accountId) as { n: number };
    expect(stored.n).toBe(0);
    // A new sign-in with the old name and passphrase finds nothing.
    const fresh = await openHaleForTests({ server: server.t.url, platform: nodePlatform() });
    const refused = await fresh.join({ loginName, passphrase: PASSPHRASE, deviceName: 'again' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isHaleError(refused)).toBe(true);
    // The closed session refuses further use.
    await expect(
      session.records.add('Allergy', {
        substance: 'Dust',
        severity: 'mild',
        recordedAt: new Date().toISOString(),
        active: true,
      }),
    ).rejects.toThrow();
  });
});
