// Deleting a blob (DELETE /v1/blobs/:blobId), real server on a loopback port and a real SQLite file: who
// may (the patient's devices; the uploading account while it may upload to the stream), what goes (the
// manifest, every chunk — also from the database file — and the quota it reserved), that its id is never
// stored again, that downloads racing the deletion end cleanly, and that a grantee's deletion is in the
// patient's audit stream before it takes effect.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
  makeRevocation,
  putChunk,
  registerAccount,
  rowCounts,
  serverAccessEntries,
  sessionToken,
  startServer,
  streamOf,
  type BlobManifestInput,
  type TestAccount,
  type TestServer,
} from './testing/harness';

const CHUNKS = 3;
const SIZE = CHUNKS * MIN_CHUNK_BYTES;
const ONE_BLOB = blobQuotaBytes({ size: SIZE, chunkCount: CHUNKS });

/** Random "sealed" chunks (the server checks only lengths and digests) and their manifest. */
const makeBlob = (stream: string, chunkCount = CHUNKS) => {
  const chunks = Array.from({ length: chunkCount }, () => new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40)));
  const manifest: BlobManifestInput = {
    blobId: newId(),
    stream,
    size: chunkCount * MIN_CHUNK_BYTES,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount,
    digests: chunks.map(digestOf),
  };
  return { chunks, manifest };
};
type Blob = ReturnType<typeof makeBlob>;

const upload = async (t: TestServer, token: string, blob: Blob): Promise<void> => {
  expect((await createBlob(t, token, blob.manifest)).status).toBe(200);
  for (const [i, bytes] of blob.chunks.entries()) {
    expect((await putChunk(t, token, blob.manifest.blobId, i, bytes)).status).toBe(200);
  }
};

const isoOf = (ms: number): string => new Date(ms).toISOString();

const deleteBlob = (t: TestServer, token: string | undefined, blobId: string) =>
  http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, token);

/** Rows of the blob in the store's tables, read straight from SQLite. */
const storedRows = (t: TestServer, blobId: string) => ({
  manifests: (
    t.store.db.prepare('SELECT count(*) AS n FROM blob_manifests WHERE blob_id = ?').get(blobId) as {
      n: number;
    }
  ).n,
  chunks: (
    t.store.db.prepare('SELECT count(*) AS n FROM blob_chunks WHERE blob_id = ?').get(blobId) as { n: number }
  ).n,
});

/** How many 64-byte pieces of `chunks` the database file holds, once the WAL is checkpointed into it. */
const piecesInFile = (t: TestServer, chunks: readonly Uint8Array[]): number => {
  t.store.db.pragma('wal_checkpoint(TRUNCATE)');
  const file = readFileSync(t.store.file);
  let found = 0;
  for (const chunk of chunks) {
    for (let at = 0; at + 64 <= chunk.length; at += 64) {
      if (file.includes(Buffer.from(chunk.buffer, chunk.byteOffset + at, 64))) found++;
    }
  }
  return found;
};

const grantTo = async (
  t: TestServer,
  patient: TestAccount,
  grantee: TestAccount,
  access: 'read' | 'write',
): Promise<string> => {
  const ws = await connect(t, patient.device);
  try {
    const grant = await makeGrant(patient, grantee, [{ type: 'document', access }], { now: t.clock.now });
    expect((await ws.request({ t: 'grant', rid: ws.rid(), grant })).t).toBe('ok');
    return grant.grant.grantId;
  } finally {
    await ws.close();
  }
};

const revoke = async (t: TestServer, patient: TestAccount, grantId: string): Promise<void> => {
  const ws = await connect(t, patient.device);
  try {
    const revocation = await makeRevocation(patient, grantId);
    expect((await ws.request({ t: 'revoke', rid: ws.rid(), revocation })).t).toBe('ok');
  } finally {
    await ws.close();
  }
};

