// A restart (server stopped, store closed, a new server on the same data directory) loses nothing:
// documents, accounts, sessions, grants, envelopes, blobs and the server's own audit chain all carry on,
// sequence numbers continue without duplicates, and a device resumes exactly from its checkpoint.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  auditSignaturePayload,
  type ChangesFrame,
  type EnvelopesFrame,
  type PulledFrame,
  type PushDoc,
  type PushedFrame,
  type ServerFrame,
  type ServedDoc,
} from '@hale/protocol';
import { deriveInitialStreamKey, sealBytes } from '@hale/crypto';
import { newId } from '@hale/model';
import {
  addDevice,
  connect,
  createBlob,
  digestOf,
  getChunk,
  http,
  makeDoc,
  makeEnvelope,
  makeGrant,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestServer,
  type WsClient,
} from './testing/harness';
import { auditEntryHash } from './core/sync-service';

const pullAll = (c: WsClient, stream: PushDoc['stream'], since: number) =>
  c.request<PulledFrame>({
    t: 'pull',
    rid: c.rid(),
    streams: [{ stream, since }],
    limit: 1000,
    maxBytes: 1 << 22,
  });

const pushAll = async (c: WsClient, docs: PushDoc[]) => {
  const r = await c.request<PushedFrame>({
    t: 'push',
    rid: c.rid(),
    rows: docs.map((doc) => ({ doc, assumedRev: null })),
  });
  return r.results.map((x) => (x.status === 'ok' ? x.seq : -1));
};

