// A stranger's grants cannot stop a patient from revoking consent or re-keying. A grant needs no agreement
// from its grantee; thousands of them naming the patient once made its `listGrants` answer break the
// protocol's own schema, the device waited out the request timeout, the socket died, the revocation went
// out on the dying socket and was lost, and every connection died that way before rotation finished.
//
// The server now caps unended grants per pair, grantee and patient, so the flood below cannot be made
// through `grant` any more: past the cap a stranger gets TOO_MANY_GRANTS. The flood is therefore written
// straight into the store's table, as an older server without the caps (or many strangers together)
// could have left it; those rows carry a well-formed, unchecked signature (the server checks grant
// signatures on the way in only, and a patient's device ignores grants it did not issue).
import { describe, expect, it } from 'vitest';
import {
  connect,
  insertRawGrants,
  makeGrant,
  registerAccount,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;
const FLOOD = 6000;

/** `count` grants from `patient` to `grantee`, inserted into the table in one transaction. */
const insertGrants = (t: TestServer, patient: TestAccount, grantee: TestAccount, count: number): void => {
  insertRawGrants(t.store, patient, grantee, count, { now: Date.now() });
};

describe('a patient flooded with grants by a stranger', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('still lists its grants, revokes (the server records it) and re-keys', async () => {
    const t = server.t;
    const victim = await registerAccount(t);
    const revoked = await registerAccount(t, 'provider');
    const stays = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const p = await openDevice(t, victim);
    sessions.push(p);
    await waitOnline(p);
    const g = await grantRead(p, revoked.accountId, 'allergy', HOUR, 'care');
    const kept = await grantRead(p, stays.accountId, 'allergy', HOUR, 'care');
    const stream = `${victim.accountId}/allergy`;

    insertGrants(t, stranger, victim, FLOOD);
    // Past the caps the stranger's next grant is refused, and nothing is stored.
    const s = await connect(t, stranger.device);
    const more = await makeGrant(stranger, victim, [{ type: 'allergy', access: 'read' }]);
    expect(await s.request({ t: 'grant', rid: s.rid(), grant: more })).toMatchObject({
      t: 'error',
      code: 'TOO_MANY_GRANTS',
    });
    await s.close();
    expect(await t.store.grants.get(more.grant.grantId)).toBeNull();

    // A reconnect runs the on-connect re-keying check against the flooded list: the connection survives it.
    p.connection.drop();
    // The socket closes after drop() returns: until then the state still reads online.
    await eventually(() => p.connection.status() !== 'ready', 'connection dropped');
    await waitOnline(p);
    const listed = await p.consent.list();
    expect(listed.map((x) => x.grant.grantId).sort()).toEqual([g.grant.grantId, kept.grant.grantId].sort());
    // The on-connect check finishes (a check queues behind it), with nothing to re-key yet.
    expect(await p.consent.rotateExpired()).toEqual([]);
    expect(p.connection.status()).toBe('ready');

    const started = Date.now();
    const result = await p.consent.revoke(g.grant.grantId);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result).toEqual({ rotated: [{ stream, epoch: 1 }], pending: [] });
    expect((await t.store.grants.get(g.grant.grantId))?.revokedAt).toBeDefined();
    expect(await t.store.envelopes.currentEpoch(stream)).toBe(1);
    // The provider that stays holds the new epoch; the revoked one does not.
    const epochsOf = async (account: TestAccount) =>
      (await t.store.envelopes.list(account.accountId, [stream])).map((e) => e.epoch);
    expect(await epochsOf(stays)).toContain(1);
    expect(await epochsOf(revoked)).not.toContain(1);
    expect((await p.consent.list()).find((x) => x.grant.grantId === g.grant.grantId)?.status).toBe('revoked');
    // Settled: the next check rotates nothing.
    expect(await p.consent.rotateExpired()).toEqual([]);
  }, 45_000);
});
