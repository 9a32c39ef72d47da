import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// The server keys records by stream and id, a device keeps one record per id, and writers choose their ids
// (freshness.ts): a version under an id the device holds in another stream must not take that record's place.
describe('a record served under the id of a record held in another stream', () => {
  const server = useServer({ realClock: true });

  it("refuses a patient's record written under the id of another patient's record a provider follows", async () => {
    const t = server.t;
    const [alice, bob] = [await registerAccount(t), await registerAccount(t)];
    const provider = await registerAccount(t, 'provider');
    const [a, b, d] = [await openDevice(t, alice), await openDevice(t, bob), await openDevice(t, provider)];
    server.sessions.push(a, b, d);
    await waitOnline(d);
    const bobs = await b.records.add('Medication', input('Medication', { name: 'Warfarin', dose: '5 mg' }));
    await b.records.update('Medication', bobs.id, { dose: '2 mg' });
    await allPushed(b);
    await b.consent.verifyProvider(provider.accountId);
    await grantRead(b, provider.accountId, 'medication', HOUR, 'care');
    await eventually(async () => (await d.records.get(bobs.id))?.rv === 2, "the provider has Bob's record");

    // Alice (with a server that showed her the id) writes her own record under it, edited past Bob's number.
    const hers = await a.records.add('Medication', {
      ...input('Medication', { name: 'Placebo', dose: '0 mg' }),
      id: bobs.id,
    });
    for (const dose of ['1 mg', '2 mg', '3 mg']) await a.records.update('Medication', hers.id, { dose });
    const other = await a.records.add('Medication', input('Medication', { name: 'Aspirin' }));
    await allPushed(a);
    const row = t.store.db
      .prepare('SELECT rev FROM docs WHERE stream = ? AND id = ?')
      .get(`${alice.accountId}/medication`, bobs.id) as { rev: string };
    expect(row.rev.startsWith('4-')).toBe(true);
    await a.consent.verifyProvider(provider.accountId);
    await grantRead(a, provider.accountId, 'medication', HOUR, 'care');
    // Served in order with Alice's other records: judged (and reported) before the last of them is stored.
    await eventually(
      async () => (await d.records.get(other.id)) !== null,
      "the provider has Alice's records",
    );

    const held = await d.records.get<'Medication'>(bobs.id);
    expect(held).toMatchObject({ rv: 2, by: bob.accountId, record: { name: 'Warfarin', dose: '2 mg' } });
    expect(held?.record.patientId).toBe(bob.accountId);
    expect(d.sync.state().errors.filter((e) => e.code === 'ID_CLASH')).toMatchObject([
      { stream: `${alice.accountId}/medication`, id: bobs.id },
    ]);
  });
});
