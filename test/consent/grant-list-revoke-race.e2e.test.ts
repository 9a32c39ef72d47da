// A revocation must stay in the device's copy of the grants. Listing read that copy, waited for the
// server's list, then wrote the copy it had read back whenever the server's list added something (a grant
// issued on another device): a revocation stored meanwhile was undone. Had the connection dropped before
// the revocation's re-keying read the server's list again, the device listed the grant as active offline
// and its write guard let writes to the stream go out under the key the revoked provider holds.
import { describe, expect, it } from 'vitest';
import type { WebSocketLike } from '@hale/client';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { grantRead, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;

type Frame = { t: string };

describe('a listing in flight while the patient revokes', () => {
  const server = useServer({ realClock: true });

  it('does not undo the revocation in the copy the device keeps', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');

    // Device A's frames: the answer to the first listing is kept back; the revocation's own listing passes;
    // the re-keying's listing (the third) is never sent; once offline, nothing goes out.
    let holdGrants = false;
    let heldGrants: (() => void) | null = null;
    let onHeld: () => void = () => undefined;
    let listings = 0;
    let onRekeyListing: () => void = () => undefined;
    let offline = false;
    let socket: WebSocketLike | null = null;
    const createWebSocket = (url: string): WebSocketLike => {
      socket = interceptedWebSocket({
        sent: (text, send) => {
          if (offline) return;
          const frame = JSON.parse(text) as Frame;
          if (holdGrants && frame.t === 'listGrants' && ++listings === 3) return onRekeyListing();
          send(text);
        },
        received: (text, deliver) => {
          const frame = JSON.parse(text) as Frame;
          if (holdGrants && frame.t === 'grants' && heldGrants === null) {
            heldGrants = () => deliver();
            return onHeld();
          }
          deliver();
        },
      })(url);
      return socket;
    };

    const a = await openDevice(t, patient, { createWebSocket });
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    await a.consent.rotateExpired();
    // Both issued on B: A learns of them only from the server's list.
    const g1 = await grantRead(b, provider.accountId, 'allergy', HOUR, 'care');
    const g2 = await grantRead(b, other.accountId, 'medication', HOUR, 'care');
    const stream = `${patient.accountId}/allergy`;

    holdGrants = true;
    const held = new Promise<void>((resolve) => (onHeld = resolve));
    const listing = a.consent.list();
    await held;
    const rekeyListing = new Promise<void>((resolve) => (onRekeyListing = resolve));
    const revoking = a.consent.revoke(g1.grant.grantId);
    // The revocation (of a grant A found in a listing of its own) was taken and stored here; its re-keying
    // now asks for the server's list.
    await rekeyListing;
    heldGrants!();
    await listing;
    offline = true;
    socket!.close(4000, 'dropped by the test');
    const result = await revoking;
    expect(result.pending).toEqual([stream]);
    expect(a.connection.status()).not.toBe('ready');
    expect((await t.store.grants.get(g1.grant.grantId))?.revokedAt).toBeDefined();

    const offlineList = await a.consent.list();
    const status = (id: string) => offlineList.find((g) => g.grant.grantId === id)?.status;
    expect(status(g1.grant.grantId)).toBe('revoked');
    // What the listing brought is kept too.
    expect(status(g2.grant.grantId)).toBe('active');
    // Writes to the stream wait for the re-keying: no key under which the revoked provider could read.
    expect(await a.keyring.writeKey(stream)).toBeNull();
  });
});
