// A provider's identity key is shown and pinned only if it is the account's own: its account id is derived
// from it. A server that presents another account's identity key for the provider before the patient
// ever pinned one (so no pin can reveal the change) is refused KEY_CHANGED by every way of pinning, and
// nothing is pinned or granted.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { grantRead, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;

describe("an identity key the server presents in place of the provider's, before any pin", () => {
  const server = useServer({ realClock: true });

  it('is refused KEY_CHANGED when shown, verified, taken from an invite or granted to; nothing is pinned', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const impostor = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);

    // The server now presents the impostor's (genuine, registered) identity key as the provider's.
    const other = t.store.db
      .prepare('SELECT identity_public_key AS k FROM accounts WHERE account_id = ?')
      .get(impostor.accountId) as { k: string };
    t.store.db
      .prepare('UPDATE accounts SET identity_public_key = ? WHERE account_id = ?')
      .run(other.k, provider.accountId);

    const keyChanged = { name: 'ConsentError', code: 'KEY_CHANGED' };
    await expect
      .soft(p.consent.describeProvider(provider.accountId), 'describeProvider')
      .rejects.toMatchObject(keyChanged);
    await expect
      .soft(p.consent.verifyProvider(provider.accountId), 'verifyProvider')
      .rejects.toMatchObject(keyChanged);
    expect.soft(await p.consent.isVerified(provider.accountId), 'pinned by verifyProvider').toBe(false);
    // An invite made with the key the server presents: its fingerprint matches, the key is still not the account's.
    const invite = p.consent.inviteFor(provider.accountId, impostor.keys.identity.publicKey);
    await expect.soft(p.consent.acceptInvite(invite), 'acceptInvite').rejects.toMatchObject(keyChanged);
    expect.soft(await p.consent.isVerified(provider.accountId), 'pinned by acceptInvite').toBe(false);
    // A first grant pins the key it is given to: refused before anything is pinned or sent.
    await expect
      .soft(grantRead(p, provider.accountId, 'allergy', HOUR, 'care'), 'grant')
      .rejects.toMatchObject(keyChanged);
    expect.soft(await p.consent.isVerified(provider.accountId), 'pinned by a refused grant').toBe(false);
    expect(t.store.db.prepare('SELECT count(*) AS n FROM grants').get()).toEqual({ n: 0 });
  });
});
