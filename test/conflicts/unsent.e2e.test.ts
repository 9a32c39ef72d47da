import { describe, expect, it } from 'vitest';
import { useServer } from '../support/fixture';
import { eventually, openDevice, waitOnline, grantRead, providerWithLabWrite } from '../support/devices';
import { input } from '../support/records';

const HOUR = 3_600_000;

// RxDB takes a pushed version the server refused as stored, so the next version pulled from the server
// replaces it in the collection. Its content must not vanish with it: the device keeps it in `unsent`.
describe('local versions the server does not take', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const writeGrantedProvider = async () => {
    const t = server.t;
    const dbName = `unsent-provider-${Date.now()}`;
    const lab = input('LabResult', { testName: 'lipid panel' });
    return { t, dbName, ...(await providerWithLabWrite(t, sessions, { lab, dbName })) };
  };

  it('an edit made offline under a write grant that became read-only stays in unsent when the patient edits the record', async () => {
    const { t, provider, p, d, lab, dbName, stream } = await writeGrantedProvider();
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName: 'lipid panel, provider note: repeat fasting' });
    // The patient ends the write grant and gives read access instead.
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'read only from now on');

    d.sync.goOnline();
    await waitOnline(d);
    await eventually(() => d.sync.unsent().length === 1, 'the refused edit is kept');
    const [kept] = d.sync.unsent();
    expect(kept).toMatchObject({ stream, id: lab.id, kind: 'LabResult', deleted: false });
    expect(['NOT_WRITABLE', 'FORBIDDEN']).toContain(kept!.code);
    expect((kept!.data as { testName: string }).testName).toBe('lipid panel, provider note: repeat fasting');
    expect(d.sync.state().unsent).toBe(1);
    // Listed at once; it stops counting as pending, then is reported, once that list is stored.
    await eventually(
      () => d.sync.state().errors.some((e) => e.id === lab.id && /unsent/.test(e.message)),
      'the refused edit is reported',
    );
    expect(d.sync.state().pendingWrites).toBe(0);
    expect(d.sync.state().errors.some((e) => e.id === lab.id && /unsent/.test(e.message))).toBe(true);
    // The server never took it.
    expect(((await p.records.get<'LabResult'>(lab.id))?.record as { testName: string }).testName).toBe(
      'lipid panel',
    );

    // The patient's next edit reaches the provider and replaces the record there; the edit stays in unsent.
    await p.records.update('LabResult', lab.id, { testName: 'lipid panel (final)' });
    await eventually(
      async () => (await d.records.get<'LabResult'>(lab.id))?.record.testName === 'lipid panel (final)',
      "the provider shows the patient's version",
    );
    expect((d.sync.unsent()[0]!.data as { testName: string }).testName).toBe(
      'lipid panel, provider note: repeat fasting',
    );

    // Kept across a restart of the device, until discarded.
    await d.close();
    sessions.splice(sessions.indexOf(d), 1);
    const again = await openDevice(t, provider, { dbName });
    sessions.push(again);
    expect(again.sync.unsent().map((u) => u.id)).toEqual([lab.id]);
    expect(again.sync.state().unsent).toBe(1);
    expect(await again.sync.discardUnsent(stream, 'not-there')).toBe(false);
    expect(await again.sync.discardUnsent(stream, lab.id)).toBe(true);
    expect(again.sync.unsent()).toEqual([]);
    expect(again.sync.state().unsent).toBe(0);
  });

  it('unsent changes of a stream leave with its purge when access ends', async () => {
    const { provider, p, d, lab } = await writeGrantedProvider();
    d.sync.goOffline();
    await d.records.update('LabResult', lab.id, { testName: 'provider edit' });
    const [grant] = await p.consent.list();
    await p.consent.revoke(grant!.grant.grantId);
    await grantRead(p, provider.accountId, 'lab-result', HOUR, 'read only');
    d.sync.goOnline();
    await eventually(() => d.sync.unsent().length === 1, 'kept');
    const [readGrant] = (await p.consent.list()).filter((g) => g.revokedAt === undefined);
    await p.consent.revoke(readGrant!.grant.grantId);
    await eventually(async () => (await d.records.get(lab.id)) === null, 'the copy is removed');
    await eventually(() => d.sync.unsent().length === 0, 'and its unsent edit with it');
  });
});
