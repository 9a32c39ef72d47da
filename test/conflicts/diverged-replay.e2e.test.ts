import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import { replayStored, storedRow, useServer } from '../support/fixture';
import { online, useHaleSessions, when } from '../client-api/hale-devices';
import { clinicianWithLabWrite, input, pushed, until } from './parties';

const HOUR = 3_600_000;

// A record whose last local version the server refused (diverged, kept in unsent) is unsettled: what the
// server serves for it is left to RxDB. Before the fix that meant any served version, so a server that
// refused one push could replay an older genuine version, below the server state the device held before
// its refused edit, and the device showed it without a word. The diverged mark now keeps that state's
// number (its floor): a version below it is refused and reported as any replay onto a settled copy is.
// Devices are opened as the app opens them (`openHaleForTests`); the network is cut at the platform's socket.
describe('replay of an older version onto a record whose local edit the server refused', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  const shows = async (s: HaleSession, id: string) =>
    ((await s.records.get<'LabResult'>(id))?.record as { testName?: string } | undefined)?.testName;

  it('is not applied over the server state the device held, and is reported', async () => {
    const t = server.t;
    const { p, d, lab, grant, clinician } = await clinicianWithLabWrite(
      t.url,
      sessions,
      input('LabResult', { testName: 'first' }),
    );
    const old = storedRow(t, lab.id);
    // The server's state becomes rv 2 and the provider's device holds it.
    await p.records.update('LabResult', lab.id, { testName: 'second' });
    await pushed(p);
    await when(
      d.records.one<'LabResult'>(lab.id),
      (r) => (r?.record as { testName?: string } | undefined)?.testName === 'second',
      'the provider holds rv 2',
    );
    // The provider's offline edit (rv 3) is refused once the grant became read-only.
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName: 'provider edit' });
    await p.consent.revoke(grant.grant.grantId);
    await p.consent.grant({
      granteeId: d.account.accountId,
      scope: [{ type: 'lab-result', access: 'read' }],
      durationMs: HOUR,
      purpose: 'read only',
    });
    d.sync.goOnline();
    await online(d);
    await when(d.sync.unsent, (u) => u.length === 1, 'the refused edit is kept');

    expect(await shows(d, lab.id)).toBe('provider edit');
    // The server serves rv 1 again as the newest.
    replayStored(t, lab.id, old);
    const cut = when(d.sync.state, (x) => x.status !== 'online', 'the cut is seen');
    clinician.network.cut();
    await cut;
    await online(d);
    const reported = () => d.sync.issues.get().some((e) => e.code === 'STALE_VERSION' && e.id === lab.id);
    await until(
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
