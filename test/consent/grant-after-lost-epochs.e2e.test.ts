// A patient device that holds key epochs the server lost (as a restore onto an empty disk loses them)
// still grants a new provider: its grant publishes the envelopes of every epoch it holds in one frame,
// above the stream's stored epoch + 1. A server bound of stored + 1 refused that frame whole (BAD_MESSAGE),
// so the grant was never stored and the patient could not share until the app restarted.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, grantRead, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3600_000;

describe('a grant after the server lost key epochs', () => {
  const server = useServer({ realClock: true });

  it('is stored, with the envelopes of every epoch the device holds', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const [first, second, third] = [
      await registerAccount(t, 'provider'),
      await registerAccount(t, 'provider'),
      await registerAccount(t, 'provider'),
    ];
    const p = await openDevice(t, patient);
    server.sessions.push(p);
    await waitOnline(p);
    await p.records.add('Allergy', input('Allergy', { substance: 'Iodine' }));
    const stream = `${patient.accountId}/allergy`;
    // Two revocations: the stream is re-keyed to epoch 2.
    for (const provider of [first, second]) {
      const g = await grantRead(p, provider.accountId, 'allergy', 24 * HOUR, 'treatment');
      expect((await p.consent.revoke(g.grant.grantId)).pending).toEqual([]);
    }
    const epochs = t.store.db.prepare<[string], { epoch: number }>(
      'SELECT DISTINCT epoch FROM envelopes WHERE stream = ? ORDER BY epoch',
    );
    expect(epochs.all(stream).map((r) => r.epoch)).toEqual([0, 1, 2]);

    // The server loses every epoch above 0; the device, still running, holds their keys.
    t.store.db.prepare('DELETE FROM envelopes WHERE stream = ? AND epoch > 0').run(stream);
    p.connection.drop();
    await eventually(() => p.connection.status() !== 'ready', 'the connection dropped');
    await waitOnline(p);

    const g3 = await grantRead(p, third.accountId, 'allergy', 24 * HOUR, 'treatment');
    expect((await t.store.grants.get(g3.grant.grantId))?.revokedAt).toBeUndefined();
    const toThird = t.store.db.prepare<[string, string], { epoch: number }>(
      'SELECT epoch FROM envelopes WHERE stream = ? AND recipient = ? ORDER BY epoch',
    );
    expect(toThird.all(stream, third.accountId).map((r) => r.epoch)).toEqual([0, 1, 2]);
  });
});