describe('blob deletion', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('the patient deletes: manifest, chunks and their bytes are gone, the quota is free, the id stays dead', async () => {
    t = await startServer({ config: { blobQuotaBytes: ONE_BLOB + 1000 } });
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const stream = streamOf(patient.accountId, 'document');
    const blob = makeBlob(stream);
    const { blobId } = blob.manifest;
    await upload(t, token, blob);
    const next = makeBlob(stream);
    expect((await createBlob(t, token, next.manifest)).body).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(piecesInFile(t, blob.chunks)).toBeGreaterThan(0);

    // Another device of the patient deletes what the first one uploaded.
    const tablet = await addDevice(t, patient);
    const deleted = await deleteBlob(t, await sessionToken(t, tablet), blobId);
    expect(deleted).toEqual({
      status: 200,
      body: { blobId, stream, deletedAt: new Date(t.clock.now).toISOString() },
    });

    expect(storedRows(t, blobId)).toEqual({ manifests: 0, chunks: 0 });
    expect(piecesInFile(t, blob.chunks)).toBe(0);
    // Told deleted, not NOT_FOUND (which would read as "not uploaded yet").
    expect(await http(t.url, 'GET', `/v1/blobs/${blobId}`, undefined, token)).toMatchObject({
      status: 410,
      body: { code: 'BLOB_DELETED' },
    });
    for (let i = 0; i < CHUNKS; i++) {
      expect(await getChunk(t, token, blobId, i)).toMatchObject({
        status: 410,
        body: { code: 'BLOB_DELETED' },
      });
    }
    expect(await t.store.blobs.usage(patient.accountId)).toBe(0);
    await upload(t, token, next);

    // Deleting again (a retry after a lost answer) is told it is done, distinct from a blob never stored.
    expect(await deleteBlob(t, token, blobId)).toMatchObject({
      status: 410,
      body: { code: 'BLOB_DELETED', details: { deletedAt: new Date(t.clock.now).toISOString() } },
    });
    // A stranger is refused as for a live blob of the stream: nothing about the deletion leaks.
    const stranger = await registerAccount(t);
    expect(await deleteBlob(t, await sessionToken(t, stranger.device), blobId)).toMatchObject({
      status: 403,
    });
    // The id is never stored again, with the old bytes or others; its chunks have nowhere to go.
    const counts = rowCounts(t.store);
    for (const manifest of [blob.manifest, { ...makeBlob(stream).manifest, blobId }]) {
      expect(await createBlob(t, token, manifest)).toMatchObject({
        status: 410,
        body: { code: 'BLOB_DELETED', details: { deletedAt: new Date(t.clock.now).toISOString() } },
      });
    }
    expect(await putChunk(t, token, blobId, 0, blob.chunks[0]!)).toMatchObject({
      status: 410,
      body: { code: 'BLOB_DELETED' },
    });
    expect(rowCounts(t.store)).toEqual(counts);
    // The patient's own deletions are the patient's devices' to log, as their uploads are; the server
    // logs only the stranger's refusal.
    expect((await serverAccessEntries(t, patient)).map((e) => [e.action, e.actorId])).toEqual([
      ['denied', stranger.accountId],
    ]);
  });

  it('deletes an upload that never finished and frees what its manifest reserved', async () => {
    t = await startServer({ config: { blobQuotaBytes: ONE_BLOB + 1000 } });
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const stream = streamOf(patient.accountId, 'document');
    const half = makeBlob(stream);
    expect((await createBlob(t, token, half.manifest)).status).toBe(200);
    expect((await putChunk(t, token, half.manifest.blobId, 1, half.chunks[1]!)).status).toBe(200);
    const next = makeBlob(stream);
    expect((await createBlob(t, token, next.manifest)).status).toBe(413);

    expect((await deleteBlob(t, token, half.manifest.blobId)).status).toBe(200);
    expect(storedRows(t, half.manifest.blobId)).toEqual({ manifests: 0, chunks: 0 });
    await upload(t, token, next);
  });

  it('a deletion that another request made first, after this one read the manifest, answers BLOB_DELETED', async () => {
    t = await startServer();
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const blob = makeBlob(streamOf(patient.accountId, 'document'));
    await upload(t, token, blob);
    // The other request's deletion lands between this one's manifest read and its own deletion.
    const store = t.store;
    const own = store.blobs.delete.bind(store.blobs);
    store.blobs.delete = async (blobId, deletion) => {
      await own(blobId, { ...deletion, deletedAt: isoOf(1) });
      return own(blobId, deletion);
    };
    expect(await deleteBlob(t, token, blob.manifest.blobId)).toMatchObject({
      status: 410,
      body: { code: 'BLOB_DELETED', details: { deletedAt: isoOf(1) } },
    });
    expect(storedRows(t, blob.manifest.blobId)).toEqual({ manifests: 0, chunks: 0 });
  });

  it('the uploading provider deletes while it may upload; its deletion is logged first, with its device', async () => {
    t = await startServer();
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    await grantTo(t, patient, provider, 'write');
    const providerToken = await sessionToken(t, provider.device);
    const stream = streamOf(patient.accountId, 'document');
    const blob = makeBlob(stream);
    await upload(t, providerToken, blob);
    expect(await t.store.blobs.usage(provider.accountId)).toBe(ONE_BLOB);

    expect(await deleteBlob(t, providerToken, blob.manifest.blobId)).toMatchObject({
      status: 200,
      body: { blobId: blob.manifest.blobId, stream },
    });
    expect(storedRows(t, blob.manifest.blobId)).toEqual({ manifests: 0, chunks: 0 });
    expect(await t.store.blobs.usage(provider.accountId)).toBe(0);
    const deletions = (await serverAccessEntries(t, patient)).filter((e) => e.action === 'blob-delete');
    expect(deletions).toEqual([
      {
        kind: 'AccessEvent',
        action: 'blob-delete',
        actorId: provider.accountId,
        actorDeviceId: provider.device.deviceId,
        stream,
        count: 1,
        blobId: blob.manifest.blobId,
        at: expect.any(String) as string,
      },
    ]);
  });

  it('a deletion that cannot be logged deletes nothing', async () => {
    t = await startServer();
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    await grantTo(t, patient, provider, 'write');
    const providerToken = await sessionToken(t, provider.device);
    const blob = makeBlob(streamOf(patient.accountId, 'document'));
    await upload(t, providerToken, blob);
    // A damaged patient key: the server cannot seal the access event to the patient.
    const update = t.store.db.prepare('UPDATE accounts SET wrapping_public_key = ? WHERE account_id = ?');
    const key = (
      t.store.db
        .prepare('SELECT wrapping_public_key AS k FROM accounts WHERE account_id = ?')
        .get(patient.accountId) as { k: string }
    ).k;
    update.run('damaged', patient.accountId);
    expect(await deleteBlob(t, providerToken, blob.manifest.blobId)).toMatchObject({
      status: 500,
      body: { code: 'INTERNAL' },
    });
    expect(storedRows(t, blob.manifest.blobId)).toEqual({ manifests: 1, chunks: CHUNKS });
    update.run(key, patient.accountId);
    expect((await deleteBlob(t, providerToken, blob.manifest.blobId)).status).toBe(200);
  });

  describe('refusals leave the blob whole', () => {
    let patient: TestAccount;
    let patientToken: string;
    let stream: string;

    const start = async () => {
      t = await startServer();
      patient = await registerAccount(t);
      patientToken = await sessionToken(t, patient.device);
      stream = streamOf(patient.accountId, 'document');
      return t;
    };
    const expectWhole = async (t: TestServer, blob: Blob) => {
      expect(storedRows(t, blob.manifest.blobId)).toEqual({ manifests: 1, chunks: CHUNKS });
      const got = await getChunk(t, patientToken, blob.manifest.blobId, 0);
      expect(Buffer.from(got.bytes!).equals(Buffer.from(blob.chunks[0]!))).toBe(true);
    };

    it('a provider whose consent to the stream is read-only, also for a blob it uploaded', async () => {
      const t = await start();
      const provider = await registerAccount(t, 'provider');
      const providerToken = await sessionToken(t, provider.device);
      const writeGrant = await grantTo(t, patient, provider, 'write');
      const blob = makeBlob(stream);
      await upload(t, providerToken, blob);
      await revoke(t, patient, writeGrant);
      await grantTo(t, patient, provider, 'read');
      expect((await getChunk(t, providerToken, blob.manifest.blobId, 0)).status).toBe(200);

      expect(await deleteBlob(t, providerToken, blob.manifest.blobId)).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
      await expectWhole(t, blob);
    });

    it('a provider whose consent was revoked, for a blob it uploaded', async () => {
      const t = await start();
      const provider = await registerAccount(t, 'provider');
      const providerToken = await sessionToken(t, provider.device);
      const grantId = await grantTo(t, patient, provider, 'write');
      const blob = makeBlob(stream);
      await upload(t, providerToken, blob);
      await revoke(t, patient, grantId);

      expect(await deleteBlob(t, providerToken, blob.manifest.blobId)).toMatchObject({
        status: 403,
        body: { code: 'CONSENT_REVOKED' },
      });
      await expectWhole(t, blob);
    });

    it('a provider with write consent, for a blob another account uploaded', async () => {
      const t = await start();
      const provider = await registerAccount(t, 'provider');
      const other = await registerAccount(t, 'provider');
      await grantTo(t, patient, provider, 'write');
      await grantTo(t, patient, other, 'write');
      const byPatient = makeBlob(stream);
      await upload(t, patientToken, byPatient);
      const byOther = makeBlob(stream);
      await upload(t, await sessionToken(t, other.device), byOther);

      const providerToken = await sessionToken(t, provider.device);
      for (const blob of [byPatient, byOther]) {
        expect(await deleteBlob(t, providerToken, blob.manifest.blobId)).toMatchObject({
          status: 403,
          body: { code: 'FORBIDDEN' },
        });
        await expectWhole(t, blob);
      }
    });

    it('a stranger, and a request without a session', async () => {
      const t = await start();
      const blob = makeBlob(stream);
      await upload(t, patientToken, blob);
      const strangers = [await registerAccount(t, 'provider'), await registerAccount(t)];
      for (const stranger of strangers) {
        // As the download route answers: the consent refusal for a blob that exists.
        const token = await sessionToken(t, stranger.device);
        expect((await getChunk(t, token, blob.manifest.blobId, 0)).body).toMatchObject({
          code: 'NO_CONSENT',
        });
        expect(await deleteBlob(t, token, blob.manifest.blobId)).toMatchObject({
          status: 403,
          body: { code: 'NO_CONSENT' },
        });
      }
      expect(await deleteBlob(t, undefined, blob.manifest.blobId)).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHENTICATED' },
      });
      await expectWhole(t, blob);
    });

    it('ids that are not blob ids, and ids never stored', async () => {
      const t = await start();
      const blob = makeBlob(stream);
      await upload(t, patientToken, blob);
      const counts = rowCounts(t.store);
      for (const bad of [
        'not-a-blob-id',
        blob.manifest.blobId.toLowerCase().slice(0, 25),
        `${blob.manifest.blobId}0`,
        '%00',
        `${blob.manifest.blobId}%2F..`,
      ]) {
        expect(await deleteBlob(t, patientToken, bad), bad).toMatchObject({
          status: 400,
          body: { code: 'BAD_MESSAGE' },
        });
      }
      expect(await deleteBlob(t, patientToken, newId())).toMatchObject({
        status: 404,
        body: { code: 'NOT_FOUND' },
      });
      expect(rowCounts(t.store)).toEqual(counts);
      await expectWhole(t, blob);
    });
  });

  it('downloads racing a deletion get whole, correct chunks or BLOB_DELETED; the server keeps serving', async () => {
    t = await startServer();
    const patient = await registerAccount(t);
    const token = await sessionToken(t, patient.device);
    const blob = makeBlob(streamOf(patient.accountId, 'document'), 8);
    await upload(t, token, blob);
    const server = t;
    const downloads = Array.from({ length: 4 }, () =>
      blob.chunks.map((_, i) => getChunk(server, token, blob.manifest.blobId, i)),
    ).flat();
    const [deleted, ...answers] = await Promise.all([
      deleteBlob(server, token, blob.manifest.blobId),
      ...downloads,
    ]);
    expect(deleted?.status).toBe(200);
    for (const [n, answer] of answers.entries()) {
      const index = n % blob.chunks.length;
      if (answer.status === 200) {
        expect(digestOf(answer.bytes!)).toBe(blob.manifest.digests[index]);
      } else {
        expect(answer).toMatchObject({ status: 410, body: { code: 'BLOB_DELETED' } });
      }
    }
    // Whatever the interleaving, nothing is served once the deletion answered.
    expect((await getChunk(t, token, blob.manifest.blobId, 0)).status).toBe(410);
    expect((await http(t.url, 'GET', '/healthz')).status).toBe(200);
  });
});
