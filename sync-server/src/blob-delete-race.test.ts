// A deletion committed while a chunk upload or a manifest read is under way answers BLOB_DELETED, as the
// same request after the deletion does: NOT_FOUND, or a manifest with nothing held, would read as "not
// uploaded yet" (blobs.ts header).
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import type { SyncStore } from './store/index';
import {
  createBlob,
  digestOf,
  http,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestServer,
} from './testing/harness';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A server whose store deletes blob `deleteFirst` just before the named store call runs (another request's). */
const racingServer = async (call: 'putChunk' | 'chunkIndexes') => {
  const race = { blobId: null as string | null };
  t = await startServer({
    wrapStore: (store: SyncStore): SyncStore => {
      const deleteFirst = async (blobId: string): Promise<void> => {
        if (race.blobId !== blobId) return;
        race.blobId = null;
        await store.blobs.delete(blobId, {
          deletedBy: 'another-device',
          deletedAt: new Date().toISOString(),
        });
      };
      return {
        ...store,
        blobs: {
          ...store.blobs,
          ...(call === 'putChunk'
            ? {
                putChunk: async (blobId, index, bytes, guard) => {
                  await deleteFirst(blobId);
                  return store.blobs.putChunk(blobId, index, bytes, guard);
                },
              }
            : {
                chunkIndexes: async (blobId) => {
                  await deleteFirst(blobId);
                  return store.blobs.chunkIndexes(blobId);
                },
              }),
        },
      };
    },
  });
  const patient = await registerAccount(t);
  const token = await sessionToken(t, patient.device);
  const chunk = new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40));
  const blobId = newId();
  const created = await createBlob(t, token, {
    blobId,
    stream: streamOf(patient.accountId, 'document'),
    size: MIN_CHUNK_BYTES,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  });
  expect(created.status).toBe(200);
  return { server: t, token, chunk, blobId, race };
};

it('a chunk upload racing a deletion answers BLOB_DELETED, not NOT_FOUND', async () => {
  const { server, token, chunk, blobId, race } = await racingServer('putChunk');
  race.blobId = blobId;
  const answer = await putChunk(server, token, blobId, 0, chunk);
  expect(race.blobId).toBeNull();
  expect(answer).toMatchObject({ status: 410, body: { code: 'BLOB_DELETED' } });
});

it('a manifest read racing a deletion answers BLOB_DELETED, not a manifest with nothing held', async () => {
  const { server, token, blobId, race } = await racingServer('chunkIndexes');
  race.blobId = blobId;
  const answer = await http(server.url, 'GET', `/v1/blobs/${blobId}`, undefined, token);
  expect(race.blobId).toBeNull();
  expect(answer).toMatchObject({ status: 410, body: { code: 'BLOB_DELETED' } });
});
