// The peer Hale is measured against: RxDB's own `replication-websocket` plugin, plaintext, no auth, with a
// server-side RxDB database on memory storage behind `startWebsocketServer` on a loopback port, and two
// client databases on memory storage. Same documents, same schema (minus at-rest encryption) and same
// replication batch size as Hale's side. Three RxDB collections are open at most (server + 2 clients).
import { createRxDatabase, type RxCollection, type RxDatabase, type RxJsonSchema } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { replicateWithWebsocketServer, startWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { RECORDS_SCHEMA, type DeviceRecord } from '@hale/client/advanced';
import { freePort } from '../support/process';
import {
  docsPerSecond,
  elapsed,
  emptyFigures,
  INSERT_CHUNK,
  makeRecords,
  percentile,
  timedPhase,
  trackArrivals,
  type RunOptions,
  type SideFigures,
} from './workload';

const { encrypted: _encrypted, ...PLAIN_SCHEMA } = RECORDS_SCHEMA;
const SCHEMA: RxJsonSchema<DeviceRecord> = PLAIN_SCHEMA;

type Db = RxDatabase<{ records: RxCollection<DeviceRecord> }>;
let dbCounter = 0;

const openDb = async (role: string): Promise<Db> => {
  const db = await createRxDatabase<{ records: RxCollection<DeviceRecord> }>({
    name: `rxbench-${role}-${++dbCounter}`,
    storage: getRxStorageMemory(),
    multiInstance: false,
    eventReduce: true,
  });
  await db.addCollections({ records: { schema: SCHEMA } });
  return db;
};

export const runRxdb = async (o: RunOptions): Promise<SideFigures> => {
  const notes: string[] = [];
  const result = emptyFigures(notes);
  const phase = (name: string, run: () => Promise<number>) => timedPhase('rxdb', name, notes, o, run);
  const dbs: Db[] = [];
  const cancels: Array<() => Promise<unknown>> = [];
  const serverDb = await openDb('server');
  dbs.push(serverDb);
  const port = await freePort();
  const wss = startWebsocketServer({ database: serverDb, host: '127.0.0.1', port });
  const url = `ws://127.0.0.1:${port}`;
  const writer = { accountId: 'RxdbBenchPatient000001', deviceId: 'RxdbBenchDevice0000001' };
  const replicate = async (db: Db, name: string) => {
    const state = await replicateWithWebsocketServer<DeviceRecord, unknown>({
      collection: db.records,
      url,
      replicationIdentifier: `rxbench-${name}`,
      batchSize: o.batchSize,
      live: true,
    });
    cancels.push(() => state.cancel());
    return state;
  };
  try {
    // Client 1 writes N documents before it replicates ("offline").
    const c1 = await openDb('client1');
    dbs.push(c1);
    const offlineDocs = makeRecords(o.n, writer);
    const w0 = performance.now();
    for (let i = 0; i < offlineDocs.length; i += INSERT_CHUNK) {
      o.guard.check();
      await c1.records.bulkInsert(offlineDocs.slice(i, i + INSERT_CHUNK));
    }
    o.log(`  rxdb offline writes (untimed): ${elapsed(w0).toFixed(0)} ms`);

    const atServer = trackArrivals(serverDb.records);
    result.ms.push = await phase('push', async () => {
      const t0 = performance.now();
      await replicate(c1, 'client1');
      await atServer.waitForCount(o.n, o.phaseTimeoutMs);
      return elapsed(t0);
    });
    atServer.stop();
    if (result.ms.push === null) return result;
    result.push = docsPerSecond(o.n, result.ms.push);
    const onServer = await serverDb.records.count().exec();
    if (onServer !== o.n) throw new Error(`server stored ${onServer} documents, expected ${o.n}`);

    // A fresh client 2 pulls everything.
    const c2 = await openDb('client2');
    dbs.push(c2);
    const arrivals = trackArrivals(c2.records);
    let insync: (() => Promise<unknown>) | null = null;
    result.ms.initialPull = await phase('initial pull', async () => {
      const t0 = performance.now();
      const r2 = await replicate(c2, 'client2');
      insync = () => r2.awaitInSync();
      await arrivals.waitForCount(o.n, o.phaseTimeoutMs);
      return elapsed(t0);
    });
    if (result.ms.initialPull === null || insync === null) return result;
    result.initialPull = docsPerSecond(o.n, result.ms.initialPull);
    await (insync as () => Promise<unknown>)();

    // Live: both clients replicating; client 1 writes N more in bulk inserts.
    const liveDocs = makeRecords(o.n, writer, o.n);
    result.ms.live = await phase('live', async () => {
      const t0 = performance.now();
      for (let i = 0; i < liveDocs.length; i += o.liveChunk) {
        await c1.records.bulkInsert(liveDocs.slice(i, i + o.liveChunk));
      }
      await arrivals.waitForCount(2 * o.n, o.phaseTimeoutMs);
      return elapsed(t0);
    });
    if (result.ms.live === null) return result;
    result.live = docsPerSecond(o.n, result.ms.live);

    const latencyDocs = makeRecords(o.latencySamples, writer, 3 * o.n);
    const samples: number[] = [];
    for (const doc of latencyDocs) {
      const t0 = performance.now();
      await c1.records.insert(doc);
      await arrivals.waitForId(doc.id, 30_000);
      samples.push(elapsed(t0));
    }
    result.latencyMs = {
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      samples: samples.length,
    };
    o.log(
      `  rxdb latency: p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
    );
    arrivals.stop();
    return result;
  } catch (error) {
    notes.push(`run did not finish: ${(error as Error).message}`);
    o.log(`  rxdb ${notes.at(-1)}`);
    return result;
  } finally {
    for (const cancel of cancels) await cancel().catch(() => undefined);
    for (const db of dbs.reverse()) await db.remove().catch(() => undefined);
    await wss.close().catch(() => undefined);
  }
};
