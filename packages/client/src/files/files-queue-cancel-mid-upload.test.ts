// A queued file removed from the device while its upload is under way (cancelUpload, files.delete of its
// FileRef, the purge of its stream when access ends): nothing more of it is sent. Before, the upload went
// on sending every remaining chunk (up to 100 MiB) and deleted the blob only once it ended, best effort:
// if that deletion failed (the link dropped, a lock), the file the person had deleted stayed on the server
// whole, readable by every reader of the stream holding its FileRef.
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, input, mapMeta, queuedDevice, until } from './queued-device.test-util';

const ACCOUNT = 'F'.repeat(22);
const STREAM = `${ACCOUNT}/document`;

const removals = [
  ['files.delete of its FileRef', 'delete'],
  ['cancelUpload', 'cancel'],
  ['the purge of its stream (access ended)', 'purge'],
] as const;

/** A five-chunk file queued and going out: its first chunk stored, the answer held (`held.release()`). */
const uploadUnderWay = async () => {
  const server = memoryBlobServer();
  const { meta } = mapMeta();
  const d = queuedDevice(server.api, meta, ACCOUNT);
  const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 4 + 10), 'scan.jpg'));
  const held = server.hold('putChunk 0', 'after');
  d.set(true);
  await held.reached;
  return { server, d, ref, held };
};

describe('a queued file removed while its upload is under way', () => {
  it.each(removals)('%s: no further chunk is sent, and the part sent is deleted', async (_what, how) => {
    // The first chunk is stored, its answer in flight, when the file is removed.
    const { server, d, ref, held } = await uploadUnderWay();
    if (how === 'delete') await d.files.delete(ref, { type: 'document' });
    else if (how === 'cancel') expect(await d.files.cancelUpload(ref.blobId)).toBe(true);
    else d.purge(STREAM);
    await until(() => d.files.uploads().length === 0, 'removed from the queue');
    held.release();
    await until(() => server.deleted.has(ref.blobId), 'deleted on the server');

    expect(server.calls.filter((c) => c.startsWith('putChunk'))).toEqual(['putChunk 0']);
  });

  it('the deletion after it fails (the link dropped): the server holds a part, never the whole file', async () => {
    const { server, d, ref, held } = await uploadUnderWay();
    await d.files.delete(ref, { type: 'document' });
    server.refuseNext('deleteBlob');
    held.release();
    await until(() => server.calls.includes(`deleteBlob ${ref.blobId}`), 'a deletion tried');
    await new Promise((r) => setTimeout(r, 50));

    const got = await server.api.getBlob(ref.blobId, 'token');
    expect([got.complete, got.have]).toEqual([false, [0]]);
  });
});

describe('a cancel whose removal of the bytes fails on this device', () => {
  it('unlisted, rejected with the store error, and the part on the server is deleted all the same', async () => {
    const server = memoryBlobServer();
    const { meta, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'scan.jpg'));
    // Cut off after its manifest and first chunk: a part is on the server.
    server.refuseNext('putChunk 1');
    d.set(true);
    await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'cut off');
    d.set(false);
    faults.failRemoves = 1;
    const outcome = await d.files.cancelUpload(ref.blobId).catch((e: unknown) => e);
    expect(String(outcome)).toMatch(/refused the removal/);
    expect(d.files.uploads()).toEqual([]);
    expect(server.calls).toContain(`deleteBlob ${ref.blobId}`);
    expect(server.deleted.has(ref.blobId)).toBe(true);
  });
});
