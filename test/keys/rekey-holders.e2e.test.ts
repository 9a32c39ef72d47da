// Re-keying when one provider holds several grants covering a stream: the new epoch is wrapped once per
// holder account (the server refuses a publish naming one (stream, epoch, recipient) twice, whole), so the
// rotation completes, writes sync under the new epoch, the remaining provider reads them and the revoked
// one does not. And a grant naming a record type twice is refused before anything is published.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys, openRecordVersion, unwrapKey } from '@hale/crypto';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

const envelopeCount = (t: TestServer, stream: string, recipient: string, epoch: number): number =>
  (
    t.store.db
      .prepare('SELECT count(*) AS n FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = ?')
      .get(stream, recipient, epoch) as { n: number }
  ).n;

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

const reconnect = async (s: DeviceSession): Promise<void> => {
  s.connection.drop();
  await eventually(() => s.connection.status() !== 'ready', 'connection dropped');
  await waitOnline(s);
};

describe('re-keying with a provider that holds several grants', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('revoking another provider re-keys once per remaining account: writes sync, A reads them, B does not', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const stays = await registerAccount(t, 'provider');
    const revoked = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    const a = await openDevice(t, stays);
    const b = await openDevice(t, revoked);
    sessions.push(p, a, b);
    await Promise.all([waitOnline(p), waitOnline(a), waitOnline(b)]);
    const stream = `${patient.accountId}/allergy`;
    const before = await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    // Two active grants to the same provider, both covering allergies (e.g. two purposes).
    await grantRead(p, stays.accountId, 'allergy', 24 * HOUR, 'treatment');
    await grantRead(p, stays.accountId, 'allergy', 48 * HOUR, 'second opinion');
    const toRevoke = await grantRead(p, revoked.accountId, 'allergy', 24 * HOUR, 'treatment');
    await eventually(async () => (await a.records.get(before.id)) !== null, 'A synced');
    await eventually(async () => (await b.records.get(before.id)) !== null, 'B synced');
    // The epoch-0 key B holds (and keeps: what it synced cannot be recalled).
    const envelope = t.store.db
      .prepare('SELECT wrapped FROM envelopes WHERE stream = ? AND recipient = ? AND epoch = 0')
      .get(stream, revoked.accountId) as { wrapped: string };
    const heldByB = unwrapKey(envelope.wrapped, deriveAccountKeys(revoked.root).wrapping, {
      stream,
      epoch: 0,
    });
    if (!heldByB.ok) throw new Error('B cannot open its epoch-0 envelope');

    const result = await p.consent.revoke(toRevoke.grant.grantId);
    expect(result).toEqual({ rotated: [{ stream, epoch: 1 }], pending: [] });
    expect(serverEpoch(t, stream)).toBe(1);
    expect(envelopeCount(t, stream, stays.accountId, 1)).toBe(1);
    expect(envelopeCount(t, stream, revoked.accountId, 1)).toBe(0);

    const after = await p.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(p, 'post-revocation write');
    const row = t.store.db.prepare('SELECT ct, epoch FROM docs WHERE id = ?').get(after.id) as {
      ct: Buffer;
      epoch: number;
    };
    expect(row.epoch).toBe(1);
    expect(
      openRecordVersion(heldByB.value, new Uint8Array(row.ct), { stream, id: after.id, epoch: 1, rev: 1 }).ok,
    ).toBe(false);
    await eventually(
      async () => (await a.records.get<'Allergy'>(after.id))?.record.substance === 'Penicillin',
      'A reads the record written after the revocation',
    );
    // B's access was cut: a reconnect brings it nothing written since.
    await reconnect(b);
    expect(await b.records.get(after.id)).toBeNull();

    // Nothing left owed: further checks (also on reconnect) neither fail nor rotate again.
    expect(await p.consent.rotateExpired()).toEqual([]);
    await reconnect(p);
    expect(await p.consent.rotateExpired()).toEqual([]);
    expect(p.sync.state().errors.filter((i) => i.code === 'REKEY_PENDING')).toEqual([]);
    expect(serverEpoch(t, stream)).toBe(1);
    for (const s of [p, a]) expect(s.sync.quarantine()).toEqual([]);
  });

  it('a grant naming one record type twice is refused before anything is published', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    sessions.push(p);
    await waitOnline(p);
    await p.records.add('Allergy', input('Allergy'));
    await allPushed(p);
    const envelopesBefore = (t.store.db.prepare('SELECT count(*) AS n FROM envelopes').get() as { n: number })
      .n;
    await expect(
      p.consent.grant({
        granteeId: provider.accountId,
        scope: [
          { type: 'allergy', access: 'read' },
          { type: 'allergy', access: 'write' },
        ],
        durationMs: HOUR,
        purpose: 'treatment',
      }),
    ).rejects.toMatchObject({ name: 'ConsentError', code: 'BAD_SCOPE' });
    expect((t.store.db.prepare('SELECT count(*) AS n FROM envelopes').get() as { n: number }).n).toBe(
      envelopesBefore,
    );
    expect(await p.consent.list()).toEqual([]);
  });
});
