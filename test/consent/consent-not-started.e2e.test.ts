// A grant whose start is still ahead was listed `active`: the patient was told the provider has access
// now, while the server serves it nothing before the start. It is `not-started` until then, and `active`
// in any listing from its start on, on the device that granted it and on the patient's others.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { openDevice, waitOnline } from '../support/devices';

const START_IN_MS = 2_500;

describe('a grant that starts later', () => {
  const server = useServer({ realClock: true });

  it('is listed not-started until its start, then active, on every device of the patient', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: await addDevice(t, patient) });
    server.sessions.push(a, b);
    await Promise.all([waitOnline(a), waitOnline(b)]);

    const now = Date.now();
    const granted = await a.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      start: new Date(now + START_IN_MS).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
      purpose: 'follow-up next week',
    });
    const statuses = async (s: typeof a) =>
      (await s.consent.list()).map((g) => [g.grant.grantId, g.status] as const);
    expect(await statuses(a)).toEqual([[granted.grant.grantId, 'not-started']]);
    expect(await statuses(b)).toEqual([[granted.grant.grantId, 'not-started']]);

    const wait = Date.parse(granted.grant.start) + 100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect(await statuses(a)).toEqual([[granted.grant.grantId, 'active']]);
    expect(await statuses(b)).toEqual([[granted.grant.grantId, 'active']]);
  });
});
