// The device's copy of the patient's grants holds revocation marks nothing else on the device keeps. A
// copy this build cannot read (one a newer build wrote, a field it does not know) must be refused, not
// replaced by what a listing found: the marks in it would be gone. And a copy the device store refuses to
// write must not keep the keys of a grant the server took from its grantee: no check of this device wraps
// them while it cannot keep the grant.
import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { registerAccount } from '@hale/sync-server/testing';
import { diskStorage } from '../support/disk-storage';
import { eventually, grantRead, openDevice, openPatientAndProvider, waitOnline } from '../support/devices';
import { input } from '../support/records';

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

describe('a device copy of the grants the device store refuses to write', () => {
  const server = useServer({ realClock: true });

  it('a copy the device store refuses to write does not hold back the keys of a grant the server took', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const disk = diskStorage();
    const p = await openDevice(t, patient, { storage: disk.storage });
    const d = await openDevice(t, provider);
    server.sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    const allergy = await p.records.add('Allergy', input('Allergy'));

    // The server takes the grant; the device store refuses to write the copy that would hold it.
    disk.failWrites('meta-grants');
    await expect(grantRead(p, provider.accountId, 'allergy', 3_600_000, 'follow-up')).rejects.toThrow(
      /disk write failed/,
    );
    // The grant stands, and its keys went out all the same: the provider reads the allergy.
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'the provider pulls it');
  });
});
