// A node SIGKILLed in the middle of a push, 20 times, at points drawn from a printed seed (HALE_KILL_SEED
// replays a run): three node processes over one pouchdb-server take turns, each killed while a push it
// received is in flight and started again on its port. Afterwards every write a device was told was
// stored is on the store exactly once, the stream's seqs are gap-free, a push sent again of what was not
// acknowledged answers `ok` or a conflict with the very version sent (stored before the kill, never
// twice), and a second device on another node receives every record.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushDoc, PushResult } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeDoc,
  registerAccount,
  streamOf,
  type WsClient,
} from '@hale/sync-server/testing';
import { openCouchStore } from '@hale/sync-server';
import {
  spawnCouchNode,
  startPouchServer,
  type NodeProcess,
  type PouchServer,
} from '@hale/sync-server/testing/couch';
import { freePort } from '../support/process';

const KILLS = 20;
const seed = Number(process.env['HALE_KILL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
const random = (() => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
})();

let couch: PouchServer;
beforeAll(async () => {
  couch = await startPouchServer();
}, 30_000);
afterAll(async () => {
  await couch.stop();
});

const pushRows = (client: WsClient, docs: PushDoc[], assumed: (d: PushDoc) => string | null = () => null) =>
  client.request({
    t: 'push',
    rid: client.rid(),
    rows: docs.map((doc) => ({ doc, assumedRev: assumed(doc) })),
  });

describe('nodes killed mid-push', () => {
  it(`loses no acknowledged write and duplicates none (seed ${seed})`, { timeout: 180_000 }, async () => {
    console.log(`node-kill seed ${seed} (HALE_KILL_SEED=${seed} replays it)`);
    const database = `kill-${randomUUID()}`;
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const slots: Array<Promise<NodeProcess>> = ports.map((port) => spawnCouchNode(couch.url, database, port));
    const running = new Set<NodeProcess>();
    try {
      const first = await slots[0];
      if (first === undefined) throw new Error('a node');
      const patient = await registerAccount(first);
      const reader = await addDevice(first, patient);
      const stream = streamOf(patient.accountId, 'allergy');
      const sent = new Map<string, PushDoc>();
      const acked = new Set<string>();
      for (let k = 0; k < KILLS; k++) {
        const slot = k % 3;
        const node = await slots[slot];
        if (node === undefined) throw new Error('a node');
        running.add(node);
        const client = await connect(node, patient.device);
        const docs = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            makeDoc(patient, patient.device, 'allergy', { title: `k${k}-${i}` }),
          ),
        );
        for (const d of docs) sent.set(d.id, d);
        // Before, during and after the push's commit: a push of 8 records takes 0.1-1 s here (more while nodes start beside it).
        const delayMs = Math.floor(random() * 1200);
        const answer = pushRows(client, docs).catch(() => null);
        await new Promise((r) => setTimeout(r, delayMs));
        const killed = node.kill('SIGKILL');
        const reply = await Promise.race([answer, client.closed.then(() => null)]);
        if (reply?.t === 'pushed') {
          for (const r of reply.results) if (r.status === 'ok') acked.add(r.id);
        }
        await killed;
        console.log(
          `kill ${k + 1}: ${delayMs} ms into the push, ${reply?.t === 'pushed' ? 'answered' : 'unanswered'}; ${acked.size} acknowledged so far`,
        );
        running.delete(node);
        client.ws.terminate();
        slots[slot] = spawnCouchNode(couch.url, database, ports[slot] ?? 0);
      }
      const [a, b] = await Promise.all([slots[0], slots[1]]);
      if (a === undefined || b === undefined) throw new Error('two nodes');
      for (const n of await Promise.all(slots)) running.add(n);

      // What was not acknowledged is sent again: stored once already (a conflict with itself) or now.
      const pusher = await connect(a, patient.device);
      const again = [...sent.values()].filter((d) => !acked.has(d.id));
      const answered = again.length === 0 ? null : await pushRows(pusher, again);
      const results: PushResult[] = answered?.t === 'pushed' ? answered.results : [];
      expect(results).toHaveLength(again.length);
      for (const [i, r] of results.entries()) {
        if (r.status === 'conflict') expect(r.master?.rev).toBe(again[i]?.rev);
        else expect(r.status).toBe('ok');
      }
      pusher.ws.terminate();

      const store = await openCouchStore({ url: couch.url, database, onListenerError: () => undefined });
      await store.init();
      try {
        const page = await store.docs.readDocs(stream, 0, 10_000, 1 << 26);
        const ids = page.docs.map((d) => d.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(ids)).toEqual(new Set(sent.keys()));
        for (const id of acked) expect(ids).toContain(id);
        expect(page.docs.map((d) => d.seq)).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
        console.log(
          `${KILLS} kills: ${acked.size} of ${sent.size} writes acknowledged before a kill, all ${ids.length} stored once`,
        );
      } finally {
        await store.close();
      }

      // Another device on another node converges on the same records.
      const follower = await connect(b, reader);
      expect(
        (await follower.request({ t: 'subscribe', rid: follower.rid(), streams: [{ stream, since: 0 }] })).t,
      ).toBe('ok');
      const until = Date.now() + 15_000;
      const got = () =>
        new Set(follower.unsolicited.flatMap((f) => (f.t === 'changes' ? f.docs.map((d) => d.id) : [])));
      while (got().size < sent.size && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(got()).toEqual(new Set(sent.keys()));
      follower.ws.terminate();
    } finally {
      await Promise.all([...running].map((n) => n.kill('SIGKILL')));
      await Promise.all(slots.map((s) => s.then((n) => n.kill('SIGKILL')).catch(() => undefined)));
    }
  });
});
