import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, openRecordVersion, unwrapKey } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, openDevice, waitOnline, allPushed, openTwoDevices, grantRead } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

describe('consent lifecycle with a controllable clock', () => {
  const server = useServer();
  const sessions = server.sessions;
  const now = () => server.t.clock.now;

  it('grant → provider syncs history → provider writes → expiry mid-connection → purge', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, { now });
    sessions.push(p);
    const labs = [];
    for (let i = 0; i < 3; i++)
      labs.push(await p.records.add('LabResult', input('LabResult', { testName: `panel ${i}` })));
    const allergy = await p.records.add('Allergy', input('Allergy', { substance: 'Sulfa' }));
    const med = await p.records.add('Medication', input('Medication'));
    await allPushed(p, 'history on the server');

    const d = await openDevice(t, provider, { now });
    sessions.push(d);
    await waitOnline(d);
    await p.consent.verifyProvider(provider.accountId);
    await p.consent.grant({
      granteeId: provider.accountId,
      scope: [
        { type: 'lab-result', access: 'write' },
        { type: 'allergy', access: 'read' },
      ],
      durationMs: HOUR,
      purpose: 'second opinion',
    });
    // The whole history of both streams arrives, and nothing else.
    await eventually(
      async () => (await d.records.query('LabResult', { patientId: patient.accountId })).length === 3,
      'lab history',
    );
    await eventually(async () => (await d.records.get(allergy.id)) !== null, 'allergy history');
    expect(await d.records.get(med.id)).toBeNull();

    // The provider writes where consent allows write; the patient sees it, authored by the provider.
    const written = await d.records.add('LabResult', input('LabResult', { testName: 'lipids' }), {
      patientId: patient.accountId,
    });
    await eventually(
      async () => (await p.records.get(written.id))?.by === provider.accountId,
      'provider write arrives',
    );

    // Expiry while the provider's socket stays open: past the instant nothing more is served…
    t.clock.advance(HOUR + 1000);
    const late = await p.records.add('LabResult', input('LabResult', { testName: 'after expiry' }));
    await allPushed(p, 'late write pushed');
    await new Promise((r) => setTimeout(r, 300));
    expect(await d.records.get(late.id)).toBeNull();
    // …and once the server re-decides (timer or sweep) the provider purges that patient's streams.
    await t.server.hub.sweep();
    await eventually(
      async () => (await d.records.query('LabResult', { patientId: patient.accountId })).length === 0,
      'labs purged',
    );
    await eventually(
      async () => (await d.records.query('Allergy', { patientId: patient.accountId })).length === 0,
      'allergies purged',
    );
    expect(d.sync.state().errors.some((e) => e.code === 'CONSENT_EXPIRED')).toBe(true);
    const own = await d.audit.ownActions();
    expect(own.filter((e) => e.body.action === 'purge').length).toBeGreaterThanOrEqual(2);

    // The provider can no longer write either.
    await expect(
      d.records.add('LabResult', input('LabResult'), { patientId: patient.accountId }),
    ).rejects.toMatchObject({ code: 'NOT_WRITABLE' });

    // A patient device rotates the expired grant's streams.
    const rotated = await p.consent.rotateExpired();
    expect(rotated.map((r) => r.stream).sort()).toEqual(
      [`${patient.accountId}/allergy`, `${patient.accountId}/lab-result`].sort(),
    );
    expect(rotated.every((r) => r.epoch === 1)).toBe(true);
  });

  it('grant → revoke during live sync → rotation → a later record is unreadable with the revoked keys', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, { now });
    const d = await openDevice(t, provider, { now });
    const o = await openDevice(t, other, { now });
    sessions.push(p, d, o);
    await Promise.all([waitOnline(d), waitOnline(o)]);
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const grant = await grantRead(p, provider.accountId, 'allergy', 24 * HOUR, 'treatment');
    await grantRead(p, other.accountId, 'allergy', 24 * HOUR, 'treatment');
    await eventually(async () => (await d.records.get(before.id)) !== null, 'provider synced');
    // Live: a new record reaches the provider while the socket is open.
    const live = await p.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await eventually(async () => (await d.records.get(live.id)) !== null, 'live delivery');

    // The provider's envelope for epoch 0, as it held it (a revoked provider keeps what it already had).
    const stream = `${patient.accountId}/allergy`;
    const held = t.store.db
      .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = 0')
      .get(stream, provider.accountId) as { wrapped: string };
    const providerKeys = deriveAccountKeys(provider.root);
    const epoch0 = unwrapKey(held.wrapped, providerKeys.wrapping, {
      stream,
      epoch: 0,
    });
    if (!epoch0.ok)
      throw new Error(`cannot open the held envelope: ${epoch0.error.code} ${epoch0.error.message}`);

    const { rotated } = await p.consent.revoke(grant.grant.grantId);
    expect(rotated).toEqual([{ stream, epoch: 1 }]);
    await eventually(
      async () => (await d.records.get(before.id)) === null,
      'provider purged after revocation',
    );
    expect(d.sync.state().errors.some((e) => e.code === 'CONSENT_REVOKED')).toBe(true);

    const after = await p.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(p, 'post-revocation write pushed');
    const row = t.store.db.prepare('SELECT ct, epoch FROM docs WHERE id = ?').get(after.id) as {
      ct: Buffer;
      epoch: number;
    };
    expect(row.epoch).toBe(1);
    // Even holding the ciphertext, the revoked provider's key cannot open it…
    if (!epoch0.ok) throw new Error('unreachable');
    const attempt = openRecordVersion(epoch0.value, new Uint8Array(row.ct), {
      stream,
      id: after.id,
      epoch: 1,
      rev: 1,
    });
    expect(attempt.ok).toBe(false);
    if (!attempt.ok) expect(attempt.error.code).toBe('WRONG_KEY');
    // …the server gives it no envelope for the new epoch, and it never receives the record.
    expect(
      t.store.db
        .prepare('SELECT count(*) AS n FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = 1')
        .get(stream, provider.accountId),
    ).toEqual({ n: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect(await d.records.get(after.id)).toBeNull();
    // The remaining grantee got the new key and reads the new record.
    await eventually(
      async () => (await o.records.get<'Allergy'>(after.id))?.record.substance === 'Penicillin',
      'other grantee reads epoch 1',
    );
  });

  it("a provider's key that changed after verification blocks a new grant", async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const impostor = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, { now });
    sessions.push(p);
    await waitOnline(p);
    const verified = await p.consent.verifyProvider(provider.accountId);
    expect(verified.fingerprint).toMatch(/^[0-9a-f ]+$/);
    // A malicious or broken server now presents another key for the provider's account.
    const other = t.store.db
      .prepare('SELECT identity_public_key AS k FROM accounts WHERE account_id = ?')
      .get(impostor.accountId) as { k: string };
    t.store.db
      .prepare('UPDATE accounts SET identity_public_key = ? WHERE account_id = ?')
      .run(other.k, provider.accountId);
    await expect(grantRead(p, provider.accountId, 'allergy', HOUR, 'x')).rejects.toMatchObject({
      code: 'KEY_CHANGED',
    });
    expect(t.store.db.prepare('SELECT count(*) AS n FROM grants').get()).toEqual({ n: 0 });
  });

  it('an invite payload carries the fingerprint; a mismatch is refused', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient, { now });
    sessions.push(p);
    const invite = p.consent.inviteFor(provider.accountId, provider.keys.identity.publicKey);
    expect((await p.consent.acceptInvite(invite)).accountId).toBe(provider.accountId);
    const wrong = p.consent.inviteFor(provider.accountId, patient.keys.identity.publicKey);
    await expect(p.consent.acceptInvite(wrong)).rejects.toMatchObject({ code: 'KEY_CHANGED' });
  });
});

