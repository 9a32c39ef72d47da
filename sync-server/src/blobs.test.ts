// Blobs end to end: a 100 MB file sealed in 1 MiB chunks, uploaded with digests, interrupted half-way,
// resumed from the manifest's `have`, downloaded and verified; digest mismatches and missing consent are
// refused. Sealed chunks go through a temporary file so the test never holds more than a chunk or two.
import { createCipheriv, createHash } from 'node:crypto';
import { open, mkdtemp, rm, type FileHandle } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_SEAL_OVERHEAD_BYTES, DEFAULT_CHUNK_BYTES, ERROR_CODES } from '@hale/protocol';
import { deriveInitialStreamKey, openBytes, sealBytes } from '@hale/crypto';
import { newId } from '@hale/model';
import { BLOB_CHUNK_OVERHEAD_BYTES } from './store/index';
import {
  createBlob,
  digestOf,
  getChunk,
  http,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type BlobManifestInput,
  type TestAccount,
  type TestServer,
} from './testing/harness';

const SIZE = 100_000_000; // 100 MB: 95 full chunks and a shorter last one
const CHUNK = DEFAULT_CHUNK_BYTES;
const CHUNKS = Math.ceil(SIZE / CHUNK);

/** Deterministic pseudo-random plaintext of chunk i (AES-CTR keystream), regenerated to verify. */
const plainChunk = (i: number): Buffer => {
  const length = Math.min(CHUNK, SIZE - i * CHUNK);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(i, 0);
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('blobs: 100 MB, resumable, verified', { timeout: 120_000 }, () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let token: string;
  let providerToken: string;
  let work: string;
  let file: FileHandle;
  let key: Uint8Array;
  const blobId = newId();
  const offsets: Array<{ offset: number; length: number }> = [];
  const manifest: BlobManifestInput = {
    blobId,
    stream: '',
    size: SIZE,
    chunkSize: CHUNK,
    chunkCount: CHUNKS,
    digests: [],
  };

  const readSealed = async (i: number): Promise<Uint8Array> => {
    const { offset, length } = offsets[i]!;
    const buf = new Uint8Array(length);
    await file.read(buf, 0, length, offset);
    return buf;
  };

  beforeAll(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    token = await sessionToken(t, patient.device);
    providerToken = await sessionToken(t, provider.device);
    manifest.stream = streamOf(patient.accountId, 'document');
    key = deriveInitialStreamKey(patient.root, manifest.stream);
    work = await mkdtemp(path.join(tmpdir(), 'hale-blob-'));
    file = await open(path.join(work, 'sealed.bin'), 'w+');
    let offset = 0;
    for (let i = 0; i < CHUNKS; i++) {
      const sealed = sealBytes(key, { blobId, chunkIndex: i, epoch: 0 }, plainChunk(i));
      await file.write(sealed, 0, sealed.byteLength, offset);
      offsets.push({ offset, length: sealed.byteLength });
      manifest.digests.push(digestOf(sealed));
      offset += sealed.byteLength;
    }
  });

  afterAll(async () => {
    await file?.close();
    await rm(work, { recursive: true, force: true });
    await t.stop();
  });

  it('the store accepts exactly the protocol sealing headroom', () => {
    expect(BLOB_CHUNK_OVERHEAD_BYTES).toBe(CHUNK_SEAL_OVERHEAD_BYTES);
    expect(
      offsets.every((o, i) => o.length - Math.min(CHUNK, SIZE - i * CHUNK) <= CHUNK_SEAL_OVERHEAD_BYTES),
    ).toBe(true);
  });

  it('refuses upload and download without consent, storing and serving nothing', async () => {
    const created = await createBlob(t, providerToken, manifest);
    expect(created).toMatchObject({ status: 403, body: { code: 'NO_CONSENT' } });
    expect(await t.store.blobs.getManifest(blobId)).toBeNull();

    expect((await createBlob(t, token, { ...manifest, blobId: newId() })).status).toBe(200);
    const other = newId();
    const small = sealBytes(key, { blobId: other, chunkIndex: 0, epoch: 0 }, new Uint8Array(100));
    const smallManifest = {
      ...manifest,
      blobId: other,
      size: 100,
      chunkSize: 65536,
      chunkCount: 1,
      digests: [digestOf(small)],
    };
    expect((await createBlob(t, token, smallManifest)).status).toBe(200);
    const up = await putChunk(t, providerToken, other, 0, small);
    expect(up).toMatchObject({ status: 403, body: { code: 'NO_CONSENT' } });
    expect(await t.store.blobs.chunkIndexes(other)).toEqual([]);
    expect((await putChunk(t, token, other, 0, small)).status).toBe(200);

    const meta = await http(t.url, 'GET', `/v1/blobs/${other}`, undefined, providerToken);
    expect(meta).toMatchObject({ status: 403, body: { code: 'NO_CONSENT' } });
    const down = await getChunk(t, providerToken, other, 0);
    expect(down.status).toBe(403);
    expect(down.bytes).toBeUndefined();
    expect(down.body).toMatchObject({ code: 'NO_CONSENT' });
  });

  it('uploads half, survives an interrupted chunk, resumes from `have`, refuses a wrong digest', async () => {
    const created = await createBlob(t, token, manifest);
    expect(created).toEqual({ status: 200, body: { blobId, have: [] } });
    const half = Math.floor(CHUNKS / 2);
    for (let i = 0; i < half; i++) {
      const res = await putChunk(t, token, blobId, i, await readSealed(i));
      expect(res.status).toBe(200);
    }

    // The connection drops in the middle of chunk `half`.
    const partial = await readSealed(half);
    await new Promise<void>((resolve) => {
      const url = new URL(`${t.url}/v1/blobs/${blobId}/chunks/${half}`);
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(partial.byteLength),
          authorization: `Bearer ${token}`,
        },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(partial.subarray(0, partial.byteLength >> 1), () => setTimeout(() => req.destroy(), 50));
    });
    expect((await http(t.url, 'GET', '/healthz')).status).toBe(200);

    // The device comes back: re-announcing the manifest says what is already there.
    const resumed = await createBlob(t, token, manifest);
    const have = (resumed.body as { have: number[] }).have;
    expect(have).toEqual(Array.from({ length: half }, (_, i) => i));
    const state = await http(t.url, 'GET', `/v1/blobs/${blobId}`, undefined, token);
    expect(state.body).toMatchObject({ complete: false, have });

    // A chunk whose bytes do not match the announced digest is refused and not stored.
    const wrong = sealBytes(key, { blobId, chunkIndex: half, epoch: 0 }, plainChunk(half));
    const refused = await putChunk(t, token, blobId, half, wrong);
    expect(refused).toMatchObject({
      status: ERROR_CODES.DIGEST_MISMATCH.http,
      body: { code: 'DIGEST_MISMATCH' },
    });
    expect(await t.store.blobs.chunkIndexes(blobId)).toEqual(have);

    for (let i = 0; i < CHUNKS; i++) {
      if (have.includes(i)) continue;
      const res = await putChunk(t, token, blobId, i, await readSealed(i));
      expect(res.status).toBe(200);
    }
    const done = await http(t.url, 'GET', `/v1/blobs/${blobId}`, undefined, token);
    expect(done.body).toMatchObject({
      complete: true,
      size: SIZE,
      chunkCount: CHUNKS,
      digests: manifest.digests,
    });
  });

  it('downloads every chunk, each matching its digest and opening to the original bytes', async () => {
    let total = 0;
    for (let i = 0; i < CHUNKS; i++) {
      const res = await getChunk(t, token, blobId, i);
      expect(res.status).toBe(200);
      expect(res.contentType).toBe('application/octet-stream');
      const bytes = res.bytes!;
      expect(digestOf(bytes)).toBe(manifest.digests[i]);
      const opened = openBytes(key, { blobId, chunkIndex: i, epoch: 0 }, bytes);
      if (!opened.ok) throw new Error(`chunk ${i} does not open: ${opened.error.message}`);
      expect(sha(opened.value)).toBe(sha(plainChunk(i)));
      total += opened.value.byteLength;
    }
    expect(total).toBe(SIZE);
    // A chunk served under another index does not open: the index is bound inside the seal.
    const first = (await getChunk(t, token, blobId, 0)).bytes!;
    expect(openBytes(key, { blobId, chunkIndex: 1, epoch: 0 }, first).ok).toBe(false);
  });
});
