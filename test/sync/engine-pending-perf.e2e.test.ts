import { afterAll, describe, expect, it } from 'vitest';
import { createNodeCryptoOffload } from '@hale/client/node';
import type { DeviceSession } from '@hale/client/advanced';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { onCryptoWorkerProject } from '../support/test-offload';

// The pending list is persisted whole, so persisting it for every local write made a burst of N writes
// cost O(N²) (4000 offline adds: 61 s instead of 1.4 s). Not a timed test: it counts the persisted writes
// of the list, which must not grow with the number of local writes in a burst.
describe('engine: persisting pending writes', () => {
  const server = useServer({ realClock: true });
  const N = 300;
  // A burst is what runs without a macrotask between writes. In the crypto-worker project the devices
  // run on a worker with an app's default `minBatch` (8), so a single write's seal stays in this thread,
  // as in an app, and a burst is one there too. With every seal a round trip to the worker (the project's
  // `minBatch` 1), each awaited write let a save start, and how many folded followed the worker's speed
  // (108 saves for 300 writes on a loaded machine).
  const mostWrites = 2;
  const offload = onCryptoWorkerProject ? createNodeCryptoOffload() : undefined;
  afterAll(() => offload?.close());

  /** Counts the writes of the persisted pending list (device metadata is RxDB local documents). */
  const countPendingWrites = (s: DeviceSession) => {
    const counter = { writes: 0 };
    const db = s.db as unknown as { upsertLocal: (key: string, value: unknown) => Promise<unknown> };
    const upsert = db.upsertLocal.bind(db);
    db.upsertLocal = (key, value) => {
      if (key === 'meta-pending') counter.writes++;
      return upsert(key, value);
    };
    return counter;
  };
  const persisted = async (s: DeviceSession) =>
    ((await s.db.getLocal<{ value: Array<{ id: string; rv: number }> }>('meta-pending'))?.toJSON().data
      .value ?? []) as Array<{ id: string; rv: number }>;

  it('a burst of local writes persists the pending list once, with the numbers written', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const dbName = `pending-burst-${Date.now()}`;
    const p = await openDevice(t, patient, { dbName, ...(offload ? { cryptoOffload: offload } : {}) });
    server.sessions.push(p);
    await waitOnline(p);
    p.sync.goOffline();
    const counter = countPendingWrites(p);

    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push((await p.records.add('Allergy', input('Allergy'))).id);
    expect(p.sync.state().pendingWrites).toBe(N);
    await eventually(async () => (await persisted(p)).length === N, 'the list is persisted');
    expect(counter.writes).toBeLessThanOrEqual(mostWrites);

    const before = counter.writes;
    for (const id of ids) await p.records.update('Allergy', id, { substance: 'Amoxicillin' });
    await eventually(
      async () => (await persisted(p)).every((e) => e.rv === 2),
      'the new numbers are persisted',
    );
    expect(counter.writes - before).toBeLessThanOrEqual(mostWrites);

    // Writes noted in the last moment before closing are persisted too.
    const last = await p.records.add('Allergy', input('Allergy'));
    await p.close();
    server.sessions.splice(server.sessions.indexOf(p), 1);
    const again = await openDevice(t, patient, {
      dbName,
      offline: true,
      ...(offload ? { cryptoOffload: offload } : {}),
    });
    server.sessions.push(again);
    expect(again.sync.state().pendingWrites).toBe(N + 1);
    expect((await persisted(again)).find((e) => e.id === last.id)).toEqual({ id: last.id, rv: 1 });

    // Acknowledged: the persisted list is empty once the push handler has returned.
    again.sync.goOnline();
    await allPushed(again);
    await eventually(async () => (await persisted(again)).length === 0, 'the persisted list is empty');
  });
});
