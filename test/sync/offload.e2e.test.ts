// The sync engine with its cryptography on a worker thread (`@hale/client/node`): initial-sync pages are
// prefetched and decoded there while RxDB stores the previous one, and live frames decode on arrival (a
// push sends what each write sealed once, docs/architecture.md "Seal once"). Whatever the overlap, every record arrives exactly once and in
// its latest version, and a tampered ciphertext is still quarantined, not applied.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { CryptoJob, CryptoOffload } from '@hale/client/advanced';
import { flipStoredCiphertext, useCryptoWorker, useServer } from '../support/fixture';
import { eventually, newDevice, openDevice, waitOnline, allPushed } from '../support/devices';
import { input } from '../support/records';

const worker = useCryptoWorker();

/** Counts the items of each kind of job the worker is given. */
const counting = (inner: CryptoOffload) => {
  const items: Record<string, number> = {};
  const offload: CryptoOffload = {
    run: (job: CryptoJob) => {
      items[job.op] = (items[job.op] ?? 0) + job.items.length;
      return inner.run(job);
    },
  };
  return { items, offload };
};

describe('sync with cryptography on a worker thread', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('pushes, pulls from scratch and follows live changes with every record exactly once', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const { items, offload } = counting(worker);
    const batchSize = 250;
    const a = await openDevice(t, patient, { offline: true, batchSize, cryptoOffload: offload });
    sessions.push(a);
    const ids: string[] = [];
    for (let i = 0; i < 1200; i++) {
      ids.push((await a.records.add('Allergy', input('Allergy', { substance: `s-${i}` }))).id);
    }
    // An update before the first push: only the latest version may arrive.
    await a.records.update('Allergy', ids[7]!, { substance: 'updated offline' });

    a.sync.goOnline();
    await eventually(() => a.sync.state().pendingWrites === 0, 'every write acknowledged', 60_000);

    const b = await openDevice(t, patient, { device: second, batchSize, cryptoOffload: offload });
    sessions.push(b);
    await eventually(
      async () => (await b.records.query('Allergy')).length === ids.length,
      'second device has every record',
      60_000,
    );
    expect(items['wireOpen'] ?? 0).toBeGreaterThanOrEqual(ids.length);
    const onB = await b.records.query('Allergy');
    expect(onB.map((r) => r.record.id).sort()).toEqual([...ids].sort());
    expect(onB.find((r) => r.record.id === ids[7])?.record.substance).toBe('updated offline');
    expect(b.sync.state().quarantined).toBe(0);
    // Progress reaches total once RxDB reports the pass stored, which a query may see a moment before.
    await waitOnline(b);
    expect(b.sync.state().initialSync).toEqual({ done: ids.length, total: ids.length });

    // Live: both online, a burst of writes on one device reaches the other.
    const live: string[] = [];
    for (let i = 0; i < 300; i++) {
      live.push((await a.records.add('Allergy', input('Allergy', { substance: `live-${i}` }))).id);
    }
    await eventually(
      async () => (await b.records.query('Allergy')).length === ids.length + live.length,
      'live writes arrive',
      60_000,
    );
    const all = (await b.records.query('Allergy')).map((r) => r.record.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual([...ids, ...live].sort());
  }, 120_000);

  it('quarantines a ciphertext altered in the server store among a page decoded on the worker', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const a = await openDevice(t, patient, { batchSize: 100, cryptoOffload: worker });
    sessions.push(a);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      ids.push((await a.records.add('Allergy', input('Allergy', { substance: `s-${i}` }))).id);
    }
    await allPushed(a, 'every write acknowledged');
    const bad = ids[31]!;
    flipStoredCiphertext(t, bad);

    const b = await openDevice(t, patient, { device: second, batchSize: 100, cryptoOffload: worker });
    sessions.push(b);
    await eventually(
      async () => (await b.records.query('Allergy')).length === ids.length - 1,
      'every intact record arrives',
    );
    await eventually(() => b.sync.state().quarantined === 1, 'the altered record is quarantined');
    expect(await b.records.get(bad)).toBeNull();
    expect(b.sync.quarantine()).toMatchObject([{ id: bad, reason: 'TAMPERED' }]);
  });
});
