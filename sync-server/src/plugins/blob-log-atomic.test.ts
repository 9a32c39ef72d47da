// A grantee's chunk upload and blob deletion are logged in the patient's audit stream. The entry and the
// write it claims must land together: a grant ending (the clock passing its end, a revocation committed)
// just after the entry committed and before the chunk or deletion did used to leave an entry for a write
// the store then refused. A test step runs right after each store write that commits a server access
// entry (or, for a repeated upload counted into its open window, just before the chunk's own write).
import { randomBytes } from 'node:crypto';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  createBlob,
  digestOf,
  http,
  putChunk,
  registerAccount,
  sessionToken,
  startServer,
  streamOf,
  type TestAccount,
  type TestServer,
} from '../testing/harness';
import type { SyncStore } from '../store/index';
import { accessLogged, consentSteps } from '../core/recheck.test-util';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let patientToken: string;
let providerToken: string;
/** Runs once, right after the next store write that committed a server access entry. */
let afterEntry: (() => Promise<void> | void) | undefined;
/** Runs once, just before the next chunk write that carries no access entry. */
let beforeBareChunk: (() => Promise<void>) | undefined;

const holdsEntry = (rows: readonly { doc: { author: string } }[] | undefined): boolean =>
  rows?.some((r) => r.doc.author === t.server.server.serverId) ?? false;

const runAfterEntry = async (): Promise<void> => {
  const step = afterEntry;
  afterEntry = undefined;
  await step?.();
};

beforeEach(async () => {
  afterEntry = undefined;
  beforeBareChunk = undefined;
  t = await startServer({
    wrapStore: (store): SyncStore => ({
      ...store,
      docs: {
        ...store.docs,
        writeDocs: async (...args) => {
          const results = await store.docs.writeDocs(...args);
          if (holdsEntry(args[0])) await runAfterEntry();
          return results;
        },
      },
      blobs: {
        ...store.blobs,
        putChunk: async (blobId, index, bytes, guard, entries) => {
          if (!holdsEntry(entries?.rows)) {
            const step = beforeBareChunk;
            beforeBareChunk = undefined;
            await step?.();
          }
          await store.blobs.putChunk(blobId, index, bytes, guard, entries);
          if (holdsEntry(entries?.rows)) await runAfterEntry();
        },
        delete: async (blobId, deletion, guard, entries) => {
          const tombstone = await store.blobs.delete(blobId, deletion, guard, entries);
          if (holdsEntry(entries?.rows)) await runAfterEntry();
          return tombstone;
        },
      },
    }),
  });
  patient = await registerAccount(t);
  provider = await registerAccount(t, 'provider');
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

/** A blob of `chunks` chunks in the patient's document stream, announced with `token`. */
const announce = async (token: string, chunks = 1) => {
  const sealed = Array.from({ length: chunks }, () => new Uint8Array(randomBytes(MIN_CHUNK_BYTES + 64)));
  const blobId = newId();
  const created = await createBlob(t, token, {
    blobId,
    stream: streamOf(patient.accountId, 'document'),
    size: MIN_CHUNK_BYTES * chunks,
    chunkSize: MIN_CHUNK_BYTES,
    chunkCount: chunks,
    digests: sealed.map(digestOf),
  });
  expect(created.status).toBe(200);
  return { blobId, sealed };
};

const uploadsLogged = async (): Promise<number> =>
  (await accessLogged({ t, patient }, 'blob-up')).reduce((n, e) => n + e.count, 0);

it("a grant's end passed just after a chunk upload's entry committed: the chunk and its entry land together", async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const { blobId, sealed } = await announce(providerToken);
  afterEntry = () => t.clock.advance(61_000);

  const answer = await putChunk(t, providerToken, blobId, 0, sealed[0]!);

  expect(afterEntry).toBeUndefined();
  const stored = await t.store.blobs.chunkIndexes(blobId);
  expect(await uploadsLogged()).toBe(stored.length);
  expect([answer.status, stored]).toEqual([200, [0]]);
});

it('a revocation committed while a repeated upload (counted into its open window) is written: neither stored nor counted', async () => {
  const grantId = await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, sealed } = await announce(providerToken, 2);
  expect((await putChunk(t, providerToken, blobId, 0, sealed[0]!)).status).toBe(200);
  let revoking: Promise<void> | undefined;
  beforeBareChunk = async () => {
    ({ revoking } = await revokeCommitted(grantId));
  };

  const answer = await putChunk(t, providerToken, blobId, 1, sealed[1]!);
  await revoking;
  await t.server.service.drainAccessLog();

  expect(beforeBareChunk).toBeUndefined();
  expect(answer.status).toBe(403);
  const stored = await t.store.blobs.chunkIndexes(blobId);
  expect(stored).toEqual([0]);
  expect(await uploadsLogged()).toBe(stored.length);
});

it("a grant's end passed just after a deletion's entry committed: the deletion and its entry land together", async () => {
  await grantTo([{ type: 'document', access: 'write' }], t.clock.now + 60_000);
  const { blobId, sealed } = await announce(providerToken);
  expect((await putChunk(t, providerToken, blobId, 0, sealed[0]!)).status).toBe(200);
  afterEntry = () => t.clock.advance(61_000);

  const answer = await http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, providerToken);

  expect(afterEntry).toBeUndefined();
  const deleted = (await t.store.blobs.getManifest(blobId)) === null;
  expect((await accessLogged({ t, patient }, 'blob-delete')).length).toBe(deleted ? 1 : 0);
  expect([answer.status, deleted]).toEqual([200, true]);
});

it("a patient's own chunk upload and deletion log nothing and carry no entry", async () => {
  const { blobId, sealed } = await announce(patientToken);
  expect((await putChunk(t, patientToken, blobId, 0, sealed[0]!)).status).toBe(200);
  expect((await http(t.url, 'DELETE', `/v1/blobs/${blobId}`, undefined, patientToken)).status).toBe(200);
  expect(await accessLogged({ t, patient }, 'blob-up')).toEqual([]);
  expect(await accessLogged({ t, patient }, 'blob-delete')).toEqual([]);
});

it("a device's chunk uploads at once: one opens the window with its chunk, the others are counted once stored", async () => {
  await grantTo([{ type: 'document', access: 'write' }]);
  const { blobId, sealed } = await announce(providerToken, 4);
  const answers = await Promise.all(sealed.map((bytes, i) => putChunk(t, providerToken, blobId, i, bytes)));
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  t.server.service.stopAccessLog();
  await t.server.service.drainAccessLog();
  expect((await accessLogged({ t, patient }, 'blob-up')).map((e) => e.count)).toEqual([1, 3]);
  expect(await t.store.blobs.chunkIndexes(blobId)).toEqual([0, 1, 2, 3]);
});
