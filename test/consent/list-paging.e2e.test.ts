// The device side of paged listings: `consent.list()` and re-keying read every page of the grants the
// patient issued (and none of those others gave it); `searchProviders` hands out pages and follows the
// server's `next`.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_GRANTS_PAGE } from '@hale/protocol';
import { createHttpApi, searchProviders, type WebSocketLike } from '@hale/client/advanced';
import {
  insertDirectoryProvider,
  insertRawGrants,
  makeGrant,
  makeRevocation,
  registerAccount,
  sessionToken,
  type TestAccount,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, openDevice, waitOnline } from '../support/devices';

const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

interface SentFrame {
  t: string;
  cursor?: string;
  limit?: number;
  side?: string;
  active?: boolean;
}

/** A socket factory that records the frames a device sends. */
const tap = () => {
  const sent: SentFrame[] = [];
  const createWebSocket = (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    const rawSend = ws.send.bind(ws) as (data: string) => void;
    (ws as unknown as { send: (data: string) => void }).send = (data) => {
      const frame = JSON.parse(data) as SentFrame;
      sent.push(frame);
      rawSend(data);
    };
    return ws as unknown as WebSocketLike;
  };
  return { createWebSocket, listGrants: () => sent.filter((f) => f.t === 'listGrants') };
};

/**
 * `count` grants the patient signed (as if issued on another of its devices), written through the store
 * past the caps, issued one second apart; those at `revokeAt` revoked with the patient's signature. The
 * revoked ones name another stream than the rest, so the re-keying they cause has no holder to wrap for.
 */
const storeIssuedGrants = async (
  t: TestServer,
  patient: TestAccount,
  grantee: TestAccount,
  count: number,
  revokeAt: readonly number[],
): Promise<{ ids: string[]; revoked: string[] }> => {
  const ids: string[] = [];
  const revoked: string[] = [];
  const base = Date.now() - count * 1000;
  for (let i = 0; i < count; i++) {
    const type = revokeAt.includes(i) ? 'immunization' : 'allergy';
    const signed = await makeGrant(patient, grantee, [{ type, access: 'read' }], {
      now: base + i * 1000,
      start: base - HOUR,
      expiresAt: Date.now() + 48 * HOUR,
    });
    const g = signed.grant;
    await t.store.grants.put({ ...g, scope: g.scope.map((s) => ({ ...s })), signed });
    ids.push(g.grantId);
    if (revokeAt.includes(i)) {
      const revocation = await makeRevocation(patient, g.grantId);
      await t.store.grants.revoke(g.grantId, iso(Date.now()), revocation);
      revoked.push(g.grantId);
    }
  }
  return { ids, revoked };
};

describe('a patient whose grants fill several pages', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('lists every grant it issued, across pages, and reads none of those a stranger gave it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const stranger = await registerAccount(t);
    const count = 2 * MAX_GRANTS_PAGE + 500;
    const { ids, revoked } = await storeIssuedGrants(t, patient, provider, count, [
      0,
      700,
      1400,
      2100,
      count - 1,
    ]);
    insertRawGrants(t.store, stranger, patient, 3000, { now: Date.now() });

    const net = tap();
    const p = await openDevice(t, patient, { createWebSocket: net.createWebSocket });
    sessions.push(p);
    await waitOnline(p);
    // The on-connect re-keying check lists the grants too; let it finish first.
    await p.consent.rotateExpired();
    const before = net.listGrants().length;

    const listed = await p.consent.list();
    expect(listed.map((g) => g.grant.grantId).sort()).toEqual([...ids].sort());
    const status = new Map(listed.map((g) => [g.grant.grantId, g.status]));
    for (const id of ids) expect(status.get(id), id).toBe(revoked.includes(id) ? 'revoked' : 'active');

    // One walk of three pages, the issued side only: the stranger's 3000 grants were never asked for.
    const walk = net.listGrants().slice(before);
    expect(walk).toHaveLength(3);
    for (const frame of walk) expect(frame).toMatchObject({ side: 'issued', limit: MAX_GRANTS_PAGE });
    expect(walk[0]?.cursor).toBeUndefined();
    expect(walk[1]?.cursor).toBeTruthy();
    expect(walk[2]?.cursor).toBeTruthy();
  });
});

describe('directory searches in pages', () => {
  const server = useServer({ realClock: true });

  /** Providers with real keys and signed profiles, written through the store. */
  const addProviders = async (t: TestServer, count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const profile = {
        displayName: `Dr ${['Ames', 'Bell', 'Cole', 'Dunn'][i % 4]} ${i}`,
        specialty: 'cardiology',
        clinic: 'Pagewood Clinic',
        identifier: `NPI-${i}`,
      };
      ids.push(await insertDirectoryProvider(t.store, profile, iso(Date.now())));
    }
    return ids;
  };

  it('hands out pages and follows next until the last, every entry verified', async () => {
    const t = server.t;
    const ids = await addProviders(t, 130);
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const deps = { api: createHttpApi({ baseUrl: t.url, fetch }), ed };

    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const found = await searchProviders(deps, {
        q: 'pagewood',
        limit: 50,
        token,
        ...(cursor === undefined ? {} : { cursor }),
      });
      expect(found.dropped).toBe(0);
      sizes.push(found.providers.length);
      seen.push(...found.providers.map((e) => e.profile.accountId));
      if (found.next === undefined) break;
      cursor = found.next;
    }
    expect(sizes).toEqual([50, 50, 30]);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...ids].sort());
  });
});
