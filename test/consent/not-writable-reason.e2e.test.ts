import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { eventually, grantRead, providerWithLabWrite } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

/** The refusal of a lab result written by `d` for `patientId`, as code, reason and message. */
const refusal = async (d: DeviceSession, patientId: string, kind: 'LabResult' | 'Allergy' = 'LabResult') => {
  try {
    await d.records.add(kind, input(kind), { patientId });
  } catch (error) {
    const { code, reason, message } = error as { code: string; reason?: string; message: string };
    return { code, reason, message };
  }
  throw new Error('the write was taken');
};

// A write refused for want of consent says why: none covers the stream, it allows reading only, or it
// ended (expired or revoked), so the app can tell the person what to ask the patient for.
describe('NOT_WRITABLE names its reason', () => {
  const server = useServer();
  const now = () => server.t.clock.now;

  it('no consent, read-only consent, expired consent', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await providerWithLabWrite(t, server.sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
    });
    const none = await refusal(d, 'A'.repeat(22));
    expect(none).toMatchObject({ code: 'NOT_WRITABLE', reason: 'no-consent' });
    expect(none.message).toContain('no consent');
    // A type the patient never granted.
    expect(await refusal(d, patient.accountId, 'Allergy')).toMatchObject({ reason: 'no-consent' });

    await grantRead(p, provider.accountId, 'allergy', HOUR, 'look only');
    await eventually(
      () => d.engine.readable(`${patient.accountId}/allergy`),
      'the provider may read allergies',
    );
    const readOnly = await refusal(d, patient.accountId, 'Allergy');
    expect(readOnly).toMatchObject({ code: 'NOT_WRITABLE', reason: 'read-only' });
    expect(readOnly.message).toContain('read-only');

    d.sync.goOffline();
    t.clock.advance(HOUR + 1000);
    const expired = await refusal(d, patient.accountId);
    expect(expired).toMatchObject({ code: 'NOT_WRITABLE', reason: 'expired' });
    expect(expired.message).toContain('expired');
  });

  it('revoked consent', async () => {
    const t = server.t;
    const { patient, provider, p, d, stream } = await providerWithLabWrite(t, server.sessions, {
      lab: input('LabResult', { testName: 'ferritin' }),
      now,
    });
    const grant = (await p.consent.list()).find((g) => g.grant.granteeId === provider.accountId);
    await p.consent.revoke(grant!.grant.grantId);
    await eventually(() => !d.engine.readable(stream), 'the provider hears of the revocation');
    const revoked = await refusal(d, patient.accountId);
    expect(revoked).toMatchObject({ code: 'NOT_WRITABLE', reason: 'revoked' });
    expect(revoked.message).toContain('revoked');
  });
});
