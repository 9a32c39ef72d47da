import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { eventually, waitOnline, grantRead, grantWrite, providerWithLabWrite } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// A refused version is kept in `unsent` because nothing else holds its content once a pulled version
// replaces the local copy. A second refused version of the same record, typed on the server's version
// after that, must not take the first one's place: the first one's content exists nowhere else.
describe('a second refused version of a record', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const testNameOf = (data: Record<string, unknown>): unknown => data['testName'];

  type Setup = Awaited<ReturnType<typeof providerWithLabWrite>>;

  /** The provider edits the lab offline while the patient swaps its write grant for read; the edit is refused and kept. */
  const refusedOffline = async ({ provider, p, d, lab }: Setup, testName: string) => {
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName });
    const [writeGrant] = await p.consent.list();
    await p.consent.revoke(writeGrant!.grant.grantId);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'read only from now on');
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(() => d.sync.unsent().length === 1, `${testName} is kept`);
  };

  /** Write access again for a while; the provider's next offline edit is refused too once it is revoked. */
  const refusedAgain = async ({ provider, p, d, lab, stream }: Setup, testName: string) => {
    await grantWrite(p, provider.accountId, 'lab-result', HOUR);
    // Announced live (accessChanged names a stream whose access changed).
    await eventually(() => d.engine.writable(stream), 'the provider may write again');
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName });
    const again = (await p.consent.list()).filter(
      (g) => g.revokedAt === undefined && g.grant.scope.some((s) => s.access === 'write'),
    );
    expect(again).toHaveLength(1);
    await p.consent.revoke(again[0]!.grant.grantId);
    d.sync.goOnline();
    await waitOnline(d);
    await eventually(
      () => d.sync.unsent().some((u) => testNameOf(u.data) === testName),
      `${testName} is kept`,
    );
  };

  it('typed on the server version after a refusal, it is kept beside the first refused version', async () => {
    const t = server.t;
    const setup = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'lipid panel' }),
    });
    const { p, d, lab, stream } = setup;
    const id = lab.id;

    // Edit A, made offline under a write grant the patient replaces with read access meanwhile.
    await refusedOffline(setup, 'edit A: repeat fasting');

    // The patient's version replaces the local copy: edit A now exists only in unsent.
    await p.records.update('LabResult', id, { testName: 'lipid panel (final)' });
    await eventually(
      async () => (await d.records.get<'LabResult'>(id))?.record.testName === 'lipid panel (final)',
      "the provider shows the patient's version",
    );

    // Write access again for a while; edit B, typed on the patient's version offline, is refused too.
    await refusedAgain(setup, 'lipid panel (final), edit B: add HbA1c');

    const kept = d.sync.unsent();
    expect(kept.map((u) => testNameOf(u.data))).toEqual([
      'edit A: repeat fasting',
      'lipid panel (final), edit B: add HbA1c',
    ]);
    expect(kept.every((u) => u.id === id && u.stream === stream)).toBe(true);
    expect(d.sync.state().unsent).toBe(2);
    const [a, b] = kept;

    // Discarding one version leaves the other; without a revision number, every kept version of the record.
    expect(await d.sync.discardUnsent(stream, id, a!.rv + 100)).toBe(false);
    expect(await d.sync.discardUnsent(stream, id, b!.rv)).toBe(true);
    expect(d.sync.unsent().map((u) => testNameOf(u.data))).toEqual(['edit A: repeat fasting']);
    expect(await d.sync.discardUnsent(stream, id)).toBe(true);
    expect(d.sync.unsent()).toEqual([]);
    expect(d.sync.state().unsent).toBe(0);
  });

  it('typed on the refused copy itself, it replaces the version it was made from (that content carries on)', async () => {
    const t = server.t;
    const setup = await providerWithLabWrite(t, sessions, {
      lab: input('LabResult', { testName: 'lipid panel' }),
    });
    await refusedOffline(setup, 'edit A');
    // Nothing newer came from the server: the local copy is still edit A, and edit B is made on it.
    await refusedAgain(setup, 'edit A, then B');
    const { d } = setup;
    expect(d.sync.unsent().map((u) => testNameOf(u.data))).toEqual(['edit A, then B']);
  });
});
