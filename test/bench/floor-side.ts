// The device-side floor of the sync benchmark: RxDB's own replication protocol on one device with no
// network, no wire cryptography and no server (a push handler that accepts every batch at once, a pull
// handler that hands out documents already in memory), on the same memory storage and documents as the
// other sides. Run twice: on plain storage (what RxDB's own client does for any replication), and
// through Hale's at-rest layer with its crypto worker (what every Hale device does before anything
// reaches the wire). Set beside the peer's whole path from the same run, it shows how much of the gap
// the device's store takes on its own. Two RxDB collections are open at most.
import { createRxDatabase, type RxCollection, type RxDatabase } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { replicateRxCollection } from 'rxdb/plugins/replication';
import { openDeviceDb, RECORDS_SCHEMA, removeDeviceDb, type DeviceRecord } from '@hale/client/advanced';
import { createNodeCryptoOffload, type NodeCryptoOffload } from '@hale/client/node';
import { elapsed, INSERT_CHUNK, makeRecords, timedPhase, trackArrivals, type RunOptions } from './workload';

export interface FloorFigures {
  /** Wall time, ms, or null when the phase did not finish. */
  push: number | null;
  initialPull: number | null;
  notes: string[];
}

type Records = RxCollection<DeviceRecord>;
interface Store {
  readonly records: Records;
  readonly remove: () => Promise<void>;
}

const { encrypted: _encrypted, ...PLAIN_SCHEMA } = RECORDS_SCHEMA;
let counter = 0;
// Only the bench's own bytes: these stores hold generated records and are removed after each run.
const BENCH_AT_REST_KEY = new Uint8Array(32).fill(7);

const openStore = async (atRest: NodeCryptoOffload | null, role: string): Promise<Store> => {
  const name = `floor-${role}-${++counter}`;
  if (atRest !== null) {
    const db = await openDeviceDb({
      name,
      storage: getRxStorageMemory(),
      atRestKey: BENCH_AT_REST_KEY,
      cryptoOffload: atRest,
    });
    return {
      records: db.records,
      remove: async () => {
        await db.close();
        await removeDeviceDb({ name, storage: getRxStorageMemory() });
      },
    };
  }
  const db: RxDatabase<{ records: Records }> = await createRxDatabase({
    name,
    storage: getRxStorageMemory(),
    multiInstance: false,
    eventReduce: true,
  });
  await db.addCollections({ records: { schema: PLAIN_SCHEMA } });
  return { records: db.records, remove: () => db.remove().then(() => undefined) };
};

/** Runs the floor on plain storage (`atRest` false) or through Hale's at-rest layer and a crypto worker. */
export const runFloor = async (o: RunOptions, atRest: boolean): Promise<FloorFigures> => {
  const side = atRest ? 'floor, at rest' : 'floor, plain';
  const notes: string[] = [];
  const result: FloorFigures = { push: null, initialPull: null, notes };
  const offload = atRest
    ? createNodeCryptoOffload({ secretbox: o.secretbox, hashes: o.hashes ?? 'node' })
    : null;
  const stores: Store[] = [];
  const cancels: Array<() => Promise<unknown>> = [];
  const phase = (name: string, run: () => Promise<number>) => timedPhase(side, name, notes, o, run);
  try {
    const writer = { accountId: 'FloorBenchPatient00001', deviceId: 'FloorBenchDevice000001' };
    const docs = makeRecords(o.n, writer);
    const a = await openStore(offload, 'push');
    stores.push(a);
    for (let i = 0; i < docs.length; i += INSERT_CHUNK) {
      o.guard.check();
      await a.records.bulkInsert(docs.slice(i, i + INSERT_CHUNK));
    }
    result.push = await phase('push', async () => {
      let accepted = 0;
      let done: () => void = () => undefined;
      const all = new Promise<void>((resolve) => (done = resolve));
      const t0 = performance.now();
      const state = replicateRxCollection<DeviceRecord, unknown>({
        collection: a.records,
        replicationIdentifier: 'floor-push',
        live: true,
        push: {
          batchSize: o.batchSize,
          handler: (rows) => {
            accepted += rows.length;
            if (accepted >= o.n) done();
            return Promise.resolve([]);
          },
        },
      });
      cancels.push(() => state.cancel());
      await all;
      return elapsed(t0);
    });

    const served = docs.map((d) => ({ ...d, _deleted: false }));
    const b = await openStore(offload, 'pull');
    stores.push(b);
    const arrivals = trackArrivals(b.records);
    result.initialPull = await phase('initial pull', async () => {
      const t0 = performance.now();
      const state = replicateRxCollection<DeviceRecord, { n: number }>({
        collection: b.records,
        replicationIdentifier: 'floor-pull',
        live: true,
        pull: {
          batchSize: o.batchSize,
          handler: (checkpoint, batchSize) => {
            const from = checkpoint?.n ?? 0;
            const documents = served.slice(from, from + batchSize);
            return Promise.resolve({ documents, checkpoint: { n: from + documents.length } });
          },
        },
      });
      cancels.push(() => state.cancel());
      await arrivals.waitForCount(o.n, o.phaseTimeoutMs);
      return elapsed(t0);
    });
    arrivals.stop();
    return result;
  } catch (error) {
    notes.push(`run did not finish: ${(error as Error).message}`);
    o.log(`  ${side} ${notes.at(-1)}`);
    return result;
  } finally {
    for (const cancel of cancels) await cancel().catch(() => undefined);
    for (const s of stores) await s.remove().catch(() => undefined);
    await offload?.close();
  }
};
