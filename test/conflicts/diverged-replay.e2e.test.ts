import { describe, expect, it } from 'vitest';
import type { DeviceSession } from '@hale/client/advanced';
import { replayStored, storedRow, useServer } from '../support/fixture';
import { allPushed, eventually, grantRead, providerWithLabWrite, waitOnline } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// A record whose last local version the server refused (diverged, kept in unsent) is unsettled: what the
// server serves for it is left to RxDB. Before the fix that meant any served version, so a server that
// refused one push could replay an older genuine version, below the server state the device held before
// its refused edit, and the device showed it without a word. The diverged mark now keeps that state's
// number (its floor): a version below it is refused and reported as any replay onto a settled copy is.
describe('replay of an older version onto a record whose local edit the server refused', () => {
  const server = useServer({ realClock: true });

  const shows = async (s: DeviceSession, id: string) =>
    ((await s.records.get<'LabResult'>(id))?.record as { testName?: string } | undefined)?.testName;

  it('is not applied over the server state the device held, and is reported', async () => {
    const t = server.t;
    const { p, d, lab, provider } = await providerWithLabWrite(t, server.sessions, {
      lab: input('LabResult', { testName: 'first' }),
    });
    const old = storedRow(t, lab.id);
    // The server's state becomes rv 2 and the provider's device holds it.
    await p.records.update('LabResult', lab.id, { testName: 'second' });
    await allPushed(p);
    await eventually(async () => (await shows(d, lab.id)) === 'second', 'the provider holds rv 2');
    // The provider's offline edit (rv 3) is refused once the grant became read-only.
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName: 'provider edit' });
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'read only');
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(() => d.sync.unsent().length === 1, 'the refused edit is kept');

    expect(await shows(d, lab.id)).toBe('provider edit');
    // The server serves rv 1 again as the newest.
    replayStored(t, lab.id, old);
    d.connection.drop();
    await waitOnline(d);
    const reported = () => d.sync.state().errors.some((e) => e.code === 'STALE_VERSION' && e.id === lab.id);
    await eventually(
      async () => reported() || (await shows(d, lab.id)) === 'first',
      'the replay is reported, or applied',
    );
    // Not applied: rv 1 is older than rv 2, the last state the device held as the server's…
    expect(await shows(d, lab.id)).not.toBe('first');
    expect((await d.records.get(lab.id))?.rv).not.toBe(1);
    // …and reported as a replay, as restore/rollback.e2e.test.ts requires of a settled copy.
    expect(reported()).toBe(true);
  });
});
