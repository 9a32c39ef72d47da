/**
 * RxDB's upstream on a restarted device store (Dexie over IndexedDB): at every start and every RESYNC it
 * asks the store what changed since its checkpoint, and holds every incoming change until it is done.
 * A device with nothing to push answers that without reading its records; one with an unsent write
 * still pushes it.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { IDBCursor } from 'fake-indexeddb';
import { filter, firstValueFrom, Subject } from 'rxjs';
import type { RxReplicationPullStreamItem, WithDeleted } from 'rxdb';
import { replicateRxCollection } from 'rxdb/plugins/replication';
import { closeDeviceDb, openDeviceDb, type DeviceDb, type DeviceRecord } from '../../store/device-db';
import { dexieStorage, record } from '../../store/changed-since.test-util';

const SERVED = 1_500;
const cursors = (IDBCursor as unknown as { prototype: { continue(key?: unknown): void } }).prototype;
const served: WithDeleted<DeviceRecord>[] = Array.from({ length: SERVED }, (_, i) => ({
  ...record(i),
  _deleted: false,
}));

const dbs: DeviceDb[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const db of dbs.splice(0)) await closeDeviceDb(db);
});

const openStore = async (name: string): Promise<DeviceDb> => {
  const db = await openDeviceDb({ name, storage: dexieStorage(), atRestKey: new Uint8Array(32).fill(7) });
  dbs.push(db);
  return db;
};
const close = async (db: DeviceDb): Promise<void> => {
  dbs.splice(dbs.indexOf(db), 1);
  await closeDeviceDb(db);
};

/** A live replication of `db` pulling `served` in pages of 500; what it pushes goes to `pushed`. */
const replicate = (db: DeviceDb, pushed: string[]) => {
  const stream$ = new Subject<RxReplicationPullStreamItem<DeviceRecord, { n: number }>>();
  const r = replicateRxCollection<DeviceRecord, { n: number }>({
    collection: db.records,
    replicationIdentifier: 'upstream-start',
    live: true,
    waitForLeadership: false,
    pull: {
      batchSize: 500,
      handler: (checkpoint, size) => {
        const from = checkpoint?.n ?? 0;
        const documents = served.slice(from, from + size);
        return Promise.resolve({ documents, checkpoint: { n: from + documents.length } });
      },
      stream$,
    },
    push: {
      batchSize: 500,
      handler: (rows) => {
        pushed.push(...rows.map((r) => r.newDocumentState.id));
        return Promise.resolve([]);
      },
    },
  });
  const upIdle = () =>
    firstValueFrom(r.internalReplicationState!.events.active.up.pipe(filter((active) => !active)));
  return { r, stream$, upIdle };
};

it('a restarted device with nothing to push reads none of its records to find that out, at start and at RESYNC; an unsent write still goes', async () => {
  const name = `upstream-start-${Math.random().toString(36).slice(2)}`;
  const pushed: string[] = [];
  const first = await openStore(name);
  const one = replicate(first, pushed);
  await one.r.awaitInitialReplication();
  await one.r.awaitInSync();
  expect(await first.records.count().exec()).toBe(SERVED);
  // The pull's pages were stored in few writes, each stamping its documents with one `_meta.lwt`.
  const stamps = new Set((await first.records.find().exec()).map((d) => d.toJSON(true)._meta.lwt));
  expect(stamps.size).toBeLessThan(5);
  expect(pushed).toEqual([]);
  await one.r.cancel();
  await close(first);

  // Nothing to push: the upstream's start and a RESYNC read no record.
  const second = await openStore(name);
  const steps = vi.spyOn(cursors, 'continue');
  const two = replicate(second, pushed);
  await two.r.awaitInitialReplication();
  await two.upIdle();
  expect(steps.mock.calls.length).toBe(0);
  two.stream$.next('RESYNC');
  await new Promise((resolve) => setTimeout(resolve, 0));
  await two.upIdle();
  await two.r.awaitInSync();
  expect(steps.mock.calls.length).toBe(0);
  expect(pushed).toEqual([]);
  await two.r.cancel();
  await close(second);

  // A write made while no replication ran (offline, the app closed) is pushed at the next start.
  const offline = await openStore(name);
  await offline.records.insert(record(SERVED + 1, 'written offline'));
  await close(offline);
  const third = await openStore(name);
  steps.mockClear();
  const three = replicate(third, pushed);
  await three.r.awaitInitialReplication();
  await three.upIdle();
  await three.r.awaitInSync();
  expect(pushed).toEqual([record(SERVED + 1).id]);
  // Only that write was read (and the meta's lookups of its assumed master state).
  expect(steps.mock.calls.length).toBeLessThan(5);
  await three.r.cancel();
}, 120_000);
