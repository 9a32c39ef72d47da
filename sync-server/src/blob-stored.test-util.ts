// Blob tests that start from a file the patient's device already stored: one sealed chunk in the patient's
// document stream, announced and uploaded with the patient's session, each step answered 200.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import {
  createBlob,
  digestOf,
  putChunk,
  streamOf,
  type TestAccount,
  type TestServer,
} from './testing/harness';

/** Stores a one-chunk blob of `patient`'s with `token`: its id, sealed chunk and manifest. */
export const storeOneChunkBlob = async (t: TestServer, token: string, patient: TestAccount) => {
  const chunk = new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40));
  const blobId = newId();
  const manifest = {
    blobId,
    stream: streamOf(patient.accountId, 'document'),
    size: MIN_CHUNK_BYTES,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  };
  expect((await createBlob(t, token, manifest)).status).toBe(200);
  expect((await putChunk(t, token, blobId, 0, chunk)).status).toBe(200);
  return { blobId, chunk, manifest };
};
