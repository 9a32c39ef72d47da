// One account cannot fill the server's disk with blobs: each account may store `blobQuotaBytes`, counted
// from every manifest its devices created (stored or half uploaded) when the next upload starts. An upload
// over it is refused with QUOTA_EXCEEDED (HTTP 413) before a byte of it is stored; what was stored before
// stays whole and downloadable, and resuming it is never refused. Real server on a loopback port.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import { blobQuotaBytes } from './store/index';
import {
  addDevice,
  connect,
  createBlob,
  digestOf,
  getChunk,
  http,
  makeGrant,
  putChunk,
  registerAccount,
  rowCounts,
  sessionToken,
  startServer,
  streamOf,
  type BlobManifestInput,
  type TestServer,
} from './testing/harness';

const CHUNKS = 3;
const SIZE = CHUNKS * MIN_CHUNK_BYTES;
/** Room for one blob of SIZE and a bit, not for two. */
const QUOTA = blobQuotaBytes({ size: SIZE, chunkCount: CHUNKS }) + 1000;

/** A blob of random "sealed" chunks (the server checks only lengths and digests) and its manifest. */
const makeBlob = (stream: string) => {
  const chunks = Array.from({ length: CHUNKS }, () => new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40)));
  const manifest: BlobManifestInput = {
    blobId: newId(),
    stream,
    size: SIZE,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: CHUNKS,
    digests: chunks.map(digestOf),
  };
  return { chunks, manifest };
};

const upload = async (t: TestServer, token: string, blob: ReturnType<typeof makeBlob>) => {
  const created = await createBlob(t, token, blob.manifest);
  if (created.status !== 200) return created;
  for (const [i, bytes] of blob.chunks.entries()) {
    const put = await putChunk(t, token, blob.manifest.blobId, i, bytes);
    expect(put.status).toBe(200);
  }
  return created;
};

const blobTables = (t: TestServer) => {
  const counts = rowCounts(t.store);
  return { manifests: counts.blob_manifests, chunks: counts.blob_chunks };
};

describe('per-account blob quota', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('an upload past the quota is refused (413 QUOTA_EXCEEDED) before anything is stored; stored blobs stay whole', async () => {
    t = await startServer({ config: { blobQuotaBytes: QUOTA } });
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const stream = streamOf(patient.accountId, 'document');
    const first = makeBlob(stream);
    expect((await upload(t, token, first)).status).toBe(200);
    const used = blobQuotaBytes({ size: SIZE, chunkCount: CHUNKS });
    expect(await t.store.blobs.usage(patient.accountId)).toBe(used);
    const before = blobTables(t);

    const second = makeBlob(stream);
    const refused = await createBlob(t, token, second.manifest);
    expect(refused).toEqual({
      status: 413,
      body: {
        code: 'QUOTA_EXCEEDED',
        message: expect.any(String) as string,
        details: { usedBytes: used, requestedBytes: used, quotaBytes: QUOTA },
      },
    });
    // Nothing of it was stored, and its chunks have nowhere to go.
    expect(blobTables(t)).toEqual(before);
    expect((await http(t.url, 'GET', `/v1/blobs/${second.manifest.blobId}`, undefined, token)).status).toBe(
      404,
    );
    expect(await putChunk(t, token, second.manifest.blobId, 0, second.chunks[0]!)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    // A small blob does not fit either: the account has less room left than any blob takes.
    const small = { ...makeBlob(stream).manifest, size: 2000, chunkSize: MIN_CHUNK_BYTES, chunkCount: 1 };
    small.digests = [small.digests[0]!];
    expect((await createBlob(t, token, small)).body).toMatchObject({ code: 'QUOTA_EXCEEDED' });

    // The quota is the account's: its other devices share it.
    const tablet = await addDevice(t, patient);
    const tabletToken = await sessionToken(t, tablet);
    expect((await createBlob(t, tabletToken, makeBlob(stream).manifest)).status).toBe(413);

    // What it stored is intact, and announcing it again (a resumed upload) is not refused.
    const again = await createBlob(t, token, first.manifest);
    expect(again).toMatchObject({ status: 200, body: { have: [0, 1, 2] } });
    for (const [i, bytes] of first.chunks.entries()) {
      const got = await getChunk(t, token, first.manifest.blobId, i);
      expect(got.status).toBe(200);
      expect(Buffer.from(got.bytes!).equals(Buffer.from(bytes))).toBe(true);
    }

    // Another account has its own quota.
    const other = await registerAccount(t);
    const otherToken = await sessionToken(t, other.device);
    expect((await upload(t, otherToken, makeBlob(streamOf(other.accountId, 'document')))).status).toBe(200);

    // The usage is read from what is stored: after a restart the account is still full.
    const dataDir = t.dataDir;
    await t.stop({ keepData: true });
    t = await startServer({ dataDir, config: { blobQuotaBytes: QUOTA } });
    const token2 = await sessionToken(t, patient.device);
    expect((await createBlob(t, token2, makeBlob(stream).manifest)).status).toBe(413);
    // A larger quota (the operator raised it) lets the upload through.
    await t.stop({ keepData: true });
    t = await startServer({ dataDir, config: { blobQuotaBytes: 2 * QUOTA } });
    expect((await upload(t, await sessionToken(t, patient.device), second)).status).toBe(200);
  });

  it('a half-finished upload counts in full: announcing manifests without chunks cannot dodge the quota', async () => {
    t = await startServer({ config: { blobQuotaBytes: QUOTA } });
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const stream = streamOf(patient.accountId, 'document');
    expect((await createBlob(t, token, makeBlob(stream).manifest)).status).toBe(200);
    expect((await createBlob(t, token, makeBlob(stream).manifest)).body).toMatchObject({
      code: 'QUOTA_EXCEEDED',
    });
  });

  it('two uploads at once with room for one: exactly one manifest is stored', async () => {
    t = await startServer({ config: { blobQuotaBytes: QUOTA } });
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const stream = streamOf(patient.accountId, 'document');
    const results = await Promise.all(
      Array.from({ length: 4 }, () => createBlob(t!, token, makeBlob(stream).manifest)),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 413, 413, 413]);
    expect(blobTables(t).manifests).toBe(1);
  });

  it("the uploading account pays: a provider writing into a patient's stream uses its own quota", async () => {
    t = await startServer({ config: { blobQuotaBytes: QUOTA } });
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const ws = await connect(t, patient.device);
    const grant = await makeGrant(patient, provider, [{ type: 'document', access: 'write' }]);
    expect((await ws.request({ t: 'grant', rid: 1, grant })).t).toBe('ok');
    await ws.close();
    const stream = streamOf(patient.accountId, 'document');
    const providerToken = await sessionToken(t, provider.device);
    expect((await upload(t, providerToken, makeBlob(stream))).status).toBe(200);
    expect(await t.store.blobs.usage(provider.accountId)).toBe(
      blobQuotaBytes({ size: SIZE, chunkCount: CHUNKS }),
    );
    expect(await t.store.blobs.usage(patient.accountId)).toBe(0);
    // Full for the provider, in any patient's stream; the patient still has its whole quota.
    expect((await createBlob(t, providerToken, makeBlob(stream).manifest)).status).toBe(413);
    expect((await upload(t, await sessionToken(t, patient.device), makeBlob(stream))).status).toBe(200);
  });
});
