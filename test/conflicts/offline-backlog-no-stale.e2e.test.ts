// A device that wrote offline comes online and keeps editing while its backlog goes out. The pull of that
// reconnect (and live frames) read before some of its newer pushes landed bring its own older versions
// after those pushes were answered: late copies, overtaken by its own writes, which an honest server
// serves as it should. They must not be reported STALE_VERSION ("a broken or dishonest server"), an
// issue nothing clears once the writes went through.
import { describe, expect, it } from 'vitest';
import { addDevice, registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';

describe('offline writes going out while the person edits on (honest server)', () => {
  const server = useServer({ realClock: true });

  it('raise no STALE_VERSION, and every edit reaches the other device', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const a = await openDevice(t, patient, { offline: true });
    const b = await openDevice(t, patient, { device: second });
    server.sessions.push(a, b);
    await waitOnline(b);

    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push((await a.records.add('Allergy', input('Allergy'))).id);
    for (let i = 0; i < 300; i += 3) await a.records.update('Allergy', ids[i]!, { substance: 'Latex' });
    a.sync.goOnline();
    // Edits while the backlog goes out, each round a macrotask apart so pushes and pages interleave.
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < 300; i += 7)
        await a.records.update('Allergy', ids[i]!, { substance: `Round ${r}` });
      await new Promise((res) => setTimeout(res, 50));
    }
    await allPushed(a);
    await a.sync.awaitInSync();
    await eventually(
      async () => (await b.records.get<'Allergy'>(ids[0]!))?.record.substance === `Round ${rounds - 1}`,
      'the other device has the last edit',
    );
    await eventually(
      async () => (await b.records.query('Allergy')).length === 300,
      'the other device has all',
    );
    await b.sync.awaitInSync();

    expect(a.sync.state().errors.filter((e) => e.code === 'STALE_VERSION')).toEqual([]);
    expect(b.sync.state().errors.filter((e) => e.code === 'STALE_VERSION')).toEqual([]);
    expect((await a.records.get<'Allergy'>(ids[7]!))?.record.substance).toBe(`Round ${rounds - 1}`);
    expect((await a.records.get<'Allergy'>(ids[3]!))?.record.substance).toBe('Latex');
  }, 120_000);
});
