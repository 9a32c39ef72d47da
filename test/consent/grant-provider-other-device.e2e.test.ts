// A provider account may grant its own streams, and its devices run the checks between connects a
// patient's run — but only a device whose copy of the grants already held one it issued. Another device
// of that provider, connected before the grant was made elsewhere, never read the server's grant list
// again: when the granting device closed before the expiry, nothing re-keyed the stream, and the device
// still connected went on writing under the epoch the ended grantee holds until it reconnected. A
// patient's device learns of such a grant within `grantRefreshMs`; a provider's must too.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { granteeOpens, storedRow } from '../support/server-rows';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const GRANT_MS = 3_000;
const REFRESH_MS = 300;

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

describe('a grant a provider issued on one device, ending while another of its devices stays connected', () => {
  const server = useServer({ realClock: true });

  it('is re-keyed by that other device within grantRefreshMs of its expiry; its writes are shut out', async () => {
    const t = server.t;
    const issuer = await registerAccount(t, 'provider');
    const grantee = await registerAccount(t, 'provider');
    const x = await openDevice(t, issuer);
    const x2 = await openDevice(t, issuer, {
      device: await addDevice(t, issuer),
      grantRefreshMs: REFRESH_MS,
    });
    server.sessions.push(x, x2);
    await Promise.all([waitOnline(x), waitOnline(x2)]);
    // X2's connect check is done before the grant exists: its copy holds no grant.
    await x2.consent.rotateExpired();
    const stream = `${issuer.accountId}/allergy`;

    await x.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(x, 'history pushed');
    const granted = await grantRead(x, grantee.accountId, 'allergy', GRANT_MS, 'second opinion');
    // The granting device closes before the expiry: it re-keys nothing.
    await x.close();

    const wait = Date.parse(granted.grant.expiresAt) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    let epoch = 0;
    try {
      await eventually(
        () => (epoch = serverEpoch(t, stream)) >= 1,
        'the stream re-keyed by the connected device',
        GRANT_MS + 10 * REFRESH_MS,
      );
    } finally {
      console.log(`epoch of ${stream} ${GRANT_MS + 10 * REFRESH_MS} ms after the expiry: ${epoch}`);
    }
    expect((await x2.consent.list()).map((g) => g.status)).toEqual(['expired']);

    const after = await x2.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(x2, 'new record pushed');
    expect(storedRow(t, after.id)?.epoch).toBe(1);
    expect(granteeOpens(t, grantee, after.id)).toBe(false);
  });
});
