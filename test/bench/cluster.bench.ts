// Cluster benchmark: Hale's sync server on SQLite (1 node), on the CouchDB store (1 node) and on the CouchDB
// store with 3 nodes, all over one pouchdb-server (LevelDB on disk) on loopback, against RxDB's own CouchDB
// replication to the same pouchdb-server as the peer. Run: npm run bench:cluster [-- --docs=3000]
// Rows per configuration: push (devices push ~1 KB sealed records in batches of 100; with 3 nodes one
// patient per node, pushing at once), pull (another device of each patient pulls its stream from 0 through
// another node), live latency p50/p99 (a write on one node → the `changes` frame on another), idle
// connections (heap per authenticated idle socket, the node's and the client's, one process), and for
// 3 nodes the revocation delay across nodes (revoke through node A → `accessChanged` on node C) p50/p99.
// The nodes run in this process (one event loop for clients and servers, which every figure includes);
// pouchdb-server in its own. The machine is shared (2 cores): run under `nice`, read figures as a range.
// The last line printed is one JSON object with every figure.
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createRxDatabase, type RxJsonSchema } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { replicateCouchDB } from 'rxdb/plugins/replication-couchdb';
import {
  encodeFrame,
  type AccessChangedFrame,
  type ClientFrame,
  type PushDoc,
  type ServerFrame,
} from '@hale/protocol';
import {
  addDevice,
  connect,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type Endpoint,
  type TestAccount,
  type TestDevice,
  type WsClient,
} from '@hale/sync-server/testing';
import { startCouchNode, startPouchServer, type PouchServer } from '@hale/sync-server/testing/couch';
import { cpuMeter } from './proc-cpu';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'] as const;
  }),
);
const DOCS = Number(args.get('docs') ?? 3000);
const BATCH = 100;
const LIVE_ROUNDS = 60;
const IDLE = 300;
const REVOCATIONS = 30;
const TEXT = 'x'.repeat(900);
/** Every client of the bench comes from 127.0.0.1: lift the per-address cap on connections. */
const CONFIG = { maxConnectionsPerAddress: 100_000 };

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const round = (n: number): number => Math.round(n * 10) / 10;

interface Node extends Endpoint {
  stop(): Promise<void>;
}

const isAccessChanged = (f: ServerFrame): f is AccessChangedFrame => f.t === 'accessChanged';

/**
 * A request answered within two minutes (the harness gives ten seconds, which a loaded shared machine can
 * pass): sent raw, its reply caught by its rid among the frames the client collects.
 */
const ask = async (client: WsClient, frame: ClientFrame & { rid: number }): Promise<ServerFrame> => {
  const reply = client.waitFor((f): f is ServerFrame => 'rid' in f && f.rid === frame.rid, 120_000);
  client.sendRaw(encodeFrame(frame));
  return reply;
};

const pushAll = async (client: WsClient, docs: PushDoc[]): Promise<void> => {
  for (let i = 0; i < docs.length; i += BATCH) {
    const rows = docs.slice(i, i + BATCH).map((doc) => ({ doc, assumedRev: null }));
    const answer = await ask(client, { t: 'push', rid: client.rid(), rows });
    if (answer.t !== 'pushed' || answer.results.some((r) => r.status !== 'ok'))
      throw new Error(`push refused: ${JSON.stringify(answer).slice(0, 300)}`);
  }
};

const pullAll = async (client: WsClient, stream: ReturnType<typeof streamOf>): Promise<number> => {
  let since = 0;
  let n = 0;
  for (;;) {
    const answer = await client.request({
      t: 'pull',
      rid: client.rid(),
      streams: [{ stream, since }],
      limit: 1000,
      maxBytes: 4 * 1024 * 1024,
    });
    if (answer.t !== 'pulled') throw new Error(`pull refused: ${JSON.stringify(answer).slice(0, 300)}`);
    n += answer.docs.length;
    const cp = answer.streams[0];
    if (cp === undefined || cp.done) return n;
    since = cp.checkpoint;
  }
};

interface Figures {
  pushDocsPerS: number;
  /** CPU per pushed batch: this process (clients and nodes), and pouchdb-server. */
  pushCpuBenchMs: number;
  pushCpuPouchMs: number;
  pullDocsPerS: number;
  liveP50Ms: number;
  liveP99Ms: number;
  idleHeapKiBPerConn: number;
  revocationP50Ms?: number;
  revocationP99Ms?: number;
}

