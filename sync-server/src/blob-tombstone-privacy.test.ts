// Whether, and when, a blob was deleted is told only on its own stream: anyone else who knows its id (a
// revoked grantee, a stranger) announcing it on a stream of their own gets the answer a live blob gives.
// rs17: does a deletion leak to someone with no access to the blob's stream (e.g. a revoked grantee that
// kept the blob id)? blob-delete.test.ts: "A stranger is refused as for a live blob: nothing about the
// deletion leaks."
import { afterEach, expect, it } from 'vitest';
import {
  connect,
  createBlob,
  http,
  makeGrant,
  makeRevocation,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestServer,
} from './testing/harness';
import { storeOneChunkBlob } from './blob-stored.test-util';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

it('a revoked grantee cannot learn whether, or when, the patient deleted a file', async () => {
  t = await startServer();
  const patient = await registerAccount(t);
  const provider = await registerAccount(t, 'provider');
  const ws = await connect(t, patient.device);
  const grant = await makeGrant(patient, provider, [{ type: 'document', access: 'read' }], {
    now: t.clock.now,
  });
  expect((await ws.request({ t: 'grant', rid: ws.rid(), grant })).t).toBe('ok');
  const token = await sessionToken(t, patient.device);
  const { blobId, manifest } = await storeOneChunkBlob(t, token, patient);
  // The provider saw the blob id while it had consent; then consent ends.
  const revocation = await makeRevocation(patient, grant.grant.grantId);
  expect((await ws.request({ t: 'revoke', rid: ws.rid(), revocation })).t).toBe('ok');
  await ws.close();
  const providerToken = await sessionToken(t, provider.device);
  // Announcing the id on a stream of its own, before and after the patient deletes the file.
  const probe = () =>
    createBlob(t!, providerToken, { ...manifest, stream: streamOf(provider.accountId, 'document') });
  const before = await probe();
  expect((await http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, token)).status).toBe(200);
  const after = await probe();
  console.log({ before, after });
  expect(after.status).toBe(before.status);
});
