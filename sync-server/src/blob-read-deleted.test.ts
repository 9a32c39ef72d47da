// Reading a deleted blob: whoever may read the blob's stream is told it was deleted (BLOB_DELETED, 410,
// `details.deletedAt`), so NOT_FOUND keeps meaning "never stored here" (e.g. not uploaded yet by the device
// that added it). Anyone else — a revoked grantee who kept the id, a stranger — gets the answer a live blob
// gives them, before and after the deletion alike: the read routes tell them nothing of it (as the
// announce route does not, blob-tombstone-privacy.test.ts). Real server on a loopback port.
import { afterEach, expect, it } from 'vitest';
import { newId } from '@hale/model';
import {
  connect,
  digestOf,
  getChunk,
  http,
  makeGrant,
  makeRevocation,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  type TestServer,
} from './testing/harness';
import { storeOneChunkBlob } from './blob-stored.test-util';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

it('a deleted blob reads BLOB_DELETED to readers of its stream; a revoked grantee and a stranger see no change', async () => {
  t = await startServer();
  const patient = await registerAccount(t);
  const revoked = await registerAccount(t, 'provider');
  const reader = await registerAccount(t, 'provider');
  const stranger = await registerAccount(t);
  const ws = await connect(t, patient.device);
  const grantOf = async (provider: typeof revoked) => {
    const grant = await makeGrant(patient, provider, [{ type: 'document', access: 'read' }], {
      now: t!.clock.now,
    });
    expect((await ws.request({ t: 'grant', rid: ws.rid(), grant })).t).toBe('ok');
    return grant;
  };
  const toRevoke = await grantOf(revoked);
  await grantOf(reader);
  const token = await sessionToken(t, patient.device);
  const { blobId, chunk, manifest } = await storeOneChunkBlob(t, token, patient);
  const revocation = await makeRevocation(patient, toRevoke.grant.grantId);
  expect((await ws.request({ t: 'revoke', rid: ws.rid(), revocation })).t).toBe('ok');
  await ws.close();

  const tokens = {
    revoked: await sessionToken(t, revoked.device),
    stranger: await sessionToken(t, stranger.device),
    reader: await sessionToken(t, reader.device),
  };
  /** What `token` is answered for the manifest and the chunk: status and code (or the bytes' digest). */
  const probe = async (bearer: string) => {
    const m = await http(t!.url, 'GET', `/v1/blobs/${blobId}`, undefined, bearer);
    const c = await getChunk(t!, bearer, blobId, 0);
    const codeOf = (body: unknown) =>
      typeof body === 'object' && body !== null && 'code' in body ? body.code : null;
    return {
      manifest: [m.status, codeOf(m.body)],
      chunk: [c.status, c.bytes ? digestOf(c.bytes) : codeOf(c.body)],
    };
  };
  const before = { revoked: await probe(tokens.revoked), stranger: await probe(tokens.stranger) };
  expect(await probe(tokens.reader)).toEqual({
    manifest: [200, null],
    chunk: [200, manifest.digests[0]],
  });

  const deletion = await http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, token);
  expect(deletion.status).toBe(200);
  const deletedAt = new Date(t.clock.now).toISOString();

  // Those who may read the stream (the patient, a grantee with read consent) learn it was deleted.
  for (const bearer of [token, tokens.reader]) {
    expect(await http(t.url, 'GET', `/v1/blobs/${blobId}`, undefined, bearer)).toMatchObject({
      status: 410,
      body: { code: 'BLOB_DELETED', details: { deletedAt } },
    });
    expect(await getChunk(t, bearer, blobId, 0)).toMatchObject({
      status: 410,
      body: { code: 'BLOB_DELETED', details: { deletedAt } },
    });
  }
  // An uploader too, for a chunk of it.
  expect(await putChunk(t, token, blobId, 0, chunk)).toMatchObject({
    status: 410,
    body: { code: 'BLOB_DELETED' },
  });
  // An id never stored stays NOT_FOUND, for the patient too: not uploaded (yet).
  expect(await http(t.url, 'GET', `/v1/blobs/${newId()}`, undefined, token)).toMatchObject({
    status: 404,
    body: { code: 'NOT_FOUND' },
  });
  expect(await getChunk(t, token, newId(), 0)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });

  // A revoked grantee and a stranger: the same answers as while the blob was live.
  const after = { revoked: await probe(tokens.revoked), stranger: await probe(tokens.stranger) };
  expect(after).toEqual(before);
  // Not that they were let in before: both are refused, and never with BLOB_DELETED or NOT_FOUND.
  for (const answer of Object.values(after)) {
    expect(answer.manifest[0]).toBe(403);
    expect(answer.chunk[0]).toBe(403);
  }
});