const scenario = async (nodes: Node[], couchPort: number): Promise<Figures> => {
  const k = nodes.length;
  const phase = (what: string) => console.error(`  [${k} node(s)] ${what}`);
  const first = nodes[0];
  if (first === undefined) throw new Error('a node');
  const patients: Array<{ account: TestAccount; reader: TestDevice }> = [];
  for (let i = 0; i < k; i++) {
    const account = await registerAccount(first);
    patients.push({ account, reader: await addDevice(first, account) });
  }
  const docs = await Promise.all(
    patients.map(({ account }) =>
      Promise.all(
        Array.from({ length: Math.ceil(DOCS / k) }, (_, i) =>
          makeDoc(account, account.device, 'allergy', { i, TEXT }),
        ),
      ),
    ),
  );
  const writers = await Promise.all(patients.map((p, i) => connect(nodes[i] ?? first, p.account.device)));
  phase('push');
  const cpu = cpuMeter(couchPort);
  let t0 = performance.now();
  await Promise.all(writers.map((w, i) => pushAll(w, docs[i] ?? [])));
  const pushed = docs.flat().length;
  const pushDocsPerS = pushed / ((performance.now() - t0) / 1000);
  const pushCpu = cpu.perBatch(pushed / BATCH);

  phase('pull');
  const readers = await Promise.all(patients.map((p, i) => connect(nodes[(i + 1) % k] ?? first, p.reader)));
  t0 = performance.now();
  const pulled = (
    await Promise.all(
      readers.map((r, i) => pullAll(r, streamOf(patients[i]?.account.accountId ?? '', 'allergy'))),
    )
  ).reduce((a, b) => a + b, 0);
  const pullDocsPerS = pulled / ((performance.now() - t0) / 1000);

  // Live: a write through node 0, its `changes` frame on node 1 (the same node with one).
  const p0 = patients[0];
  const writer = writers[0];
  const follower = readers[0];
  if (p0 === undefined || writer === undefined || follower === undefined) throw new Error('a patient');
  const stream = streamOf(p0.account.accountId, 'allergy');
  const sub = await follower.request({
    t: 'subscribe',
    rid: follower.rid(),
    streams: [{ stream, since: Math.ceil(DOCS / k) }],
  });
  if (sub.t !== 'ok') throw new Error(`subscribe refused: ${JSON.stringify(sub)}`);
  phase('live');
  const latencies: number[] = [];
  for (let i = 0; i < LIVE_ROUNDS; i++) {
    const doc = await makeDoc(p0.account, p0.account.device, 'allergy', { live: i, TEXT });
    const start = performance.now();
    const seen = follower.waitFor(
      (f): f is ServerFrame => f.t === 'changes' && f.docs.some((d) => d.id === doc.id),
      60_000,
    );
    await ask(writer, { t: 'push', rid: writer.rid(), rows: [{ doc, assumedRev: null }] });
    await seen;
    latencies.push(performance.now() - start);
    follower.unsolicited.length = 0;
  }

  phase('idle');
  // Idle: authenticated sockets that do nothing, held by the last node.
  const idleNode = nodes[k - 1] ?? first;
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const idle: WsClient[] = [];
  for (let i = 0; i < IDLE; i++) idle.push(await connect(idleNode, p0.account.device));
  global.gc?.();
  const idleHeapKiBPerConn = (process.memoryUsage().heapUsed - before) / IDLE / 1024;
  for (const c of idle) c.ws.terminate();

  const figures: Figures = {
    pushDocsPerS: round(pushDocsPerS),
    pushCpuBenchMs: pushCpu.bench,
    pushCpuPouchMs: pushCpu.pouch,
    pullDocsPerS: round(pullDocsPerS),
    liveP50Ms: round(pct(latencies, 50)),
    liveP99Ms: round(pct(latencies, 99)),
    idleHeapKiBPerConn: round(idleHeapKiBPerConn),
  };

  if (k > 1) {
    phase('revocations');
    // Revocation through node A, its refusal on node C.
    const provider = await registerAccount(first, 'provider');
    const a = writer;
    const c = await connect(nodes[k - 1] ?? first, provider.device);
    const delays: number[] = [];
    for (let i = 0; i < REVOCATIONS; i++) {
      const grant = await makeGrant(p0.account, provider, [{ type: 'allergy', access: 'read' }]);
      await ask(a, { t: 'grant', rid: a.rid(), grant });
      await c.waitFor(
        (f): f is AccessChangedFrame => isAccessChanged(f) && f.streams.some((s) => s.stream === stream),
        60_000,
      );
      const revocation = await makeRevocation(p0.account, grant.grant.grantId);
      const start = performance.now();
      const ended = c.waitFor(
        (f): f is AccessChangedFrame => isAccessChanged(f) && f.removed.some((r) => r.stream === stream),
        60_000,
      );
      await ask(a, { t: 'revoke', rid: a.rid(), revocation });
      await ended;
      delays.push(performance.now() - start);
      c.unsolicited.length = 0;
    }
    c.ws.terminate();
    figures.revocationP50Ms = round(pct(delays, 50));
    figures.revocationP99Ms = round(pct(delays, 99));
  }
  for (const w of [...writers, ...readers]) w.ws.terminate();
  return figures;
};

interface Row {
  id: string;
  text: string;
}
const schema: RxJsonSchema<Row> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 64 }, text: { type: 'string' } },
  required: ['id', 'text'],
};

