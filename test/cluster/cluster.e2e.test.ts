// Three stateless sync-server nodes over one CouchDB-protocol server (pouchdb-server, LevelDB on disk):
// devices spread over the nodes converge; a grant, its revocation and a device revocation made through one
// node reach live connections on another (each test waits for the frame or the close, not for a time);
// with the CouchDB server killed the nodes report unhealthy and refuse writes with a typed error, and
// recover by themselves once it is back. One pouchdb-server for the file, one database per test.
import { describe, expect, it } from 'vitest';
import type { AccessChangedFrame, PushDoc, ServerFrame } from '@hale/protocol';
import {
  addDevice,
  frameWithin,
  makeDoc,
  makeEnvelope,
  makeGrant,
  makeRevocation,
  registerAccount,
  revokeDevice,
  streamOf,
  type TestAccount,
  type TestDevice,
  type WsClient,
} from '@hale/sync-server/testing';
import { useCouchCluster } from './support';

const cluster = useCouchCluster();
const startNodes = () => cluster.startNodes(3);
const open = cluster.open;
const isAccessChanged = (f: ServerFrame): f is AccessChangedFrame => f.t === 'accessChanged';
/** Ids of the documents of `stream` a client was sent live so far. */
const received = (client: WsClient, stream: string): Set<string> =>
  new Set(
    client.unsolicited.flatMap((f) =>
      f.t === 'changes' ? f.docs.filter((d) => d.stream === stream).map((d) => d.id) : [],
    ),
  );
