// What one `revoke` costs in readings of the server's grant list (each up to 20 pages). After the
// server's answer, `revoke` read the whole list to learn whether another device's revocation stood, and
// its re-keying then read it whole again before deciding anything: two readings where one serves both.
// A re-keying that claims a new epoch confirms it with one more reading, as every check that claims does.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;

/** Counts the readings of the grant list the device starts (a walk's first page names no cursor). */
const countingSocket = () => {
  const sent: Array<{ t: string; cursor?: string }> = [];
  return {
    createWebSocket: interceptedWebSocket({
      sent: (text, send) => {
        sent.push(JSON.parse(text) as { t: string; cursor?: string });
        send(text);
      },
    }),
    listings: () => sent.filter((f) => f.t === 'listGrants' && f.cursor === undefined).length,
  };
};

const serverEpoch = (server: ReturnType<typeof useServer>, stream: string): number =>
  (
    server.t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

describe('the grant listings one revoke reads', () => {
  const server = useServer({ realClock: true });

  const open = async (): Promise<{
    p: DeviceSession;
    stream: string;
    providerId: string;
    listings: () => number;
  }> => {
    const patient = await registerAccount(server.t);
    const provider = await registerAccount(server.t, 'provider');
    const net = countingSocket();
    const p = await openDevice(server.t, patient, { createWebSocket: net.createWebSocket });
    server.sessions.push(p);
    await waitOnline(p);
    await p.consent.rotateExpired();
    return {
      p,
      stream: `${patient.accountId}/allergy`,
      providerId: provider.accountId,
      listings: net.listings,
    };
  };

  it('a revoke that re-keys: one reading for the revocation and the re-keying, one confirming the epoch', async () => {
    const { p, stream, providerId, listings } = await open();
    const { grant } = await grantRead(p, providerId, 'allergy', HOUR, 'care');
    await p.consent.rotateExpired();
    const before = listings();

    const result = await p.consent.revoke(grant.grantId);
    const read = listings() - before;
    console.log(`revoke with a re-keying: ${read} grant listings`);
    expect(result).toEqual({ rotated: [{ stream: stream, epoch: 1 }], pending: [] });
    expect(serverEpoch(server, stream)).toBe(1);
    expect((await p.consent.list()).map((g) => g.status)).toEqual(['revoked']);
    expect(read).toBe(2);
  });

  it('a revoke whose streams are re-keyed already (the grant expired) reads the list once', async () => {
    const { p, stream, providerId, listings } = await open();
    const { grant } = await grantRead(p, providerId, 'allergy', 1_500, 'care');
    const wait = Date.parse(grant.expiresAt) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 100));
    await p.consent.rotateExpired();
    await eventually(() => serverEpoch(server, stream) === 1, 're-keyed at the expiry');
    const before = listings();

    const result = await p.consent.revoke(grant.grantId);
    const read = listings() - before;
    console.log(`revoke of an expired, re-keyed grant: ${read} grant listings`);
    expect(result).toEqual({ rotated: [], pending: [] });
    expect((await p.consent.list()).map((g) => g.status)).toEqual(['revoked']);
    expect(read).toBe(1);
  });
});