describe('restart on the same data directory', () => {
  let dataDir = '';
  const servers: TestServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop({ keepData: true }).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves everything written before, continues seqs and resumes devices from their checkpoints', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'hale-restart-'));
    const first = await startServer({ dataDir });
    servers.push(first);
    const patient = await registerAccount(first);
    const laptop = await addDevice(first, patient);
    const provider = await registerAccount(first, 'provider');
    const stream = streamOf(patient.accountId, 'allergy');
    const docStream = streamOf(patient.accountId, 'document');

    const phone = await connect(first, patient.device);
    const grant = await makeGrant(patient, provider, [{ type: 'allergy', access: 'read' }], {
      now: first.clock.now,
    });
    expect((await phone.request({ t: 'grant', rid: phone.rid(), grant })).t).toBe('ok');
    const envelope = await makeEnvelope(patient, patient.device, provider, 'allergy');
    expect((await phone.request({ t: 'putEnvelopes', rid: phone.rid(), envelopes: [envelope] })).t).toBe(
      'ok',
    );
    const before = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => makeDoc(patient, patient.device, 'allergy', { n: i })),
    );
    expect(await pushAll(phone, before)).toEqual([1, 2, 3, 4, 5]);

    // The laptop syncs and remembers its checkpoint.
    const laptopWs = await connect(first, laptop);
    const firstPull = await pullAll(laptopWs, stream, 0);
    expect(firstPull.docs.map((d) => d.id)).toEqual(before.map((d) => d.id));
    const checkpoint = firstPull.streams[0]!.checkpoint;
    expect(checkpoint).toBe(5);

    // The provider pulls once: the server appends a signed access event to the patient's audit stream.
    const providerWs = await connect(first, provider.device);
    expect((await pullAll(providerWs, stream, 0)).docs).toHaveLength(5);
    const token = await sessionToken(first, patient.device);
    const blobId = newId();
    const plain = new TextEncoder().encode('x-ray report');
    const sealed = sealBytes(
      deriveInitialStreamKey(patient.root, docStream),
      { blobId, chunkIndex: 0, epoch: 0 },
      plain,
    );
    const manifest = {
      blobId,
      stream: docStream,
      size: plain.byteLength,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(sealed)],
    };
    expect((await createBlob(first, token, manifest)).status).toBe(200);
    expect((await putChunk(first, token, blobId, 0, sealed)).status).toBe(200);
    const auditBefore = (await pullAll(phone, streamOf(patient.accountId, 'audit'), 0)).docs;
    expect(auditBefore.length).toBeGreaterThan(0);
    const serverId = first.server.server.serverId;
    await Promise.all([phone.close(), laptopWs.close(), providerWs.close()]);

    // A new server started before the old one has stopped is refused, and the old one is unaffected.
    await expect(startServer({ dataDir })).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });
    expect((await http(first.url, 'GET', '/healthz')).status).toBe(200);

    // ---- restart ----
    await first.stop({ keepData: true });
    servers.splice(0);
    const second = await startServer({ dataDir });
    servers.push(second);
    expect(second.server.server.serverId).toBe(serverId);
    expect((await http(second.url, 'GET', '/healthz')).status).toBe(200);

    // Accounts, devices and HTTP sessions survived: the same token still works.
    const blobBack = await getChunk(second, token, blobId, 0);
    expect(blobBack.status).toBe(200);
    expect(Buffer.from(blobBack.bytes!).equals(Buffer.from(sealed))).toBe(true);
    expect((await http(second.url, 'GET', `/v1/blobs/${blobId}`, undefined, token)).body).toMatchObject({
      complete: true,
      have: [0],
    });

    const phone2 = await connect(second, patient.device);
    const everything = await pullAll(phone2, stream, 0);
    expect(everything.docs.map((d) => [d.id, d.seq, d.rev, d.ct])).toEqual(
      before.map((d, i) => [d.id, i + 1, d.rev, d.ct]),
    );

    // The laptop resumes live from its checkpoint while new writes arrive: exactly the new documents.
    const laptop2 = await connect(second, laptop);
    expect(
      (
        await laptop2.request({
          t: 'subscribe',
          rid: laptop2.rid(),
          streams: [{ stream, since: checkpoint }],
        })
      ).t,
    ).toBe('ok');
    const after = await Promise.all(
      [6, 7, 8].map((i) => makeDoc(patient, patient.device, 'allergy', { n: i })),
    );
    expect(await pushAll(phone2, after)).toEqual([6, 7, 8]);
    const live: ServedDoc[] = [];
    while (live.length < 3) {
      const f = await laptop2.waitFor((x: ServerFrame): x is ChangesFrame => x.t === 'changes');
      live.push(...f.docs);
    }
    expect(live.map((d) => [d.id, d.seq])).toEqual(after.map((d, i) => [d.id, i + 6]));
    const resumed = await pullAll(laptop2, stream, checkpoint);
    expect(resumed.docs.map((d) => d.id)).toEqual(after.map((d) => d.id));
    expect(resumed.streams[0]).toMatchObject({ checkpoint: 8, done: true });

    const seqs = (
      second.store.db.prepare('SELECT seq FROM docs WHERE stream = ? ORDER BY seq').all(stream) as Array<{
        seq: number;
      }>
    ).map((r) => r.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Grants and envelopes survived; the server's audit chain continues where it stopped.
    const provider2 = await connect(second, provider.device);
    expect((await pullAll(provider2, stream, 5)).docs.map((d) => d.id)).toEqual(after.map((d) => d.id));
    const envs = await provider2.request<EnvelopesFrame>({ t: 'getEnvelopes', rid: provider2.rid() });
    expect(envs.envelopes).toEqual([envelope]);
    const audit = (await pullAll(phone2, streamOf(patient.accountId, 'audit'), 0)).docs;
    const serverEntries = audit.filter((d) => d.author === serverId);
    expect(serverEntries.map((d) => d.audit!.authorSeq)).toEqual(serverEntries.map((_, i) => i + 1));
    expect(serverEntries.length).toBeGreaterThan(auditBefore.filter((d) => d.author === serverId).length);
    // One unbroken hash chain across the restart.
    expect(serverEntries[0]!.audit!.prevHash).toBeNull();
    for (let i = 1; i < serverEntries.length; i++) {
      const prev = serverEntries[i - 1]!;
      const expected = auditEntryHash(auditSignaturePayload({ ...prev, audit: prev.audit! }), prev.sig!);
      expect(serverEntries[i]!.audit!.prevHash).toBe(expected);
    }

    await Promise.all([phone2.close(), laptop2.close(), provider2.close()]);
  });
});
