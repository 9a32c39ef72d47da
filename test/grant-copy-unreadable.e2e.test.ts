// The device's copy of the patient's grants holds revocation marks nothing else on the device keeps. A
// copy this build cannot read (one a newer build wrote, a field it does not know) must be refused, not
// replaced by what a listing found: the marks in it would be gone.
import { describe, expect, it } from 'vitest';
import { useServer } from './support/fixture';
import { grantRead, openPatientAndProvider, waitOnline } from './support/devices';

describe('a device copy of the grants this build cannot read', () => {
  const server = useServer();

  it('is left as it is by a listing that finds grants to add, which fails instead', async () => {
    const { provider, p } = await openPatientAndProvider(server.t, server.sessions);
    await waitOnline(p);
    await grantRead(p, provider.accountId, 'allergy', 3_600_000, 'follow-up');
    const stored = (await p.db.getLocal<{ value: unknown[] }>('meta-grants'))?.toJSON().data.value;
    expect(stored).toHaveLength(1);
    // As a newer build might have written it: a field this one does not know, and no copy of the grant.
    const unreadable = [{ fromANewerBuild: true }];
    await p.db.upsertLocal('meta-grants', { value: unreadable });

    await expect(p.consent.list()).rejects.toThrow(/cannot be read/);
    expect((await p.db.getLocal<{ value: unknown[] }>('meta-grants'))?.toJSON().data.value).toEqual(
      unreadable,
    );
  });
});
