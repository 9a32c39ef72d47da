// A provider account also owns streams, and the server lets any account grant its own. A provider that
// issued a grant used to get none of the checks between connects a patient gets (consent set them up for
// patients only), while its write guard shut the ended grant out all the same: at the expiry nothing
// re-keyed, and its next write waited (NO_KEY) for the check that refusal started. Now a provider whose
// copy holds a grant it issued runs them as a patient does: the stream is re-keyed at the expiry.
import { describe, expect, it } from 'vitest';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { granteeOpens, storedRow } from '../support/server-rows';
import { allPushed, eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const GRANT_MS = 4_000;

const serverEpoch = (t: TestServer, stream: string): number =>
  (
    t.store.db.prepare('SELECT max(epoch) AS e FROM envelopes WHERE stream = ?').get(stream) as {
      e: number | null;
    }
  ).e ?? 0;

describe('a grant a provider account issued of its own stream', () => {
  const server = useServer({ realClock: true });

  it('is listed and re-keyed at its expiry while the provider stays connected, before any write', async () => {
    const t = server.t;
    const issuer = await registerAccount(t, 'provider');
    const grantee = await registerAccount(t, 'provider');
    const x = await openDevice(t, issuer);
    const y = await openDevice(t, grantee);
    server.sessions.push(x, y);
    await Promise.all([waitOnline(x), waitOnline(y)]);
    const stream = `${issuer.accountId}/allergy`;

    const before = await x.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    await allPushed(x, 'history pushed');
    const granted = await grantRead(x, grantee.accountId, 'allergy', GRANT_MS, 'second opinion');
    expect((await x.consent.list()).map((g) => [g.grant.grantId, g.status])).toEqual([
      [granted.grant.grantId, 'active'],
    ]);
    await eventually(async () => (await y.records.get(before.id)) !== null, 'the grantee reads the history');

    const wait = Date.parse(granted.grant.expiresAt) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await eventually(() => serverEpoch(t, stream) === 1, 'the stream re-keyed at the expiry', 10_000);
    expect((await x.consent.list()).map((g) => g.status)).toEqual(['expired']);

    const after = await x.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(x, 'new record pushed');
    expect(storedRow(t, after.id)?.epoch).toBe(1);
    expect(granteeOpens(t, grantee, after.id)).toBe(false);
  });
});
