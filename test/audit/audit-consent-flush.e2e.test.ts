// A grant or revocation is a disclosure decision the patient's log must hold even if this device is
// lost right after it: its audit entry goes to the server at once, not with the next record write or
// connect.
import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openPatientAndProvider, waitOnline } from '../support/devices';

/** The consent entries this device wrote, as the server serves the patient's log. */
const servedConsentActions = async (p: DeviceSession): Promise<string[]> =>
  (await p.audit.entries())
    .filter((e) => e.author === p.account.device.deviceId)
    .map((e) => String(e.body.action))
    .filter((a) => a.startsWith('consent-'));

describe('consent audit entries', () => {
  const server = useServer();

  it('reach the server right after the grant and after the revocation, with nothing else written', async () => {
    const { provider, p, d } = await openPatientAndProvider(server.t, server.sessions);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'sign-in entries stored');

    const grant = await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'follow-up');
    await eventually(async () => (await servedConsentActions(p)).length > 0, 'grant entry served', 5_000);
    expect(await servedConsentActions(p)).toEqual(['consent-grant']);

    await p.consent.revoke(grant.grant.grantId);
    await eventually(async () => (await servedConsentActions(p)).length > 1, 'revoke entry served', 5_000);
    // The re-keying the revocation starts is logged too, and sent as soon.
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'outbox drained', 5_000);
    expect(await servedConsentActions(p)).toEqual(['consent-grant', 'consent-revoke']);
  });
});
