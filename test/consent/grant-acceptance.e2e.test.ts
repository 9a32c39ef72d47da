// A clinic's provider follows more than 1,000 patients. The server caps the unended grants an account
// receives from strangers at MAX_ACTIVE_GRANTS_PER_GRANTEE (a grant needs no agreement from its grantee),
// which once refused the 1,001st patient's grant (TOO_MANY_GRANTS) whatever the provider wanted. Now the
// provider accepts its patients (`consent.acceptPatient`): their grants no longer count
// toward that cap, so a patient's real grant is stored and its records reach the provider's device, while a
// stranger is still refused at the cap. Un-accepting makes the patient count again for new grants and ends
// nothing.
//
// The other patients' grants are written straight into the store (`insertRawGrants`), as granting them one
// by one through the protocol would make this test minutes long; their streams are empty. So are their
// accounts (`storedPatient`: the rows a registration stores, without the HTTP round trip).
import { describe, expect, it } from 'vitest';
import { MAX_ACCEPTED_PAGE, MAX_ACTIVE_GRANTS_PER_GRANTEE } from '@hale/protocol';
import { ConsentError, type DeviceSession } from '@hale/client/advanced';
import { insertRawGrants, registerAccount, type TestAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { storedPatient } from '../support/stored-accounts';

const HOUR = 3600_000;

/** What a promise rejected with (it must reject). */
const refusal = async (promise: Promise<unknown>): Promise<{ name?: string; code?: string }> => {
  try {
    await promise;
  } catch (error) {
    return error as { name?: string; code?: string };
  }
  throw new Error('expected a refusal');
};

describe('a provider that accepts its patients', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it(
    'follows more than 1,000 patients; a stranger is still refused at the cap',
    { timeout: 240_000 },
    async () => {
      const t = server.t;
      const provider = await registerAccount(t, 'provider');
      // 1,000 patients already granted the provider read access to their allergies: the cap on grants from
      // strangers is full. And one more account flooded it with as many again.
      const clinic: TestAccount[] = [];
      for (let i = 0; i < MAX_ACTIVE_GRANTS_PER_GRANTEE; i++) {
        const patient = await storedPatient(t);
        insertRawGrants(t.store, patient, provider, 1, { now: Date.now() });
        clinic.push(patient);
      }
      const flooder = await registerAccount(t);
      insertRawGrants(t.store, flooder, provider, MAX_ACTIVE_GRANTS_PER_GRANTEE, { now: Date.now() });

      const patient = await registerAccount(t);
      const p = await openDevice(t, patient);
      sessions.push(p);
      const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
      await allPushed(p);
      await p.consent.verifyProvider(provider.accountId);
      const d = await openDevice(t, provider);
      sessions.push(d);
      await waitOnline(d);

      // Before the provider accepts anyone: the 1,001st patient's grant is refused.
      expect(await refusal(grantRead(p, provider.accountId, 'allergy', HOUR, 'care'))).toMatchObject({
        name: 'SyncError',
        code: 'TOO_MANY_GRANTS',
      });
      expect(await p.consent.list()).toEqual([]);

      // The provider accepts its 1,001 patients (not the flooder).
      for (const a of [...clinic, patient]) await d.consent.acceptPatient(a.accountId);
      const accepted = await d.consent.acceptedPatients();
      expect(accepted.length).toBeGreaterThan(MAX_ACCEPTED_PAGE);
      expect(new Set(accepted.map((a) => a.patientId))).toEqual(
        new Set([...clinic, patient].map((a) => a.accountId)),
      );

      const granted = await grantRead(p, provider.accountId, 'allergy', HOUR, 'care');
      expect(await t.store.grants.get(granted.grant.grantId)).not.toBeNull();
      await eventually(
        async () => (await d.records.get(allergy.id)) !== null,
        'the provider has the allergy',
      );
      expect((await d.records.get<'Allergy'>(allergy.id))?.record.substance).toBe('Penicillin');
      expect(d.sync.state().errors).toEqual([]);

      // A stranger's grant still meets the full cap (the flooder's grants count), and is not stored.
      const stranger = await registerAccount(t);
      const s = await openDevice(t, stranger);
      sessions.push(s);
      await s.consent.verifyProvider(provider.accountId);
      expect(await refusal(grantRead(s, provider.accountId, 'allergy', HOUR, 'care'))).toMatchObject({
        code: 'TOO_MANY_GRANTS',
      });
      expect((await t.store.grants.listForPatient(stranger.accountId)).length).toBe(0);

      // Un-accepted, the patient is a stranger again for new grants; its grant stands and still serves.
      await d.consent.unacceptPatient(patient.accountId);
      expect((await d.consent.acceptedPatients()).map((a) => a.patientId)).not.toContain(patient.accountId);
      expect(await refusal(grantRead(p, provider.accountId, 'medication', HOUR, 'care'))).toMatchObject({
        code: 'TOO_MANY_GRANTS',
      });
      expect((await t.store.grants.get(granted.grant.grantId))?.revokedAt).toBeUndefined();
      const later = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
      await eventually(
        async () => (await d.records.get(later.id)) !== null,
        'the provider has the new allergy',
      );
    },
  );

  it('refuses acceptance requests it may not send, with typed errors, changing nothing', async () => {
    const t = server.t;
    const provider = await registerAccount(t, 'provider');
    const patient = await registerAccount(t);
    const d = await openDevice(t, provider);
    const p = await openDevice(t, patient);
    sessions.push(d, p);
    await waitOnline(d);
    await waitOnline(p);

    const cases: Array<[DeviceSession, string, Record<string, unknown>]> = [
      [d, 'not an account', { name: 'ConsentError', code: 'BAD_ACCOUNT_ID' }],
      [d, `${patient.accountId}x`, { name: 'ConsentError', code: 'BAD_ACCOUNT_ID' }],
      [d, 'x'.repeat(10_000_000), { name: 'ConsentError', code: 'BAD_ACCOUNT_ID' }],
      [d, provider.accountId, { name: 'ConsentError', code: 'BAD_ACCOUNT_ID' }],
      // A patient account accepts nobody: its cap on grants from strangers stays whole.
      [p, provider.accountId, { name: 'ConsentError', code: 'NOT_A_PROVIDER' }],
      // Well-formed, but no such account: the server's refusal, typed by its code.
      [d, 'A'.repeat(22), { name: 'SyncError', code: 'NOT_FOUND' }],
    ];
    for (const [session, id, expected] of cases) {
      expect(await refusal(session.consent.acceptPatient(id)), id.slice(0, 30)).toMatchObject(expected);
    }
    expect(await refusal(p.consent.unacceptPatient(provider.accountId))).toBeInstanceOf(ConsentError);
    expect(await refusal(p.consent.acceptedPatients())).toMatchObject({ code: 'NOT_A_PROVIDER' });
    expect(await d.consent.acceptedPatients()).toEqual([]);
    expect(await t.store.acceptances.count(provider.accountId)).toBe(0);
    expect(await t.store.acceptances.count(patient.accountId)).toBe(0);
  });
});
