import { describe, expect, it } from 'vitest';
import { addDevice, docRow, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// Review: a provider's grant revoked and later re-granted, one of the patient's devices offline through
// the re-keying (and writing meanwhile). the TSDoc of @hale/client/advanced, Consent: a grant publishes "every epoch's key of
// each granted stream (so it can read the history ...)" and "the grantee's devices receive the whole
// stream from the start": `start` opens access, it does not cut the history, so the re-granted provider
// reads what was written in the gap too.
describe('revoke, re-key while a patient device is offline, re-grant', () => {
  const server = useServer({ realClock: true });

  it('every device and the re-granted provider read and write every record, gap included; offline writes land under the new epoch', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const second = await addDevice(t, patient);
    const p1 = await openDevice(t, patient);
    const p2 = await openDevice(t, patient, { device: second });
    const d = await openDevice(t, provider);
    server.sessions.push(p1, p2, d);
    await Promise.all([waitOnline(p1), waitOnline(p2), waitOnline(d)]);
    const stream = `${patient.accountId}/allergy`;

    await p1.consent.verifyProvider(provider.accountId);
    const first = await grantRead(p1, provider.accountId, 'allergy', HOUR, 'care');
    const a = await p1.records.add('Allergy', input('Allergy', { substance: 'A' }));
    await eventually(async () => (await d.records.get(a.id)) !== null, 'provider reads A');
    await eventually(async () => (await p2.records.get(a.id)) !== null, 'p2 reads A');

    p2.sync.goOffline();
    const { rotated } = await p1.consent.revoke(first.grant.grantId);
    expect(rotated.map((r) => r.stream)).toContain(stream);
    const b = await p1.records.add('Allergy', input('Allergy', { substance: 'B, in the gap' }));
    await allPushed(p1);
    const c = await p2.records.add('Allergy', input('Allergy', { substance: 'C, offline in the gap' }));

    await p1.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: HOUR,
      purpose: 'care again',
      start: new Date(Date.now() + 1_000).toISOString(),
    });
    p2.sync.goOnline();
    await allPushed(p2, 'p2 pushed C');
    const serverEpochOfC = docRow(t.store, stream, c.id)?.['epoch'];
    expect(serverEpochOfC).toBeGreaterThanOrEqual(1);

    for (const [who, s] of [
      ['p1', p1],
      ['p2', p2],
      ['provider', d],
    ] as const) {
      for (const r of [a, b, c]) {
        await eventually(async () => (await s.records.get(r.id)) !== null, `${who} reads ${r.id}`, 20_000);
      }
    }
    const e = await p2.records.add('Allergy', input('Allergy', { substance: 'E, after' }));
    await eventually(async () => (await d.records.get(e.id)) !== null, 'provider reads E');
    await eventually(async () => (await p1.records.get(e.id)) !== null, 'p1 reads E');
    for (const s of [p1, p2, d]) expect(s.sync.quarantine()).toEqual([]);
    expect(p2.sync.unsent()).toEqual([]);
  });
});
