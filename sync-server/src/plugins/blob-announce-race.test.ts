// A grantee's blob announcement decides access from the grants it reads, then stores the manifest. A
// revocation committed (or the grant's end passed) between that read and the store's write must still
// refuse it with the consent code, and nothing of it is stored: no manifest, no quota taken. The store the
// app is given runs the test's step right after the decision's grant read answered and before the route
// goes on (testing/held-reads.ts): by ordering, not timing.
import { randomBytes } from 'node:crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  createBlob,
  digestOf,
  sessionToken,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import { consentSteps, startRecheck, type Recheck } from '../core/recheck.test-util';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let providerToken: string;
let armRead: Recheck['armRead'];

beforeEach(async () => {
  ({ t, patient, provider, armRead } = await startRecheck());
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

const announce = () => {
  const chunk = new Uint8Array(randomBytes(SIZE + 64));
  const blobId = newId();
  const answer = createBlob(t, providerToken, {
    blobId,
    stream: streamOf(patient.accountId, 'document'),
    size: SIZE,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  });
  return { blobId, answer };
};

const codeOf = (body: unknown): unknown =>
  typeof body === 'object' && body !== null && 'code' in body ? body.code : body;

/** Nothing of the announcement is stored: no manifest, and the provider's quota is untouched. */
const nothingStored = async (blobId: string) => {
  expect(await t.store.blobs.getManifest(blobId)).toBeNull();
  expect(await t.store.blobs.usage(provider.accountId)).toBe(0);
};

it('a revocation committed between the decision and the write refuses the announcement CONSENT_REVOKED', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  let revoking: Promise<void> = Promise.resolve();
  // Right after the grants the decision is made from were read: the decision allows, the write comes next.
  const moved = armRead('listUnendedFrom', async () => {
    ({ revoking } = await revokeCommitted(grantId));
  });
  const { blobId, answer } = announce();
  const { status, body } = await answer;
  await moved;
  await revoking;

  expect([status, codeOf(body)]).toEqual([403, 'CONSENT_REVOKED']);
  await nothingStored(blobId);
});

it("a grant's end passed between the decision and the write refuses the announcement CONSENT_EXPIRED", async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const moved = armRead('listUnendedFrom', () => t.clock.advance(61_000));
  const { blobId, answer } = announce();
  const { status, body } = await answer;
  await moved;

  expect([status, codeOf(body)]).toEqual([403, 'CONSENT_EXPIRED']);
  await nothingStored(blobId);
});

it('without a change there the same announcement is stored (the held read itself refuses nothing)', async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const moved = armRead('listUnendedFrom', () => t.clock.advance(59_000));
  const { blobId, answer } = announce();
  const { status } = await answer;
  await moved;

  expect(status).toBe(200);
  expect((await t.store.blobs.getManifest(blobId))?.createdBy).toBe(provider.device.deviceId);
});