const eventually = async (
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> => {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const push = async (client: WsClient, docs: PushDoc[]): Promise<string[]> => {
  const answer = await client.request({
    t: 'push',
    rid: client.rid(),
    rows: docs.map((doc) => ({ doc, assumedRev: null })),
  });
  if (answer.t !== 'pushed') return docs.map(() => (answer.t === 'error' ? answer.code : answer.t));
  return answer.results.map((r) => (r.status === 'error' ? r.code : r.status));
};
const records = (patient: TestAccount, device: TestDevice, n: number, tag: string) =>
  Promise.all(
    Array.from({ length: n }, (_, i) => makeDoc(patient, device, 'allergy', { title: `${tag}-${i}` })),
  );

describe('three nodes over one CouchDB', () => {
  it("devices of one patient on three nodes push concurrently and all receive every other device's record, each once, in seq order", async () => {
    const [a, b, c] = await startNodes();
    const patient = await registerAccount(a);
    const devices = [patient.device, await addDevice(b, patient), await addDevice(c, patient)];
    const stream = streamOf(patient.accountId, 'allergy');
    const conns = await Promise.all([a, b, c].map((node, i) => open(node, devices[i] ?? patient.device)));
    for (const conn of conns) {
      expect(
        (await conn.request({ t: 'subscribe', rid: conn.rid(), streams: [{ stream, since: 0 }] })).t,
      ).toBe('ok');
    }
    const batches = await Promise.all(devices.map((d, i) => records(patient, d, 12, `dev${i}`)));
    const outcomes = await Promise.all(conns.map((conn, i) => push(conn, batches[i] ?? [])));
    expect(outcomes.flat().every((o) => o === 'ok')).toBe(true);
    const all = new Set(batches.flat().map((d) => d.id));
    // A connection is not sent its own pushes again (their positions only): every other record it is.
    const othersOf = (i: number) => new Set([...all].filter((id) => !batches[i]?.some((d) => d.id === id)));
    for (const [i, conn] of conns.entries())
      await eventually(
        () => received(conn, stream).size === othersOf(i).size,
        "every other device's record on every node",
      );
    for (const [i, conn] of conns.entries()) {
      const seqs = conn.unsolicited.flatMap((f) => (f.t === 'changes' ? f.docs.map((d) => d.seq) : []));
      // Each record once, in seq order (the store's seqs are gap-free across the three nodes, below).
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(received(conn, stream)).toEqual(othersOf(i));
    }
    const page = await b.store.docs.readDocs(stream, 0, 1000, 1 << 24);
    expect(page.docs.map((d) => d.seq)).toEqual(Array.from({ length: all.size }, (_, i) => i + 1));
  });

  it('a grant and its revocation made through node A reach a provider following live on node C', async () => {
    const [a, , c] = await startNodes();
    const patient = await registerAccount(a);
    const provider = await registerAccount(a, 'provider');
    const p = await open(a, patient.device);
    const d = await open(c, provider.device);
    const stream = streamOf(patient.accountId, 'allergy');
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    // Told on C, by the log's changes feed: no reconnect, no poll by the device.
    const granted = await d.waitFor(
      (f): f is AccessChangedFrame => isAccessChanged(f) && f.streams.some((s) => s.stream === stream),
      10_000,
    );
    expect(granted.removed).toEqual([]);
    expect((await d.request({ t: 'subscribe', rid: d.rid(), streams: [{ stream, since: 0 }] })).t).toBe('ok');
    const [before] = await records(patient, patient.device, 1, 'before');
    if (before === undefined) throw new Error('one record');
    expect(await push(p, [before])).toEqual(['ok']);
    await eventually(() => received(d, stream).has(before.id), 'delivered live on C');

    const revocation = await makeRevocation(patient, grant.grant.grantId);
    expect((await p.request({ t: 'revoke', rid: p.rid(), revocation })).t).toBe('ok');
    const ended = await d.waitFor(
      (f): f is AccessChangedFrame => isAccessChanged(f) && f.removed.some((r) => r.stream === stream),
      10_000,
    );
    expect(ended.removed).toEqual([{ stream, reason: 'revoked' }]);
    // Nothing committed after the revocation reaches C.
    const [after] = await records(patient, patient.device, 1, 'after');
    if (after === undefined) throw new Error('one record');
    expect(await push(p, [after])).toEqual(['ok']);
    expect(
      await frameWithin(d, (f) => f.t === 'changes' && f.docs.some((x) => x.id === after.id), 1500),
    ).toBe(false);
  });

  it('key envelopes stored through node A for a provider are announced to its connection on node C', async () => {
    const [a, , c] = await startNodes();
    const patient = await registerAccount(a);
    const provider = await registerAccount(a, 'provider');
    const p = await open(a, patient.device);
    const d = await open(c, provider.device);
    const stream = streamOf(patient.accountId, 'allergy');
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    await d.waitFor(
      (f): f is AccessChangedFrame => isAccessChanged(f) && f.streams.some((s) => s.stream === stream),
      10_000,
    );
    const envelope = await makeEnvelope(patient, patient.device, provider, 'allergy');
    expect((await p.request({ t: 'putEnvelopes', rid: p.rid(), envelopes: [envelope] })).t).toBe('ok');
    // The notice a device holding records without their key fetches it on: the stream again, nothing removed.
    const notice = await d.waitFor(
      (f): f is AccessChangedFrame =>
        isAccessChanged(f) && f.removed.length === 0 && f.streams.some((s) => s.stream === stream),
      10_000,
    );
    expect(notice.streams.map((s) => s.stream)).toEqual([stream]);
  });

  it('a device revoked through node A has its connection on node C closed', async () => {
    const [a, , c] = await startNodes();
    const patient = await registerAccount(a);
    const phone = await addDevice(a, patient);
    const onC = await open(c, phone);
    const answer = await revokeDevice(a, patient, phone);
    expect(answer.status).toBe(200);
    const closed = await onC.closed;
    expect(closed.code).toBe(4001);
  });

  it('with CouchDB down the nodes answer unhealthy and refuse writes UNAVAILABLE, and recover by themselves', async () => {
    const [a, b, c] = await startNodes();
    const patient = await registerAccount(a);
    const second = await addDevice(a, patient);
    const stream = streamOf(patient.accountId, 'allergy');
    const writer = await open(a, patient.device);
    const reader = await open(c, second);
    expect(
      (await reader.request({ t: 'subscribe', rid: reader.rid(), streams: [{ stream, since: 0 }] })).t,
    ).toBe('ok');

    await cluster.pouch().kill();
    for (const node of [a, b, c]) {
      await eventually(async () => (await fetch(`${node.url}/healthz`)).status === 503, 'unhealthy', 5_000);
    }
    const refused = await records(patient, patient.device, 2, 'down');
    const outcomes = await push(writer, refused);
    expect(outcomes.every((o) => o === 'UNAVAILABLE')).toBe(true);

    await cluster.pouch().restart();
    for (const node of [a, b, c]) {
      await eventually(
        async () => (await fetch(`${node.url}/healthz`)).status === 200,
        'healthy again',
        10_000,
      );
    }
    // The same connections: the write goes through and the live follower on C hears of it.
    expect(await push(writer, refused)).toEqual(['ok', 'ok']);
    await eventually(
      () => refused.every((r) => received(reader, stream).has(r.id)),
      'delivered after recovery',
      15_000,
    );
  });
});
