// Why access ended, as a provider device that was offline is told at its next connection: the server's
// clock and grants decide, so the reason is the server's, not one guessed on the device's clock (which may
// run behind or ahead of the server's).
import { describe, expect, it } from 'vitest';
import { useServer } from './support/fixture';
import { eventually, providerWithLabWrite, waitOnline } from './support/devices';
import { input } from './support/records';

const HOUR = 3_600_000;

describe('access that ended while the provider was offline', () => {
  const server = useServer();
  let skew = 0;
  const now = () => server.t.clock.now - skew;

  it('expired, the device clock behind: reported expired (CONSENT_EXPIRED, removed$, NOT_WRITABLE), not revoked', async () => {
    const t = server.t;
    skew = 0;
    const { patient, d, lab, stream } = await providerWithLabWrite(t, server.sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
    });
    const removed: string[] = [];
    d.engine.removed$.subscribe((r) => removed.push(`${r.stream} ${r.reason}`));
    d.sync.goOffline();
    // The one-hour grant ends on the server's clock; the provider device's clock runs 2 minutes behind.
    // Nobody revoked anything: the server's row of the grant holds no revocation.
    t.clock.advance(HOUR + 1000);
    skew = 2 * 60_000;
    await t.server.hub.sweep();
    const rows = t.store.db.prepare('SELECT revoked_at AS revokedAt FROM grants').all() as Array<{
      revokedAt: unknown;
    }>;
    expect(rows).toEqual([{ revokedAt: null }]);

    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the provider copy is purged');

    const consentCodes = d.sync
      .state()
      .errors.filter((e) => e.code.startsWith('CONSENT_') && e.stream === stream)
      .map((e) => e.code);
    expect(consentCodes).toEqual(['CONSENT_EXPIRED']);
    expect(removed).toEqual([`${stream} expired`]);
    expect(d.engine.whyNotWritable(stream)).toBe('expired');
    await expect(
      d.records.add('LabResult', input('LabResult'), { patientId: patient.accountId }),
    ).rejects.toMatchObject({ code: 'NOT_WRITABLE', reason: 'expired' });
  });

  it('revoked, the device clock ahead past the end: reported revoked, not expired', async () => {
    const t = server.t;
    skew = 0;
    const { p, d, lab, stream } = await providerWithLabWrite(t, server.sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
    });
    const removed: string[] = [];
    d.engine.removed$.subscribe((r) => removed.push(`${r.stream} ${r.reason}`));
    d.sync.goOffline();
    const [grant] = t.store.db.prepare('SELECT grant_id AS grantId FROM grants').all() as Array<{
      grantId: string;
    }>;
    await p.consent.revoke(grant!.grantId);
    // The device's clock runs past the one-hour grant's end; the server's is still within it.
    skew = -(HOUR + 60_000);

    d.sync.goOnline();
    await waitOnline(d);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the provider copy is purged');
    const consentCodes = d.sync
      .state()
      .errors.filter((e) => e.code.startsWith('CONSENT_') && e.stream === stream)
      .map((e) => e.code);
    expect(consentCodes).toEqual(['CONSENT_REVOKED']);
    expect(removed).toEqual([`${stream} revoked`]);
    expect(d.engine.whyNotWritable(stream)).toBe('revoked');
  });
});
