import { describe, expect, it } from 'vitest';
import { registerAccount, type TestServer } from '@hale/sync-server/testing';
import { useServer } from './support/fixture';
import { eventually, waitOnline, allPushed, openTwoDevices } from './support/devices';
import { input } from './support/records';

interface DocRow {
  stream: string;
  rev: string;
  ct: Buffer;
  sig: string | null;
  deleted: number;
  epoch: number;
  author: string;
  size: number;
}

/** What a dishonest server can do: serve a version it once stored again, as the newest, at a new seq. */
const replay = (t: TestServer, id: string, old: DocRow): void => {
  const { head } = t.store.db.prepare('SELECT head FROM stream_heads WHERE stream = ?').get(old.stream) as {
    head: number;
  };
  t.store.db
    .prepare(
      'UPDATE docs SET rev = ?, ct = ?, sig = ?, deleted = ?, epoch = ?, author = ?, size = ?, seq = ? WHERE id = ?',
    )
    .run(old.rev, old.ct, old.sig, old.deleted, old.epoch, old.author, old.size, head + 1, id);
  t.store.db.prepare('UPDATE stream_heads SET head = ? WHERE stream = ?').run(head + 1, old.stream);
};

// Every version a server replays is genuine (sealed and tagged by the account), so only its revision
// number can tell that it is older than what a device already holds.
describe('a server replaying an older version of a record', () => {
  const server = useServer({ realClock: true });

  const twoDevices = async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, server.sessions);
    await waitOnline(a);
    await waitOnline(b);
    const rec = await a.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await allPushed(a);
    const old = t.store.db.prepare('SELECT * FROM docs WHERE id = ?').get(rec.id) as DocRow;
    return { t, a, b, rec, old };
  };

  it('is not applied over the newer version a device holds, and is reported', async () => {
    const { t, a, b, rec, old } = await twoDevices();
    await a.records.update('Allergy', rec.id, { substance: 'Penicillin (retested: none)' });
    await allPushed(a);
    await eventually(async () => (await b.records.get(rec.id))?.rv === 2, 'b has the second version');

    replay(t, rec.id, old);
    b.connection.drop();
    await eventually(
      () => b.sync.state().errors.some((e) => e.code === 'STALE_VERSION' && e.id === rec.id),
      'the replay is reported',
    );
    await waitOnline(b);
    const got = await b.records.get<'Allergy'>(rec.id);
    expect(got?.rv).toBe(2);
    expect(got?.record.substance).toBe('Penicillin (retested: none)');
  });

  it('does not bring a deleted record back', async () => {
    const { t, a, b, rec, old } = await twoDevices();
    await eventually(async () => (await b.records.get(rec.id)) !== null, 'b has the record');
    await a.records.remove(rec.id);
    await allPushed(a);
    await eventually(async () => (await b.records.get(rec.id)) === null, 'b saw the deletion');

    replay(t, rec.id, old);
    b.connection.drop();
    await eventually(
      () => b.sync.state().errors.some((e) => e.code === 'STALE_VERSION' && e.id === rec.id),
      'the replay is reported',
    );
    expect(await b.records.get(rec.id)).toBeNull();
    expect(await b.records.query('Allergy')).toEqual([]);
  });
});