/** RxDB's own CouchDB replication, memory storage, the same number of ~1 KB documents, to the same server. */
interface PeerFigures {
  pushDocsPerS: number;
  pullDocsPerS: number;
  pushCpuBenchMs: number;
  pushCpuPouchMs: number;
}

const rxdbPeer = async (couch: PouchServer): Promise<PeerFigures> => {
  const name = `rxpeer-${randomUUID().slice(0, 8)}`;
  await fetch(`${couch.url}/${name}`, { method: 'PUT' });
  const open = async (dbName: string) => {
    const db = await createRxDatabase({ name: dbName, storage: getRxStorageMemory() });
    await db.addCollections({ rows: { schema } });
    return db;
  };
  const replicate = (db: Awaited<ReturnType<typeof open>>) => {
    const rows = db.collections['rows'];
    if (rows === undefined) throw new Error('collection');
    return replicateCouchDB<Row>({
      replicationIdentifier: `bench-${name}`,
      collection: rows,
      url: `${couch.url}/${name}/`,
      live: false,
      pull: { batchSize: BATCH },
      push: { batchSize: BATCH },
    });
  };
  const source = await open(`src${name}`);
  await source.collections['rows']?.bulkInsert(
    Array.from({ length: DOCS }, (_, i) => ({ id: `d${i}`, text: `${i}${TEXT}` })),
  );
  const cpu = cpuMeter(couch.port);
  let t0 = performance.now();
  const push = replicate(source);
  await push.awaitInitialReplication();
  const pushDocsPerS = DOCS / ((performance.now() - t0) / 1000);
  const pushCpu = cpu.perBatch(DOCS / BATCH);
  await push.cancel();
  const target = await open(`dst${name}`);
  t0 = performance.now();
  const pull = replicate(target);
  await pull.awaitInitialReplication();
  const pullDocsPerS = DOCS / ((performance.now() - t0) / 1000);
  const count = await target.collections['rows']?.count().exec();
  if (count !== DOCS) throw new Error(`the peer pulled ${count} of ${DOCS}`);
  await pull.cancel();
  await source.remove();
  await target.remove();
  return {
    pushDocsPerS: round(pushDocsPerS),
    pullDocsPerS: round(pullDocsPerS),
    pushCpuBenchMs: pushCpu.bench,
    pushCpuPouchMs: pushCpu.pouch,
  };
};

const main = async (): Promise<void> => {
  console.log(
    `cluster bench: ${DOCS} docs of ~1 KB, batches of ${BATCH}; ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (shared machine)`,
  );
  const couch = await startPouchServer();
  const results: Record<string, Figures> = {};
  try {
    // The peer before and after Hale's runs: the machine is shared, and its load moves during a run.
    const peerBefore = await rxdbPeer(couch);
    const sqlite = await startServer({ realClock: true, config: CONFIG });
    results['sqlite, 1 node'] = await scenario([sqlite], couch.port);
    await sqlite.stop();

    const one = await startCouchNode(couch.url, `bench1-${randomUUID().slice(0, 8)}`, { config: CONFIG });
    results['couchdb, 1 node'] = await scenario([one], couch.port);
    await one.stop();

    const db = `bench3-${randomUUID().slice(0, 8)}`;
    const three: Node[] = [];
    for (let i = 0; i < 3; i++) three.push(await startCouchNode(couch.url, db, { config: CONFIG }));
    results['couchdb, 3 nodes'] = await scenario(three, couch.port);
    for (const n of three) await n.stop();

    const peerAfter = await rxdbPeer(couch);
    const mean = (k: keyof PeerFigures): number => round((peerBefore[k] + peerAfter[k]) / 2);
    const peer: PeerFigures = {
      pushDocsPerS: mean('pushDocsPerS'),
      pullDocsPerS: mean('pullDocsPerS'),
      pushCpuBenchMs: mean('pushCpuBenchMs'),
      pushCpuPouchMs: mean('pushCpuPouchMs'),
    };
    console.table(results);
    console.log(
      `RxDB CouchDB replication (peer; before ${JSON.stringify(peerBefore)}, after ${JSON.stringify(peerAfter)}): push ${peer.pushDocsPerS} docs/s, pull ${peer.pullDocsPerS} docs/s (mean); CPU per pushed batch: RxDB ${peer.pushCpuBenchMs} ms, pouchdb-server ${peer.pushCpuPouchMs} ms`,
    );
    for (const [name, f] of Object.entries(results)) {
      console.log(
        `${name}: push ×${(f.pushDocsPerS / peer.pushDocsPerS).toFixed(2)} of the peer, pull ×${(f.pullDocsPerS / peer.pullDocsPerS).toFixed(2)}`,
      );
    }
    console.log(
      JSON.stringify({ docs: DOCS, batch: BATCH, load: loadavg(), results, peer, peerBefore, peerAfter }),
    );
  } finally {
    await couch.stop();
  }
};

await main();
process.exit(0);
