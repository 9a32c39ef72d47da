// Seal once: what a push and an initial pull cost per record on the account's own devices, counted rather
// than timed (the machine may be shared): the crypto worker's items by kind, this thread's secretbox seals
// and opens (at-rest envelopes and stream versions alike), and the process's CPU time (both threads) until
// no crypto is counted for 300 ms (wall time: until the phase's condition).
// Device 1 writes N records offline, pushes them; the account's second device pulls them.
// Run: node --import tsx test/bench/seal-once-counts.ts [--n=2000]
//   [--hashes=node|noble] (SHA-256 / HMAC-SHA256 on both threads: node:crypto's, as nodePlatform, by default)
import { addDevice, registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import { createNodeCryptoOffload } from '@hale/client/node';
import type { CryptoOffload } from '@hale/client';
import { loadSodiumSecretbox, useHashes, useSecretbox, type FastSecretbox } from '@hale/crypto';
import { createNodeHashes } from '@hale/crypto/node';
import { allPushed, openDevice } from '../support/devices';
import { INSERT_CHUNK, makeRecords, trackArrivals } from './workload';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'] as const;
  }),
);
const n = Number(args.get('n') ?? 2000);
const hashes = args.get('hashes') ?? 'node';
if (hashes !== 'node' && hashes !== 'noble') throw new Error('--hashes must be node or noble');

const counts = new Map<string, number>();
const add = (what: string, k: number): void => void counts.set(what, (counts.get(what) ?? 0) + k);

const counting = (inner: FastSecretbox): FastSecretbox => ({
  name: `${inner.name} (counted)`,
  sealInto(out, message, nonce, key) {
    add('main secretbox seal', 1);
    inner.sealInto(out, message, nonce, key);
  },
  open(box, nonce, key) {
    add('main secretbox open', 1);
    return inner.open(box, nonce, key);
  },
});

const waitFor = async (what: string, done: () => boolean, timeoutMs = 600_000): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Waits until no crypto is counted for 300 ms (RxDB writes its metadata after a batch is stored). */
const settle = async (): Promise<void> => {
  const total = (): number => [...counts.values()].reduce((a, b) => a + b, 0);
  for (let before = -1; before !== total();) {
    before = total();
    await new Promise((r) => setTimeout(r, 300));
  }
};

const phase = async (name: string, run: () => Promise<void>): Promise<void> => {
  counts.clear();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  await settle();
  const cpu = process.cpuUsage(cpu0);
  const perRecord = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${(v / n).toFixed(2)}`)
    .join(', ');
  console.log(
    `${name}: ${ms.toFixed(0)} ms wall, CPU ${((cpu.user + cpu.system) / n).toFixed(0)} µs/record (user+system, all threads); per record: ${perRecord}`,
  );
};

const main = async (): Promise<void> => {
  const sodium = await loadSodiumSecretbox();
  if (sodium === null) throw new Error('libsodium did not load');
  const t: TestServer = await startServer({ realClock: true });
  if (hashes === 'node') useHashes(createNodeHashes());
  const worker = createNodeCryptoOffload({ secretbox: 'libsodium', hashes });
  const offload: CryptoOffload = {
    run(job) {
      add(`worker ${job.op}`, job.items.length);
      return worker.run(job);
    },
  };
  try {
    const patient = await registerAccount(t);
    const second = await addDevice(t, patient);
    const writer = { accountId: patient.accountId, deviceId: patient.device.deviceId };
    const a = await openDevice(t, patient, { offline: true, cryptoOffload: offload });
    const docs = makeRecords(n, writer);
    for (let i = 0; i < docs.length; i += INSERT_CHUNK)
      await a.db.records.bulkInsert(docs.slice(i, i + INSERT_CHUNK));
    const b = await openDevice(t, patient, {
      device: second,
      offline: true,
      cryptoOffload: offload,
    });
    useSecretbox(counting(sodium));
    console.log(
      `n ${n}; hashes ${hashes}; load average ${(await import('node:os'))
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ')}`,
    );
    await phase('push', async () => {
      a.sync.goOnline();
      await allPushed(a);
      await waitFor('device 1 online', () => a.sync.state().status === 'online');
    });
    const arrivals = trackArrivals(b.db.records);
    await phase('initial pull (own second device)', async () => {
      b.sync.goOnline();
      await arrivals.waitForCount(n, 600_000);
      await waitFor('device 2 online', () => b.sync.state().status === 'online');
    });
    await Promise.all([a.close(), b.close()]);
  } finally {
    await worker.close();
    await t.stop();
  }
};

await main();
