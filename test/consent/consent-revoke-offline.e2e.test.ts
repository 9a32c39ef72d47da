// A revocation made with no connection. Before, `revoke` waited for the connection; when the app went
// offline or closed first it rejected STOPPED and nothing was kept: the grant stayed in force on the
// server and the patient had to revoke again. Offline-first, the revocation is kept on the device (signed)
// and sent at the next connection, this session's or the next one's; until then the app is told the
// server has not cut access, and records written meanwhile are not sealed under a key the grantee holds.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import {
  eventually,
  grantRead,
  interceptedWebSocket,
  losingAnswer,
  openDevice,
  waitOnline,
} from '../support/devices';
import { input } from '../support/records';
import { granteeOpens, storedRow } from '../support/server-rows';

const DAY = 24 * 3_600_000;
const REFRESH_MS = 300;

/** The signature of the revocation the server keeps for the grant, or null while the grant stands there. */
const serverRevocationSig = (t: TestServer, grantId: string): string | null => {
  const row = t.store.db.prepare('SELECT revocation FROM grants WHERE grant_id = ?').get(grantId) as
    { revocation: string | null } | undefined;
  if (row?.revocation == null) return null;
  const kept = JSON.parse(row.revocation) as { sig?: unknown };
  return typeof kept.sig === 'string' ? kept.sig : null;
};

/** The server's time of the grant's revocation, or null while the grant stands there. */
const serverRevokedAt = (t: TestServer, grantId: string): string | null =>
  (
    t.store.db.prepare('SELECT revoked_at FROM grants WHERE grant_id = ?').get(grantId) as {
      revoked_at: string | null;
    }
  ).revoked_at;

/** The patient's `consent-revoke` entries for `grantId` as served: author device, device named. */
const revokeEntries = async (reader: DeviceSession, grantId: string) =>
  (await reader.audit.entries()).flatMap((e) =>
    e.source === 'patient' &&
    e.body.kind === 'AuditEntry' &&
    e.body.action === 'consent-revoke' &&
    e.body.grantId === grantId
      ? [{ author: e.author, deviceId: e.body.deviceId }]
      : [],
  );

/** Waits for an entry, then several refreshes of the grant list (a duplicate would come then). */
const settledRevokeEntries = async (reader: DeviceSession, grantId: string) => {
  await eventually(async () => (await revokeEntries(reader, grantId)).length > 0, 'a consent-revoke entry');
  await new Promise((r) => setTimeout(r, 6 * REFRESH_MS));
  await eventually(async () => (await reader.audit.pendingCount()) === 0, 'outbox drained', 5_000);
  return revokeEntries(reader, grantId);
};

/** How `revoke` answered: what it resolved with, or the rejection's name, code and named fields. */
const outcomeOf = (revoking: Promise<unknown>) =>
  revoking.then(
    (resolved) => ({ resolved }),
    (error: unknown) => ({
      rejected: {
        name: error instanceof Error ? error.name : String(error),
        code: (error as { code?: unknown }).code,
        grantId: (error as { grantId?: unknown }).grantId,
        revocationPending: (error as { revocationPending?: unknown }).revocationPending,
      },
    }),
  );

const statusOf = async (s: DeviceSession, grantId: string) =>
  (await s.consent.list()).find((g) => g.grant.grantId === grantId);

