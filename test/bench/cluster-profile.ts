// Push profile of the CouchDB store: one node over pouchdb-server, one device pushing batches of ~1 KB
// sealed records through the WebSocket; every HTTP request the node's store makes is counted per batch,
// by database, method and endpoint, with the bytes sent and the time it took.
// Run: node --import tsx test/bench/cluster-profile.ts [--batches=10] [--batch=100]
// The first batch is printed apart (the node learns the shard's tail there); the rest as a mean per batch.
import { randomUUID } from 'node:crypto';
import { encodeFrame, type PushDoc, type ServerFrame } from '@hale/protocol';
import { addDevice, connect, makeDoc, registerAccount, streamOf } from '@hale/sync-server/testing';
import { startCouchNode, startPouchServer } from '@hale/sync-server/testing/couch';
import { pouchCpuMs } from './proc-cpu';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'] as const;
  }),
);
const BATCHES = Number(args.get('batches') ?? 10);
const BATCH = Number(args.get('batch') ?? 100);
const TEXT = 'x'.repeat(900);

interface Call {
  what: string;
  bytes: number;
  ms: number;
}
let calls: Call[] = [];
const realFetch = globalThis.fetch;

/** `PUT db/id`, `POST db/_bulk_docs`, `GET db/_all_docs`… with the document id left out. */
const endpoint = (url: string, method: string): string => {
  const u = new URL(url);
  const [db = '', rest = ''] = decodeURIComponent(u.pathname)
    .slice(1)
    .split(/\/(.*)/s);
  const kind = db.endsWith('-log') ? 'log' : 'data';
  const path = rest.startsWith('_') ? rest.split('?')[0] : rest === '' ? '' : `doc ${rest.split('|')[0]}|…`;
  const start = u.searchParams.get('startkey');
  const extra = start === null ? '' : ` ${(JSON.parse(start) as string).split('|')[0]}|…`;
  return `${kind} ${method} ${path}${extra}`;
};

globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method ?? 'GET';
  const body = init?.body;
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : 0;
  const t0 = performance.now();
  try {
    return await realFetch(input, init);
  } finally {
    calls.push({ what: endpoint(url, method), bytes, ms: performance.now() - t0 });
  }
};

const summarize = (list: Call[], divide: number): void => {
  const by = new Map<string, { n: number; bytes: number; ms: number }>();
  for (const c of list) {
    const s = by.get(c.what) ?? { n: 0, bytes: 0, ms: 0 };
    s.n++;
    s.bytes += c.bytes;
    s.ms += c.ms;
    by.set(c.what, s);
  }
  const rows = [...by]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([what, s]) => ({
      request: what,
      perBatch: Math.round((s.n / divide) * 100) / 100,
      KiBSent: Math.round(s.bytes / divide / 102.4) / 10,
      msSum: Math.round(s.ms / divide),
    }));
  console.table(rows);
  console.log(`requests per batch: ${Math.round((list.length / divide) * 100) / 100}`);
};

const couch = await startPouchServer();
try {
  const node = await startCouchNode(couch.url, `profile-${randomUUID().slice(0, 8)}`);
  const account = await registerAccount(node);
  const client = await connect(node, account.device);
  const push = async (docs: PushDoc[]): Promise<number> => {
    const rid = client.rid();
    const reply = client.waitFor((f): f is ServerFrame => 'rid' in f && f.rid === rid, 120_000);
    const t0 = performance.now();
    client.sendRaw(encodeFrame({ t: 'push', rid, rows: docs.map((doc) => ({ doc, assumedRev: null })) }));
    const answer = await reply;
    if (answer.t !== 'pushed' || answer.results.some((r) => r.status !== 'ok'))
      throw new Error(`push refused: ${JSON.stringify(answer).slice(0, 300)}`);
    return performance.now() - t0;
  };
  const batches: PushDoc[][] = [];
  for (let b = 0; b < BATCHES; b++) {
    batches.push(
      await Promise.all(
        Array.from({ length: BATCH }, (_, i) => makeDoc(account, account.device, 'allergy', { b, i, TEXT })),
      ),
    );
  }
  calls = [];
  const times: number[] = [];
  let first: Call[] = [];
  let cpu0 = { own: process.cpuUsage(), pouch: pouchCpuMs(couch.port) };
  for (const [b, docs] of batches.entries()) {
    times.push(await push(docs));
    if (b === 0) {
      first = calls;
      calls = [];
      cpu0 = { own: process.cpuUsage(), pouch: pouchCpuMs(couch.port) };
    }
  }
  // Marks of the last commit still under way are counted too: give them a moment.
  await new Promise((r) => setTimeout(r, 200));
  const own = process.cpuUsage(cpu0.own);
  const n = Math.max(1, BATCHES - 1);
  console.log(
    `CPU per batch after the first: this process (client, node, store) ${Math.round((own.user + own.system) / 1000 / n)} ms, pouchdb-server ${Math.round((pouchCpuMs(couch.port) - cpu0.pouch) / n)} ms`,
  );
  console.log(`first batch of ${BATCH}: ${Math.round(times[0] ?? 0)} ms`);
  summarize(first, 1);
  const rest = times.slice(1);
  const mean = rest.reduce((a, b) => a + b, 0) / Math.max(1, rest.length);
  console.log(
    `\nnext ${rest.length} batches of ${BATCH}: ${Math.round(mean)} ms each (${Math.round((BATCH / mean) * 1000)} docs/s)`,
  );
  summarize(calls, Math.max(1, rest.length));
  // Pull: another device pulls the stream from 0 in pages of up to 1,000 (as bench:cluster does).
  const reader = await connect(node, await addDevice(node, account));
  await new Promise((r) => setTimeout(r, 200));
  calls = [];
  const pouch0 = pouchCpuMs(couch.port);
  const own0 = process.cpuUsage();
  const t1 = performance.now();
  let since = 0;
  let pages = 0;
  let pulled = 0;
  for (;;) {
    const answer = await reader.request({
      t: 'pull',
      rid: reader.rid(),
      streams: [{ stream: streamOf(account.accountId, 'allergy'), since }],
      limit: 1000,
      maxBytes: 4 * 1024 * 1024,
    });
    if (answer.t !== 'pulled') throw new Error(`pull refused: ${JSON.stringify(answer).slice(0, 300)}`);
    pages++;
    pulled += answer.docs.length;
    const cp = answer.streams[0];
    if (cp === undefined || cp.done) break;
    since = cp.checkpoint;
  }
  const pullMs = performance.now() - t1;
  const pullOwn = process.cpuUsage(own0);
  console.log(
    `\npull of ${pulled} in ${pages} pages: ${Math.round(pullMs)} ms (${Math.round((pulled / pullMs) * 1000)} docs/s); CPU per page: this process ${Math.round((pullOwn.user + pullOwn.system) / 1000 / pages)} ms, pouchdb-server ${Math.round((pouchCpuMs(couch.port) - pouch0) / pages)} ms`,
  );
  summarize(calls, pages);
  reader.ws.terminate();
  client.ws.terminate();
  await node.stop();
} finally {
  await couch.stop();
}
process.exit(0);
