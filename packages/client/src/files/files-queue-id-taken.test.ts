// A queued file's blob id is public before its first announce: its FileRef is in a record that syncs while
// the file waits in the queue. Another writer of the patient's streams who reads that record can announce
// the id first. The queue must then keep the only copy of the file, never take the other party's blob for
// it; and a delete through a FileRef of one stream must never remove a blob of another stream.
import { describe, expect, it } from 'vitest';
import { base64urlEncode, generateDeviceKeys, generateStreamKey, randomBytes, sha256 } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import { createFiles, isFileError } from './files';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, heldAmong, input, mapMeta, queuedDevice, until } from './queued-device.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ACCOUNT = 'Q'.repeat(22);
const STREAM = `${ACCOUNT}/document` as const;

const settled = (d: ReturnType<typeof queuedDevice>) =>
  until(
    () => d.files.uploads().length === 0 || d.files.uploads()[0]?.state === 'failed',
    'uploaded or failed',
  );

describe('a queued file whose id another writer of the stream announced first', () => {
  it('with chunks of its own under the same size: refused, the file kept here, nothing of it taken', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);
    const ref = await d.files.enqueue(input(bytes));
    const junk = [randomBytes(MIN_CHUNK_BYTES + 40), randomBytes(10 + 40)];
    server.manifests.set(ref.blobId, {
      blobId: ref.blobId,
      stream: STREAM,
      size: ref.size,
      chunkSize: MIN_CHUNK_BYTES,
      chunkCount: 2,
      digests: junk.map((c) => base64urlEncode(sha256(c))),
      epoch: 0,
    });
    junk.forEach((c, i) => server.chunks.set(`${ref.blobId}/${i}`, c));

    d.set(true);
    await settled(d);
    const [u] = d.files.uploads();
    expect(u?.blobId).toBe(ref.blobId);
    expect(u?.state).toBe('failed');
    expect(u?.lastError?.code).toBe('CONTEXT_MISMATCH');
    expect(u?.lastError?.message).toMatch(/another file under the id.*keeps the file.*cancelUpload/);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_REFUSED', ref.blobId]]);
    // Nothing was sent under the id, and the file is still readable here.
    expect(server.calls.filter((c) => c.startsWith('putChunk'))).toEqual([]);
    expect(server.calls.filter((c) => c === 'createBlob')).toHaveLength(1);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('with another size: refused, the file kept here', async () => {
    const server = memoryBlobServer();
    const d = queuedDevice(server.api, mapMeta().meta, ACCOUNT);
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);
    const ref = await d.files.enqueue(input(bytes));
    const junk = randomBytes(50);
    server.manifests.set(ref.blobId, {
      blobId: ref.blobId,
      stream: STREAM,
      size: 10,
      chunkSize: MIN_CHUNK_BYTES,
      chunkCount: 1,
      digests: [base64urlEncode(sha256(junk))],
      epoch: 0,
    });
    d.set(true);
    await settled(d);
    expect(d.files.uploads()[0]?.lastError?.code).toBe('CONTEXT_MISMATCH');
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('and deleted (a tombstone this device never uploaded to): kept here, failed, saying what to do', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);
    const ref = await d.files.enqueue(input(bytes));
    server.deleted.add(ref.blobId);
    d.set(true);
    await settled(d);
    const [u] = d.files.uploads();
    expect(u?.state).toBe('failed');
    expect(u?.lastError).toMatchObject({ code: 'DELETED', serverCode: 'BLOB_DELETED' });
    expect(u?.lastError?.message).toMatch(/keeps the file.*cancelUpload.*add it again/);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_REFUSED', ref.blobId]]);
    expect([...store.keys()].filter((k) => k.startsWith(`upload-chunk-${ref.blobId}-p`))).toHaveLength(2);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
    // Cancelled by the person, it goes.
    expect(await d.files.cancelUpload(ref.blobId)).toBe(true);
    expect([...store.keys()].filter((k) => k.startsWith('upload-chunk-'))).toEqual([]);
  });

  it('in another stream and deleted (ALREADY_EXISTS, then BLOB_DELETED): kept here', async () => {
    const server = memoryBlobServer();
    // What sync-server answers once a grantee with write consent to messages announced the id in the
    // patient's message stream and deleted it: the announce in the document stream is ALREADY_EXISTS, the
    // manifest read BLOB_DELETED.
    server.api.createBlob = async () => {
      throw new HaleClientError({ code: 'ALREADY_EXISTS', message: 'another manifest', status: 409 });
    };
    server.api.getBlob = async () => {
      throw new HaleClientError({ code: 'BLOB_DELETED', message: 'deleted', status: 410 });
    };
    const d = queuedDevice(server.api, mapMeta().meta, ACCOUNT);
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);
    const ref = await d.files.enqueue(input(bytes));
    d.set(true);
    await settled(d);
    expect(d.files.uploads()[0]?.lastError?.code).toBe('DELETED');
    expect(d.reports.map((r) => r.code)).toEqual(['UPLOAD_REFUSED']);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });
});

describe('delete through a FileRef of one stream', () => {
  it('never removes a blob announced in another stream after its manifest read', async () => {
    const server = memoryBlobServer();
    // Device B of the patient queued a document scan (its FileRef is in a document record already).
    const b = queuedDevice(server.api, mapMeta().meta, ACCOUNT);
    const ref = await b.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10)));
    // Device A: the patient deletes a message attachment (written by a grantee) naming the same blob id.
    const key = generateStreamKey();
    const a = createFiles({
      accountId: ACCOUNT,
      api: server.api,
      device: generateDeviceKeys(),
      ed: nodeEd25519,
      keyring: {
        writeKey: async () => ({ epoch: 0, key }),
        heldKeyWithId: heldAmong([key]),
        refresh: async () => 0,
      },
      usable: () => true,
      assertUnlocked: () => undefined,
    });
    // A's manifest read answers NOT_FOUND (nothing uploaded yet); its answer is held in flight.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let answered = false;
    const getBlob = server.api.getBlob;
    server.api.getBlob = async (...args) => {
      try {
        return await getBlob(...args);
      } finally {
        answered = true;
        await released;
      }
    };
    const deleting = a.delete(ref, { type: 'message' }).catch((e: unknown) => e);
    await until(() => answered, 'the manifest read answered');
    server.api.getBlob = getBlob;
    // Meanwhile device B comes online and uploads the document whole.
    b.set(true);
    await until(() => b.files.uploads().length === 0, 'document uploaded');
    release();
    const outcome = await deleting;
    expect(isFileError(outcome) && outcome.code).toBe('NOT_FOUND');
    expect(server.calls.filter((c) => c.startsWith('deleteBlob'))).toEqual([]);
    expect(server.manifests.get(ref.blobId)?.stream).toBe(STREAM);
  });
});
