// Why access ended, as a provider device that was offline is told at its next connection: the server's
// clock and grants decide, so the reason is the server's, not one guessed on the device's clock (which may
// run behind or ahead of the server's).
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { eventually, providerWithLabWrite, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

describe('access that ended while the provider was offline', () => {
  const server = useServer();
  /** How far the provider device's clock runs behind the server's. */
  let skew = 0;

  /** A provider holding a patient's lab result under a one-hour write grant, gone offline. */
  const offlineProvider = async () => {
    skew = 0;
    const t = server.t;
    const setup = await providerWithLabWrite(t, server.sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now: () => t.clock.now - skew,
    });
    const removed: string[] = [];
    setup.d.engine.removed$.subscribe((r) => removed.push(`${r.stream} ${r.reason}`));
    setup.d.sync.goOffline();
    /** Reconnects; answers what the device was told once its copy was purged. */
    const reconnect = async () => {
      const { d, lab, stream } = setup;
      d.sync.goOnline();
      await waitOnline(d);
      await eventually(async () => (await d.records.get(lab.id)) === null, 'the provider copy is purged');
      // Announced once the purge's bookkeeping is done, a moment after the records are gone.
      await eventually(() => removed.length > 0, 'the end is announced');
      return {
        issues: d.sync
          .state()
          .errors.filter((e) => e.code.startsWith('CONSENT_') && e.stream === stream)
          .map((e) => e.code),
        removed,
        notWritable: d.engine.whyNotWritable(stream),
      };
    };
    return { ...setup, reconnect };
  };

  it('expired, the device clock behind: reported expired (CONSENT_EXPIRED, removed$, NOT_WRITABLE), not revoked', async () => {
    const t = server.t;
    const { patient, d, stream, reconnect } = await offlineProvider();
    // The grant ends on the server's clock; the device's runs 2 minutes behind. Nobody revoked anything.
    t.clock.advance(HOUR + 1000);
    skew = 2 * 60_000;
    await t.server.hub.sweep();
    expect(t.store.db.prepare('SELECT revoked_at AS revokedAt FROM grants').all()).toEqual([
      { revokedAt: null },
    ]);

    expect(await reconnect()).toEqual({
      issues: ['CONSENT_EXPIRED'],
      removed: [`${stream} expired`],
      notWritable: 'expired',
    });
    await expect(
      d.records.add('LabResult', input('LabResult'), { patientId: patient.accountId }),
    ).rejects.toMatchObject({ code: 'NOT_WRITABLE', reason: 'expired' });
  });

  it('revoked, the device clock ahead past the end: reported revoked, not expired', async () => {
    const t = server.t;
    const { p, stream, reconnect } = await offlineProvider();
    const [grant] = t.store.db.prepare('SELECT grant_id AS grantId FROM grants').all() as Array<{
      grantId: string;
    }>;
    await p.consent.revoke(grant!.grantId);
    // The device's clock runs past the grant's end; the server's is still within it.
    skew = -(HOUR + 60_000);

    expect(await reconnect()).toEqual({
      issues: ['CONSENT_REVOKED'],
      removed: [`${stream} revoked`],
      notWritable: 'revoked',
    });
  });
});
