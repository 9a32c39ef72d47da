import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually, openDevice, allPushed } from '../support/devices';
import { input } from '../support/records';

// What the device does with each answer the server gives a push: RxDB takes every row it is not handed
// back as stored, so a row the server did not store must be sent again or kept pending, never forgotten.
describe('push outcomes', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('an edit of a record the server lost is sent again as a creation and stored', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const allergy = await a.records.add('Allergy', input('Allergy', { substance: 'Sulfa' }));
    await allPushed(a, 'pushed');
    // e.g. restored from a backup taken before the record was written
    t.store.db.prepare('DELETE FROM docs WHERE id = ?').run(allergy.id);

    await a.records.update('Allergy', allergy.id, { substance: 'Sulfa (severe)' });
    await eventually(
      () => t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(allergy.id) !== undefined,
      'the server holds the record again',
    );
    await allPushed(a, 'nothing left pending');

    const b = await openDevice(t, patient, { dbName: 'second-copy' });
    sessions.push(b);
    await eventually(
      async () => (await b.records.get<'Allergy'>(allergy.id))?.record.substance === 'Sulfa (severe)',
      'a fresh copy of the account receives the edit',
    );
  });

  it('a record that could not be sealed yet (no write key) is sent once the key is there', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    await eventually(() => a.sync.state().status === 'online', 'online');
    const writeKey = a.keyring.writeKey.bind(a.keyring);
    // No key for the allergy stream during the first 1.5 s (e.g. its envelope not fetched yet).
    const keyFrom = Date.now() + 1500;
    let refusals = 0;
    a.keyring.writeKey = async (stream) => {
      if (!stream.endsWith('/allergy') || Date.now() >= keyFrom) return writeKey(stream);
      refusals++;
      return null;
    };
    // The wait is reported while it lasts (the issue goes once the record is stored).
    const waited = new Set<string>();
    const watch = a.sync.state$.subscribe((s) => {
      for (const e of s.errors) if (e.code === 'NO_KEY' && e.id !== undefined) waited.add(e.id);
    });
    const allergy = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await eventually(
      () => t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(allergy.id) !== undefined,
      'the server receives the record after the key lookups recover',
    );
    watch.unsubscribe();
    expect(refusals).toBeGreaterThan(0);
    expect(waited.has(allergy.id)).toBe(true);
    await allPushed(a, 'nothing left pending');
    expect(a.sync.state().errors.filter((e) => e.code === 'NO_KEY')).toEqual([]);
  });

  it('a failure that repeats while offline is one entry in errors, not one per retry', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    await eventually(() => a.sync.state().status === 'online', 'online');
    a.sync.goOffline();
    for (let i = 0; i < 3; i++) await a.records.add('Allergy', input('Allergy', { substance: `S${i}` }));
    await new Promise((r) => setTimeout(r, 3500));
    const errors = a.sync.state().errors;
    const keys = errors.map((e) => `${e.code}|${e.stream ?? ''}|${e.id ?? ''}|${e.message}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(a.sync.state().pendingWrites).toBe(3);
    a.sync.goOnline();
    await allPushed(a, 'pushed once online');
  });
});
