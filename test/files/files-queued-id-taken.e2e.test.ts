// A file added offline (`files.enqueue`) is named in records before it is uploaded, so its blob id is not
// secret: a provider with write consent to one of the patient's streams can read it in a record and
// announce that id first, with bytes of its own. Against the real server, the patient's device must keep
// its only copy of the file (listed as refused, readable from the queue), never take the provider's blob
// for it and never drop it because of what the provider did with the id. The phone is a HaleSession of
// openHaleForTests; the provider, who only calls the server, an account the test server registered.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HaleSession } from '@hale/client';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import {
  createBlob,
  digestOf,
  http,
  putChunk,
  registerAccount,
  sessionToken,
  type TestServer,
} from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { online, useHaleSessions, when } from '../client-api/hale-devices';
import { openFileDevice, writeGrant } from './file-parties';

const server = useServer({ realClock: true });
const sessions: HaleSession[] = useHaleSessions();

/** A patient phone and a provider holding write consent to `type`; the phone offline with a file queued. */
const queuedWithGrantee = async (type: 'document' | 'message') => {
  const { t } = server;
  const provider = await registerAccount(t, 'provider');
  const { session: phone } = await openFileDevice(t.url, sessions);
  await online(phone);
  const patientId = phone.account.accountId;
  await phone.consent.verifyProvider(provider.accountId);
  await writeGrant(phone, provider.accountId, type);
  phone.sync.goOffline();
  // Two whole chunks, so the provider's chunks below are of the lengths the server takes.
  const bytes = new Uint8Array(2 * MIN_CHUNK_BYTES).map((_, i) => (i * 31 + 7) & 0xff);
  const file = await phone.files.enqueue({
    type: 'document',
    bytes,
    fileName: 'discharge.pdf',
    mediaType: 'application/pdf',
    chunkSize: MIN_CHUNK_BYTES,
  });
  // The provider's own bytes under the phone's id (it read the FileRef in a record of the patient's).
  const token = await sessionToken(t, provider.device);
  const junk = new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40));
  const chunkCount = Math.ceil(file.size / MIN_CHUNK_BYTES);
  const taken = {
    blobId: file.blobId,
    stream: `${patientId}/${type}`,
    size: file.size,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount,
    digests: Array.from({ length: chunkCount }, () => digestOf(junk)),
  };
  const announced = await createBlob(t, token, taken);
  expect(announced.body).toMatchObject({ blobId: file.blobId });
  for (let i = 0; i < chunkCount; i++)
    expect((await putChunk(t, token, file.blobId, i, junk)).status).toBe(200);
  return { t, phone, file, bytes, token, taken };
};

const storedDigests = (t: TestServer, blobId: string): string =>
  (
    t.store.db.prepare('SELECT digests FROM blob_manifests WHERE blob_id = ?').get(blobId) as {
      digests: string;
    }
  ).digests;

describe('a queued file whose id a provider announced first, on the real server', () => {
  it('in the same stream, with its own chunks: the phone keeps the file, refused; the blob stays the provider’s', async () => {
    const { t, phone, file, bytes, taken } = await queuedWithGrantee('document');
    const before = storedDigests(t, file.blobId);
    phone.sync.goOnline();
    // The refusal is reported once the queue has marked the file failed.
    await when(
      phone.sync.state,
      (s) => s.errors.some((e) => e.code === 'UPLOAD_REFUSED'),
      'the upload is refused',
    );
    expect(phone.files.uploads.get()[0]?.state).toBe('failed');
    expect(phone.files.uploads.get()[0]?.lastError?.code).toBe('CONTEXT_MISMATCH');
    expect(
      phone.sync.state.get().errors.some((e) => e.code === 'UPLOAD_REFUSED' && e.id === file.blobId),
    ).toBe(true);
    expect(await phone.files.get(file, { type: 'document' })).toEqual(bytes);
    expect(phone.sync.state.get().pendingUploads).toBe(1);
    // Nothing of the phone's went under the id.
    expect(storedDigests(t, file.blobId)).toBe(before);
    expect(JSON.parse(before)).toEqual(taken.digests);
  });

  it('in another stream, then deleted: the phone keeps the file, refused DELETED', async () => {
    const { t, phone, file, bytes, token } = await queuedWithGrantee('message');
    expect((await http(t.url, 'DELETE', `/v1/blobs/${file.blobId}`, undefined, token)).status).toBe(200);
    phone.sync.goOnline();
    await when(phone.files.uploads, (u) => u[0]?.state === 'failed', 'the upload is refused');
    expect(phone.files.uploads.get()[0]?.lastError?.code).toBe('DELETED');
    expect(phone.files.uploads.get()[0]?.lastError?.message).toMatch(/keeps the file/);
    expect(await phone.files.get(file, { type: 'document' })).toEqual(bytes);
  });
});
