// Hale's side of the sync benchmark: patient device → real sync server (Fastify on loopback, SQLite file in
// a temp dir) → provider device holding read consent to the allergy stream. Both devices run the real
// client (sealing, revision tags, at-rest encryption, consent-checked subscriptions) over RxDB memory
// storage and real WebSockets. Two RxDB collections are open at most (one per device).
import { registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { removeDeviceDb, type DeviceSession } from '@hale/client/advanced';
import { createNodeCryptoOffload } from '@hale/client/node';
import { openDevice } from '../support/devices';
import {
  allergyRecord,
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

/** Resolves when the server's committed head of `stream` reaches `n` (commit notifications, no polling). */
const waitForHead = (t: TestServer, stream: string, n: number, timeoutMs: number): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    let stop: () => void = () => undefined;
    const timer = setTimeout(() => {
      stop();
      void t.store.docs.streamHeads([stream]).then(([h]) => {
        reject(new Error(`timed out after ${timeoutMs} ms with the server at ${h?.head ?? 0} of ${n}`));
      });
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      stop();
      resolve();
    };
    stop = t.store.onCommitted((heads) => {
      if (heads.some((h) => h.stream === stream && h.head >= n)) done();
    });
    void t.store.docs.streamHeads([stream]).then(([h]) => {
      if ((h?.head ?? 0) >= n) done();
    });
  });

const waitForStatus = async (s: DeviceSession, status: string, timeoutMs: number): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (s.sync.state().status !== status) {
    if (Date.now() > until) {
      throw new Error(`${s.account.role} device stayed ${s.sync.state().status}, never ${status}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
};

export const runHale = async (o: RunOptions): Promise<SideFigures> => {
  const notes: string[] = [];
  const result = emptyFigures(notes);
  const sessions: DeviceSession[] = [];
  const phase = (name: string, run: () => Promise<number>) => timedPhase('hale', name, notes, o, run);
  const t = await startServer({ realClock: true });
  // One worker thread for the at-rest cryptography of both devices, as an app would run one Web Worker.
  const offload = createNodeCryptoOffload({ secretbox: o.secretbox, hashes: o.hashes ?? 'node' });
  try {
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const writer = { accountId: patient.accountId, deviceId: patient.device.deviceId };
    const stream = `${patient.accountId}/allergy`;

    // Device 1 writes N records while offline: the stored shape of records.add, validated by @hale/model,
    // inserted in bulk (the record API writes one at a time).
    const a = await openDevice(t, patient, {
      offline: true,
      batchSize: o.batchSize,
      cryptoOffload: offload,
    });
    sessions.push(a);
    try {
      const offlineDocs = makeRecords(o.n, writer);
      // Not a timed phase (nor is the peer's writing), logged since seal once moves the seal here.
      const w0 = performance.now();
      for (let i = 0; i < offlineDocs.length; i += INSERT_CHUNK) {
        o.guard.check();
        await a.db.records.bulkInsert(offlineDocs.slice(i, i + INSERT_CHUNK));
      }
      o.log(`  hale offline writes (untimed): ${elapsed(w0).toFixed(0)} ms`);
    } catch (error) {
      notes.push(`writing ${o.n} records offline did not finish: ${(error as Error).message}`);
      o.log(`  hale ${notes.at(-1)}`);
      return result;
    }

    result.ms.push = await phase('push', async () => {
      const reached = waitForHead(t, stream, o.n, o.phaseTimeoutMs);
      const t0 = performance.now();
      a.sync.goOnline();
      await reached;
      return elapsed(t0);
    });
    if (result.ms.push === null) return result;
    result.push = docsPerSecond(o.n, result.ms.push);

    await a.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'allergy', access: 'read' }],
      durationMs: 24 * 3600_000,
      purpose: 'sync benchmark',
    });

    // A fresh provider device pulls the whole stream.
    const b = await openDevice(t, provider, {
      offline: true,
      batchSize: o.batchSize,
      cryptoOffload: offload,
    });
    sessions.push(b);
    const arrivals = trackArrivals(b.db.records);
    result.ms.initialPull = await phase('initial pull', async () => {
      const t0 = performance.now();
      b.sync.goOnline();
      await arrivals.waitForCount(o.n, o.phaseTimeoutMs);
      return elapsed(t0);
    });
    if (result.ms.initialPull === null) return result;
    result.initialPull = docsPerSecond(o.n, result.ms.initialPull);
    const stored = await b.db.records.count({ selector: { stream } }).exec();
    if (stored !== o.n) throw new Error(`provider device stored ${stored} records, expected ${o.n}`);

    // Live: both devices online and in sync; device 1 writes N more in bulk inserts.
    await waitForStatus(b, 'online', 30_000);
    await waitForStatus(a, 'online', 30_000);
    const liveDocs = makeRecords(o.n, writer, o.n);
    result.ms.live = await phase('live', async () => {
      const t0 = performance.now();
      for (let i = 0; i < liveDocs.length; i += o.liveChunk) {
        await a.db.records.bulkInsert(liveDocs.slice(i, i + o.liveChunk));
      }
      await arrivals.waitForCount(2 * o.n, o.phaseTimeoutMs);
      return elapsed(t0);
    });
    if (result.ms.live === null) return result;
    result.live = docsPerSecond(o.n, result.ms.live);

    // Latency: one write at a time through the record API, each awaited on device 2.
    const at = new Date().toISOString();
    const samples: number[] = [];
    for (let i = 0; i < o.latencySamples; i++) {
      const {
        id: _id,
        patientId: _p,
        createdAt: _c,
        updatedAt: _u,
        ...input
      } = allergyRecord(3 * o.n + i, patient.accountId, at);
      const t0 = performance.now();
      const added = await a.records.add('Allergy', input);
      await arrivals.waitForId(added.id, 30_000);
      samples.push(elapsed(t0));
    }
    result.latencyMs = {
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      samples: samples.length,
    };
    o.log(
      `  hale latency: p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
    );
    arrivals.stop();
    return result;
  } catch (error) {
    notes.push(`run did not finish: ${(error as Error).message}`);
    o.log(`  hale ${notes.at(-1)}`);
    return result;
  } finally {
    // Removing (not just closing) frees the memory storage's copy of every document before the next run.
    for (const s of sessions) {
      await s.close().catch(() => undefined);
      await removeDeviceDb({ name: s.db.name, storage: getRxStorageMemory() }).catch(() => undefined);
    }
    await t.stop();
    await offload.close();
  }
};
