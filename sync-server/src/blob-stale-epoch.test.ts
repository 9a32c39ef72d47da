// No new blob is stored sealed under a stream key a re-keying replaced: an announce names the key epoch its
// chunks are sealed under, and a new manifest under an epoch that is no longer the stream's current one is
// refused with STALE_EPOCH (409, `details.epoch` the current one) and nothing is stored or reserved — for
// the patient and for a grantee with write access (whose announce also passes the access guard in the same
// transaction). A manifest stored before the re-keying is resumed (announced again) as before: its sealed
// bytes were committed then. An announce naming no epoch is refused (BAD_MESSAGE). Real server on a
// loopback port.
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { generateStreamKey } from '@hale/crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import {
  connect,
  createBlob,
  digestOf,
  makeEnvelope,
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

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const CHUNKS = 2;

const makeBlob = (stream: string, epoch: number) => {
  const chunks = Array.from({ length: CHUNKS }, () => new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 40)));
  const manifest: BlobManifestInput = {
    blobId: newId(),
    stream,
    size: CHUNKS * MIN_CHUNK_BYTES,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: CHUNKS,
    digests: chunks.map(digestOf),
    epoch,
  };
  return { chunks, manifest };
};

it('a new manifest under a replaced epoch is STALE_EPOCH and stores nothing; a stored one resumes', async () => {
  t = await startServer();
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const ws = await connect(t, patient.device);
  const grant = await makeGrant(patient, provider, [{ type: 'document', access: 'write' }], {
    now: t.clock.now,
  });
  expect((await ws.request({ t: 'grant', rid: ws.rid(), grant })).t).toBe('ok');
  const stream = streamOf(patient.accountId, 'document');
  /** The patient re-keys the stream: its own envelope of the next epoch, under a fresh key. */
  const rekey = async (epoch: number) => {
    const own = await makeEnvelope(patient, patient.device, patient, 'document', epoch, generateStreamKey());
    expect((await ws.request({ t: 'putEnvelopes', rid: ws.rid(), envelopes: [own] })).t).toBe('ok');
    expect(await t!.store.envelopes.currentEpoch(stream)).toBe(epoch);
  };
  const token = await sessionToken(t, patient.device);
  const providerToken = await sessionToken(t, provider.device);

  // Announced under epoch 0 (the stream's first key), one chunk sent; then the stream is re-keyed.
  const early = makeBlob(stream, 0);
  expect(await createBlob(t, token, early.manifest)).toMatchObject({ status: 200, body: { have: [] } });
  expect((await putChunk(t, token, early.manifest.blobId, 0, early.chunks[0]!)).status).toBe(200);
  await rekey(1);

  const counts = rowCounts(t.store);
  const usage = {
    patient: await t.store.blobs.usage(patient.accountId),
    provider: await t.store.blobs.usage(provider.accountId),
  };
  // A new blob sealed under the replaced key: refused, by the patient's device and by the grantee's.
  for (const bearer of [token, providerToken]) {
    const stale = makeBlob(stream, 0);
    expect(await createBlob(t, bearer, stale.manifest)).toMatchObject({
      status: 409,
      body: { code: 'STALE_EPOCH', details: { epoch: 1 } },
    });
    expect(await t.store.blobs.getManifest(stale.manifest.blobId)).toBeNull();
    // Its chunks have nowhere to go.
    expect(await putChunk(t, bearer, stale.manifest.blobId, 0, stale.chunks[0]!)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    // An epoch the stream never reached is no better.
    expect(await createBlob(t, bearer, { ...stale.manifest, epoch: 2 })).toMatchObject({
      status: 409,
      body: { code: 'STALE_EPOCH', details: { epoch: 1 } },
    });
  }
  expect(rowCounts(t.store)).toEqual(counts);
  expect(await t.store.blobs.usage(patient.accountId)).toBe(usage.patient);
  expect(await t.store.blobs.usage(provider.accountId)).toBe(usage.provider);

  // Under the current epoch it is stored.
  const current = makeBlob(stream, 1);
  expect(await createBlob(t, providerToken, current.manifest)).toMatchObject({ status: 200 });
  expect(await t.store.blobs.getManifest(current.manifest.blobId)).not.toBeNull();

  // The manifest stored before the re-keying is resumed: announced again, it answers what is held.
  expect(await createBlob(t, token, early.manifest)).toMatchObject({ status: 200, body: { have: [0] } });
  expect(await putChunk(t, token, early.manifest.blobId, 1, early.chunks[1]!)).toMatchObject({
    status: 200,
    body: { have: [0, 1] },
  });
  // A different manifest under its id is still ALREADY_EXISTS, not STALE_EPOCH: the id is taken.
  expect(
    await createBlob(t, token, { ...makeBlob(stream, 1).manifest, blobId: early.manifest.blobId }),
  ).toMatchObject({ status: 409, body: { code: 'ALREADY_EXISTS' } });
  await ws.close();
});

it('an announce without epoch is refused BAD_MESSAGE, nothing stored', async () => {
  t = await startServer();
  const patient = await registerAccount(t);
  const ws = await connect(t, patient.device);
  const stream = streamOf(patient.accountId, 'document');
  const own = await makeEnvelope(patient, patient.device, patient, 'document', 1, generateStreamKey());
  expect((await ws.request({ t: 'putEnvelopes', rid: ws.rid(), envelopes: [own] })).t).toBe('ok');
  expect(await t.store.envelopes.currentEpoch(stream)).toBe(1);
  const token = await sessionToken(t, patient.device);
  const announce = (body: object) =>
    fetch(`${t!.url}/v1/blobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  // Naming the replaced epoch: refused, nothing stored.
  const stale = makeBlob(stream, 0);
  const refused = await announce(stale.manifest);
  expect(refused.status).toBe(409);
  expect(await refused.json()).toMatchObject({ code: 'STALE_EPOCH', details: { epoch: 1 } });
  expect(await t.store.blobs.getManifest(stale.manifest.blobId)).toBeNull();

  // The same blob announced without an epoch: refused as malformed, nothing stored or reserved.
  const usage = await t.store.blobs.usage(patient.accountId);
  const { epoch: _left, ...without } = stale.manifest;
  const answer = await announce(without);
  expect(answer.status).toBe(400);
  expect(await answer.json()).toMatchObject({ code: 'BAD_MESSAGE' });
  expect(await t.store.blobs.getManifest(stale.manifest.blobId)).toBeNull();
  expect(await t.store.blobs.usage(patient.accountId)).toBe(usage);
  await ws.close();
});
