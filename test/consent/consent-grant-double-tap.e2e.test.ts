// A double tap on "share": two `grant` calls at once asking the same. Each drafted, signed and sent a
// grant of its own, so the provider held two identical grants — two slots of the caps, two disclosures in
// the audit log — and revoking the one the patient saw left the other in force: the provider kept access.
// `revoke` already shares one revocation between calls at once; `grant` now shares one grant the same way.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession, GrantRequest } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, openDevice, waitOnline } from '../support/devices';

const DAY = 24 * 3_600_000;

const grantEntries = async (p: DeviceSession) =>
  (await p.audit.entries()).filter(
    (e) => e.source === 'patient' && e.body.kind === 'AuditEntry' && e.body.action === 'consent-grant',
  ).length;

describe('two grant calls at once asking the same', () => {
  const server = useServer({ realClock: true });

  it('make one grant: both resolve to it, the server holds one, one consent-grant entry', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    await p.consent.rotateExpired();

    const request: GrantRequest = {
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: DAY,
      purpose: 'second opinion',
    };
    const [first, second] = await Promise.all([p.consent.grant(request), p.consent.grant({ ...request })]);
    const listed = await p.consent.list();
    console.log(`double tap: ${listed.length} grant(s) listed`);
    expect(listed.map((g) => g.grant.grantId)).toEqual([first.grant.grantId]);
    expect(second.grant.grantId).toBe(first.grant.grantId);
    await p.audit.flushChanges();
    await eventually(async () => (await p.audit.pendingCount()) === 0, 'audit outbox drained', 5_000);
    expect(await grantEntries(p)).toBe(1);

    // Asked again once the first answered: a grant of its own, as the patient chose.
    const again = await p.consent.grant(request);
    expect(again.grant.grantId).not.toBe(first.grant.grantId);
    expect(await p.consent.list()).toHaveLength(2);
  });

  it('calls asking differently (another purpose) at once make a grant each', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    const request: GrantRequest = {
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: DAY,
      purpose: 'second opinion',
    };
    const [a, b] = await Promise.all([
      p.consent.grant(request),
      p.consent.grant({ ...request, purpose: 'surgery' }),
    ]);
    expect(a.grant.grantId).not.toBe(b.grant.grantId);
    expect(await p.consent.list()).toHaveLength(2);
  });
});