describe('a grant revoked while offline', () => {
  const server = useServer({ realClock: true });

  it('the app closed before it went online: the next session sends it, re-keys, and records it once', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const storage = getRxStorageMemory();
    const dbName = `revoke-offline-${Date.now().toString(36)}`;
    const p = await openDevice(t, patient, { storage, dbName, grantRefreshMs: REFRESH_MS });
    const d = await openDevice(t, provider);
    server.sessions.push(d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const allergy = await p.records.add('Allergy', input('Allergy'));
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider pulls');
    const stream = `${patient.accountId}/allergy`;

    p.sync.goOffline();
    const outcome = await outcomeOf(p.consent.revoke(grant.grantId));
    const listedOffline = (await statusOf(p, grant.grantId))?.status;
    await p.close();
    // Nothing reached the server: the provider still has access.
    expect(serverRevokedAt(t, grant.grantId)).toBeNull();

    // The patient does nothing more than open the app again with a connection.
    const again = await openDevice(t, patient, { storage, dbName, grantRefreshMs: REFRESH_MS });
    server.sessions.push(again);
    await eventually(
      () => serverRevokedAt(t, grant.grantId) !== null,
      'the server ends the grant once the device is back online',
      10_000,
    );
    await eventually(async () => (await d.records.get(allergy.id)) === null, "the provider's copy purged");
    await eventually(
      async () => (await statusOf(again, grant.grantId))?.rotatedAt !== undefined,
      'the re-keying it triggers is finished',
    );
    expect(again.keyring.currentEpoch(stream)).toBe(1);
    const entries = await settledRevokeEntries(again, grant.grantId);
    const listed = await statusOf(again, grant.grantId);
    console.log(
      `revoked offline, closed, reopened: ${JSON.stringify(outcome)}; listed ${listedOffline} offline, ` +
        `${listed?.status} after; ${entries.length} consent-revoke entr(ies)`,
    );
    expect(entries).toEqual([{ author: patient.device.deviceId, deviceId: patient.device.deviceId }]);
    expect(listed?.status).toBe('revoked');
    // The app was told the server had not cut access yet, and the list said so.
    expect(outcome).toEqual({
      rejected: { name: 'SyncError', code: 'STOPPED', grantId: grant.grantId, revocationPending: true },
    });
    expect(listedOffline).toBe('revocation-pending');
  });

  it('back online in the same session: sent at the reconnect; a record written meanwhile only under the new key', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, { grantRefreshMs: REFRESH_MS });
    const d = await openDevice(t, provider);
    server.sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const before = await p.records.add('Allergy', input('Allergy'));
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');
    await eventually(async () => (await d.records.get(before.id)) !== null, 'the provider pulls');

    p.sync.goOffline();
    const outcome = await outcomeOf(p.consent.revoke(grant.grantId));
    // Written after the patient revoked: the revoked provider must never be able to read it.
    const after = await p.records.add('Allergy', input('Allergy', { substance: 'after the revocation' }));
    p.sync.goOnline();
    await eventually(() => p.sync.state().pendingWrites === 0, 'the record written offline is pushed');

    const row = storedRow(t, after.id);
    const opens = row === undefined ? null : granteeOpens(t, provider, after.id);
    console.log(
      `revoked offline, online again: ${JSON.stringify(outcome)}; server revokedAt ${serverRevokedAt(
        t,
        grant.grantId,
      )}; record written meanwhile stored under epoch ${row?.epoch}, provider opens it: ${opens}`,
    );
    expect(serverRevokedAt(t, grant.grantId)).not.toBeNull();
    expect(row?.epoch).toBe(1);
    expect(opens).toBe(false);
    expect(await d.records.get(after.id)).toBeNull();
    expect(outcome).toEqual({
      rejected: { name: 'SyncError', code: 'STOPPED', grantId: grant.grantId, revocationPending: true },
    });
    expect((await statusOf(p, grant.grantId))?.status).toBe('revoked');
  });

  it('its answer lost, the app closed before the reconnect: sent again once reopened, one revocation, one entry', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const storage = getRxStorageMemory();
    const dbName = `revoke-lost-${Date.now().toString(36)}`;
    const lossy = losingAnswer('revoke');
    const p = await openDevice(t, patient, {
      storage,
      dbName,
      createWebSocket: lossy.createWebSocket,
      grantRefreshMs: REFRESH_MS,
    });
    await waitOnline(p);
    const { grant } = await grantRead(p, provider.accountId, 'allergy', DAY, 'second opinion');

    lossy.arm();
    const revoking = outcomeOf(p.consent.revoke(grant.grantId));
    await lossy.cut;
    await p.close();
    const outcome = await revoking;
    const first = serverRevokedAt(t, grant.grantId);
    expect(first).not.toBeNull();

    // What the reopened device sends: the revocation it kept, as it was signed.
    const resent: string[] = [];
    const again = await openDevice(t, patient, {
      storage,
      dbName,
      grantRefreshMs: REFRESH_MS,
      createWebSocket: interceptedWebSocket({
        sent: (text, send) => {
          const frame = JSON.parse(text) as { t: string; revocation?: { sig: string } };
          if (frame.t === 'revoke' && frame.revocation) resent.push(frame.revocation.sig);
          send(text);
        },
      }),
    });
    server.sessions.push(again);
    await eventually(
      async () => (await statusOf(again, grant.grantId))?.rotatedAt !== undefined,
      'revoked and re-keyed in the next session',
    );
    const stored = serverRevocationSig(t, grant.grantId);
    expect(stored).not.toBeNull();
    expect(resent.length).toBeGreaterThanOrEqual(1);
    expect(new Set(resent)).toEqual(new Set([stored]));
    const entries = await settledRevokeEntries(again, grant.grantId);
    console.log(
      `revoke answer lost, closed, reopened: ${JSON.stringify(outcome)}; ${entries.length} consent-revoke entr(ies)`,
    );
    expect(entries).toEqual([{ author: patient.device.deviceId, deviceId: patient.device.deviceId }]);
    // The server keeps the first revocation: the one sent again changed nothing.
    expect(serverRevokedAt(t, grant.grantId)).toBe(first);
    expect(again.keyring.currentEpoch(`${patient.accountId}/allergy`)).toBe(1);
    expect(outcome).toMatchObject({
      rejected: { name: 'SyncError', grantId: grant.grantId, revocationPending: true },
    });
  });
});
