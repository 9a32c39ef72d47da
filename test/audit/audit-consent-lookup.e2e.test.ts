// A patient device that learns of a grant and of its revocation from the server's list (both made on
// another device) looks up both audit entries at one check. Each lookup that misses this device's own
// appends reads the whole served log and checks every entry's signature: before, the grant marks and the
// revocation marks each made their own lookup, so such a check read the log twice.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, interceptedWebSocket, openDevice, waitOnline } from '../support/devices';

const DAY = 24 * 3_600_000;
const REFRESH_MS = 300;

/** The patient's consent entries for `grantId` as served, as `action author`. */
const consentEntries = async (reader: DeviceSession, grantId: string): Promise<string[]> =>
  (await reader.audit.entries()).flatMap((e) =>
    e.source === 'patient' &&
    e.body.kind === 'AuditEntry' &&
    e.body.grantId === grantId &&
    (e.body.action === 'consent-grant' || e.body.action === 'consent-revoke')
      ? [`${e.body.action} ${e.author}`]
      : [],
  );

describe('audit entries of grants and revocations learnt from the list', () => {
  const server = useServer({ realClock: true });

  it('are looked up with one read of the served log when both are due at one check', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const bDevice = await addDevice(t, patient);
    const a = await openDevice(t, patient);
    server.sessions.push(a);
    await waitOnline(a);
    const { grant } = await grantRead(a, provider.accountId, 'allergy', DAY, 'lab review');
    await a.consent.revoke(grant.grantId);
    await eventually(async () => (await a.audit.pendingCount()) === 0, "A's entries stored", 5_000);
    const expected = [
      `consent-grant ${patient.device.deviceId}`,
      `consent-revoke ${patient.device.deviceId}`,
    ];
    expect(await consentEntries(a, grant.grantId)).toEqual(expected);

    // B's reads of the patient's audit log from its first page (the sync engine never pulls it).
    const auditStream = `${patient.accountId}/audit`;
    let logReads = 0;
    const counting = interceptedWebSocket({
      sent: (text, send) => {
        const frame = JSON.parse(text) as {
          t?: string;
          streams?: Array<{ stream?: string; since?: number }>;
        };
        if (frame.t === 'pull' && frame.streams?.some((s) => s.stream === auditStream && s.since === 0)) {
          logReads++;
        }
        send(text);
      },
    });
    const b = await openDevice(t, patient, {
      device: bDevice,
      createWebSocket: counting,
      grantRefreshMs: REFRESH_MS,
    });
    server.sessions.push(b);
    await waitOnline(b);
    await eventually(
      async () => (await b.consent.list()).some((g) => g.grant.grantId === grant.grantId && g.revokedAt),
      'B learns the grant and its revocation',
    );
    await eventually(() => logReads > 0, 'B looks the entries up', 8_000);
    // Several more refreshes: a mark left would be looked up (and the log read) again at each.
    await new Promise((r) => setTimeout(r, 6 * REFRESH_MS));
    console.log(`grant and revocation learnt together: ${logReads} read(s) of the served log`);
    expect(logReads).toBe(1);
    // Both were found: B appended neither.
    expect(await consentEntries(a, grant.grantId)).toEqual(expected);
  });
});
