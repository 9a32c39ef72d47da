// Blob transfers of a grantee decide access per request, then log the access (the server signs an audit
// entry, waiting on the patient's chain lock and the disk) before they store, serve or delete. A
// revocation committed, or a grant ended by the clock, while that entry is written must still refuse the
// request with its consent code: no chunk stored, none served, nothing deleted, and the patient's log
// claims no upload or deletion of it (the log's own transaction decides again, as a download's does). The
// wait is held open by the server's Ed25519 (testing/gated-ed.ts), whose next signature waits until
// released.
import { randomBytes } from 'node:crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  createBlob,
  digestOf,
  getChunk,
  http,
  putChunk,
  sessionToken,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { accessLogged, consentSteps, startRecheck, type Recheck } from '../core/recheck.test-util';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let patientToken: string;
let providerToken: string;
let arm: Recheck['arm'];

beforeEach(async () => {
  ({ t, patient, provider, arm } = await startRecheck());
  patientToken = await sessionToken(t, patient.device);
  providerToken = await sessionToken(t, provider.device);
});
afterEach(async () => {
  await t.stop();
});

const { grantTo, revokeCommitted } = consentSteps(() => ({
  t,
  patient,
  provider,
  service: t.server.service,
}));

const SIZE = 1000;

/** A one-chunk blob in the patient's document stream, announced with `token`: its id and sealed chunk. */
const announce = async (token: string) => {
  const chunk = new Uint8Array(randomBytes(SIZE + 64));
  const blobId = newId();
  const created = await createBlob(t, token, {
    blobId,
    stream: streamOf(patient.accountId, 'document'),
    size: SIZE,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  });
  expect(created.status).toBe(200);
  return { blobId, chunk };
};

const codeOf = (body: unknown): unknown =>
  typeof body === 'object' && body !== null && 'code' in body ? body.code : body;

it('a revocation committed while a chunk upload is logged refuses it CONSENT_REVOKED; the chunk is not stored', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, chunk } = await announce(providerToken);

  const held = arm('sign');
  const uploading = putChunk(t, providerToken, blobId, 0, chunk);
  await held.reached;
  const { revoking } = await revokeCommitted(grantId);
  held.release();
  const answer = await uploading;
  await revoking;

  expect([answer.status, codeOf(answer.body)]).toEqual([403, 'CONSENT_REVOKED']);
  expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([]);
  expect(await accessLogged({ t, patient }, 'blob-up')).toEqual([]);
});

it("a grant's end passed while a chunk upload is logged refuses it CONSENT_EXPIRED; the chunk is not stored", async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const { blobId, chunk } = await announce(providerToken);

  const held = arm('sign');
  const uploading = putChunk(t, providerToken, blobId, 0, chunk);
  await held.reached;
  t.clock.advance(61_000);
  held.release();
  const answer = await uploading;

  expect([answer.status, codeOf(answer.body)]).toEqual([403, 'CONSENT_EXPIRED']);
  expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([]);
  expect(await accessLogged({ t, patient }, 'blob-up')).toEqual([]);
});

it('without a change while it is logged, the same upload is stored (the gate itself refuses nothing)', async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const { blobId, chunk } = await announce(providerToken);
  const held = arm('sign');
  const uploading = putChunk(t, providerToken, blobId, 0, chunk);
  await held.reached;
  t.clock.advance(59_000);
  held.release();
  expect((await uploading).status).toBe(200);
  expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([0]);
  expect((await accessLogged({ t, patient }, 'blob-up')).map((e) => e.count)).toEqual([1]);
});

it('a revocation committed while a chunk download is logged refuses it CONSENT_REVOKED; no byte is served', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'read' }]);
  const { blobId, chunk } = await announce(patientToken);
  expect((await putChunk(t, patientToken, blobId, 0, chunk)).status).toBe(200);

  const held = arm('sign');
  const downloading = getChunk(t, providerToken, blobId, 0);
  await held.reached;
  const { revoking } = await revokeCommitted(grantId);
  held.release();
  const answer = await downloading;
  await revoking;

  expect([answer.status, codeOf(answer.body), answer.bytes]).toEqual([403, 'CONSENT_REVOKED', undefined]);
});

it("a grant's end passed while a chunk download is logged refuses it CONSENT_EXPIRED", async () => {
  await grantTo([{ type: 'document', access: 'read' }], t.clock.now + 60_000);
  const { blobId, chunk } = await announce(patientToken);
  expect((await putChunk(t, patientToken, blobId, 0, chunk)).status).toBe(200);

  const held = arm('sign');
  const downloading = getChunk(t, providerToken, blobId, 0);
  await held.reached;
  t.clock.advance(61_000);
  held.release();
  const answer = await downloading;

  expect([answer.status, codeOf(answer.body), answer.bytes]).toEqual([403, 'CONSENT_EXPIRED', undefined]);
});

it('a revocation committed while a deletion is logged refuses it CONSENT_REVOKED; the blob stays', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, chunk } = await announce(providerToken);
  expect((await putChunk(t, providerToken, blobId, 0, chunk)).status).toBe(200);

  const held = arm('sign');
  const deleting = http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, providerToken);
  await held.reached;
  const { revoking } = await revokeCommitted(grantId);
  held.release();
  const answer = await deleting;
  await revoking;

  expect([answer.status, codeOf(answer.body)]).toEqual([403, 'CONSENT_REVOKED']);
  expect(await t.store.blobs.getManifest(blobId)).not.toBeNull();
  expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([0]);
  expect(await accessLogged({ t, patient }, 'blob-delete')).toEqual([]);
});

it("a grant's end passed while a deletion is logged refuses it CONSENT_EXPIRED; nothing logged, the blob stays", async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const { blobId, chunk } = await announce(providerToken);
  expect((await putChunk(t, providerToken, blobId, 0, chunk)).status).toBe(200);

  const held = arm('sign');
  const deleting = http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, providerToken);
  await held.reached;
  t.clock.advance(61_000);
  held.release();
  const answer = await deleting;

  expect([answer.status, codeOf(answer.body)]).toEqual([403, 'CONSENT_EXPIRED']);
  expect(await t.store.blobs.getManifest(blobId)).not.toBeNull();
  expect(await accessLogged({ t, patient }, 'blob-delete')).toEqual([]);
});

it('a deletion with no change while it is logged deletes the blob and is logged once', async () => {
  await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, chunk } = await announce(providerToken);
  expect((await putChunk(t, providerToken, blobId, 0, chunk)).status).toBe(200);
  const answer = await http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, providerToken);
  expect(answer.status).toBe(200);
  expect(await t.store.blobs.getManifest(blobId)).toBeNull();
  expect(await accessLogged({ t, patient }, 'blob-delete')).toHaveLength(1);
});
