// A grantee's chunk download decides access when it arrives, then waits: on the store for the chunk, then
// on writing its access event (the patient's chain lock, the server's signature, the disk). A grant that
// ends in that wait (the clock passes its end, or a revocation commits) must refuse the download with the
// consent code, no byte served, and the patient's log must not claim a download of it. The waits are held
// open by a store whose next chunk read runs a step of the test before the route goes on
// (testing/held-reads.ts) and by the server's Ed25519, whose next signature waits (testing/gated-ed.ts).
import { randomBytes } from 'node:crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createBlob,
  digestOf,
  getChunk,
  makeRevocation,
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
let armRead: Recheck['armRead'];

beforeEach(async () => {
  ({ t, patient, provider, arm, armRead } = await startRecheck());
  patientToken = await sessionToken(t, patient.device);
  providerToken = await sessionToken(t, provider.device);
});
afterEach(async () => {
  await t.stop();
});

const consent = consentSteps(() => ({ t, patient, provider, service: t.server.service }));
const { revokeCommitted } = consent;

/** A read grant of the patient's documents to the provider, ending at `expiresAt` (or lasting). */
const grantTo = (expiresAt?: number) => consent.grantTo([{ type: 'document', access: 'read' }], expiresAt);

/** A one-chunk blob the patient stored in its document stream: its id. */
const stored = async () => {
  const size = 1000;
  const chunk = new Uint8Array(randomBytes(size + 64));
  const blobId = newId();
  const created = await createBlob(t, patientToken, {
    blobId,
    stream: streamOf(patient.accountId, 'document'),
    size,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: 1,
    digests: [digestOf(chunk)],
  });
  expect(created.status).toBe(200);
  expect((await putChunk(t, patientToken, blobId, 0, chunk)).status).toBe(200);
  return blobId;
};

const codeOf = (body: unknown): unknown =>
  typeof body === 'object' && body !== null && 'code' in body ? body.code : body;

/** Status, code and whether bytes came, of a download of chunk 0 by the provider. */
const download = async (blobId: string) => {
  const answer = await getChunk(t, providerToken, blobId, 0);
  return [answer.status, answer.status === 200 ? 'served' : codeOf(answer.body), answer.bytes?.byteLength];
};

const loggedDownloads = async () => (await accessLogged({ t, patient }, 'blob-down')).map((e) => e.count);

describe('while the download reads its chunk', () => {
  it("a grant's end passed refuses it CONSENT_EXPIRED and logs no download", async () => {
    await grantTo(t.clock.now + 60_000);
    const blobId = await stored();
    const moved = armRead('getChunk', () => t.clock.advance(61_000));
    expect(await download(blobId)).toEqual([403, 'CONSENT_EXPIRED', undefined]);
    await moved;
    expect(await loggedDownloads()).toEqual([]);
  });

  it('a repeat inside an open window whose grant ended is neither served nor counted', async () => {
    await grantTo(t.clock.now + 60_000);
    const blobId = await stored();
    // Opens the window (logged before it is served); the next download is a repeat inside it.
    expect(await download(blobId)).toEqual([200, 'served', 1064]);

    t.clock.advance(50_000);
    const moved = armRead('getChunk', () => t.clock.advance(11_000));
    expect(await download(blobId)).toEqual([403, 'CONSENT_EXPIRED', undefined]);
    await moved;

    // Ends the window: its tally would be written now. Only the download that was served is in the log.
    t.server.service.stopAccessLog();
    await t.server.service.drainAccessLog();
    expect(await loggedDownloads()).toEqual([1]);
  });
});

describe('while the download logs its access', () => {
  it("a grant's end passed refuses it CONSENT_EXPIRED and logs no download", async () => {
    await grantTo(t.clock.now + 60_000);
    const blobId = await stored();
    const held = arm('sign');
    const downloading = download(blobId);
    await held.reached;
    t.clock.advance(61_000);
    held.release();
    expect(await downloading).toEqual([403, 'CONSENT_EXPIRED', undefined]);
    expect(await loggedDownloads()).toEqual([]);
  });

  it('a revocation committed through the service refuses it CONSENT_REVOKED and logs no download', async () => {
    const grantId = await grantTo();
    const blobId = await stored();
    const held = arm('sign');
    const downloading = download(blobId);
    await held.reached;
    const { revoking } = await revokeCommitted(grantId);
    held.release();
    expect(await downloading).toEqual([403, 'CONSENT_REVOKED', undefined]);
    await revoking;
    expect(await loggedDownloads()).toEqual([]);
  });

  it('a revocation committed in the store by another process refuses it CONSENT_REVOKED and logs no download', async () => {
    const grantId = await grantTo();
    const blobId = await stored();
    const revocation = await makeRevocation(patient, grantId);
    const held = arm('sign');
    const downloading = download(blobId);
    await held.reached;
    await t.store.grants.revoke(grantId, new Date(t.clock.now).toISOString(), revocation);
    held.release();
    expect(await downloading).toEqual([403, 'CONSENT_REVOKED', undefined]);
    expect(await loggedDownloads()).toEqual([]);
  });

  it('without a change in the waits the chunk is served and logged (the seams refuse nothing)', async () => {
    await grantTo(t.clock.now + 60_000);
    const blobId = await stored();
    const moved = armRead('getChunk', () => t.clock.advance(29_000));
    const held = arm('sign');
    const downloading = download(blobId);
    await held.reached;
    t.clock.advance(30_000);
    held.release();
    expect(await downloading).toEqual([200, 'served', 1064]);
    await moved;
    expect(await loggedDownloads()).toEqual([1]);
  });
});