describe("a patient's other device", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('sees grants issued on the first device (verified signatures) and can revoke one, rotating its streams', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const { a, b } = await openTwoDevices(t, patient, sessions);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const issued = await grantRead(a, provider.accountId, 'medication', 3600_000, 'medication review');
    const seen = await b.consent.list();
    expect(seen.map((g) => [g.grant.grantId, g.status])).toEqual([[issued.grant.grantId, 'active']]);
    const { rotated } = await b.consent.revoke(issued.grant.grantId);
    expect(rotated).toEqual([{ stream: `${patient.accountId}/medication`, epoch: 1 }]);
    expect((await a.consent.list()).map((g) => g.status)).toEqual(['revoked']);
  });

  it('believes neither a revocation nor a grant that the patient did not sign', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const { a, b } = await openTwoDevices(t, patient, sessions);
    await Promise.all([waitOnline(a), waitOnline(b)]);
    const grantOf = (type: 'medication' | 'allergy') =>
      a.consent.grant({
        granteeId: provider.accountId,
        scope: [{ type, access: 'read' }],
        durationMs: 3600_000,
        purpose: 'review',
      });
    const kept = await grantOf('medication');
    const forged = await grantOf('allergy');
    // The server claims `kept` revoked (no signed revocation) and serves `forged` with another purpose.
    t.store.db
      .prepare('UPDATE grants SET revoked_at = ? WHERE grant_id = ?')
      .run(new Date().toISOString(), kept.grant.grantId);
    t.store.db
      .prepare("UPDATE grants SET signed = json_set(signed, '$.grant.purpose', 'forged') WHERE grant_id = ?")
      .run(forged.grant.grantId);
    const seen = await b.consent.list();
    expect(seen.map((g) => [g.grant.grantId, g.status])).toEqual([[kept.grant.grantId, 'active']]);
  });
});
