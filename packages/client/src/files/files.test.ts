// session.files against an in-memory blob server: which streams carry files, input refused before anything
// is sent, and the checks of get that the end-to-end tests (test/files.e2e.test.ts) cannot reach through a
// real server's rules (a manifest misstating the chunk size, an unfinished upload, a blob sealed under two
// epochs, a key never given), and an upload cut off before a re-keying, which is sealed anew, not resumed.
import { describe, expect, it } from 'vitest';
import {
  base64urlEncode,
  generateDeviceKeys,
  generateStreamKey,
  randomBytes,
  sealBytes,
  sha256,
  tweetnaclEd25519,
} from '@hale/crypto';
import { RECORD_KIND_NAMES, RECORD_KINDS, type FileRef } from '@hale/model';
import { MIN_CHUNK_BYTES, type HttpBlobCreateRequest, type HttpBlobManifestResponse } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import { isAccountError } from '../account/errors';
import {
  FILE_STREAM_TYPES,
  MAX_FILE_BYTES,
  createFiles,
  isFileError,
  type FilePutInput,
  type FilesHttpApi,
  type MaybeFilesHttpApi,
} from './files';

const ACCOUNT = 'A'.repeat(22);
const STREAM = `${ACCOUNT}/document`;

/** A blob server in memory: manifests, chunks, and every call made to it. */
const memoryServer = () => {
  const manifests = new Map<string, HttpBlobCreateRequest>();
  const chunks = new Map<string, Uint8Array>();
  const deleted = new Set<string>();
  const calls: string[] = [];
  /** Throws, instead of answering, the call `fail` names (once per name). */
  const failures = new Set<string>();
  const have = (blobId: string): number[] =>
    [...chunks.keys()]
      .filter((k) => k.startsWith(`${blobId}/`))
      .map((k) => Number(k.split('/')[1]))
      .sort((a, b) => a - b);
  const step = (call: string): void => {
    calls.push(call);
    if (failures.delete(call)) {
      throw new HaleClientError({ code: 'NETWORK', message: `${call}: connection reset`, status: 0 });
    }
  };
  const manifest = (blobId: string): HttpBlobCreateRequest => {
    const m = manifests.get(blobId);
    if (!m) throw new HaleClientError({ code: 'NOT_FOUND', message: 'blob not found', status: 404 });
    return m;
  };
  const api: FilesHttpApi = {
    challenge: async () => ({
      challengeId: base64urlEncode(randomBytes(16)),
      nonce: base64urlEncode(randomBytes(32)),
      serverId: 'srv_test',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    }),
    session: async () => ({
      token: 'tok_0123456789abcdef',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    }),
    createBlob: async (body) => {
      step('createBlob');
      if (!manifests.has(body.blobId)) manifests.set(body.blobId, body);
      return { blobId: body.blobId, have: have(body.blobId) };
    },
    putChunk: async (blobId, index, bytes) => {
      step(`putChunk ${index}`);
      manifest(blobId);
      chunks.set(`${blobId}/${index}`, bytes.slice());
      return { have: have(blobId) };
    },
    getBlob: async (blobId): Promise<HttpBlobManifestResponse> => {
      step('getBlob');
      const m = manifest(blobId);
      const held = have(blobId).filter((i) => i < m.chunkCount);
      return { ...m, have: held, complete: held.length === m.chunkCount };
    },
    getChunk: async (blobId, index) => {
      step(`getChunk ${index}`);
      const bytes = chunks.get(`${blobId}/${index}`);
      if (!bytes) throw new HaleClientError({ code: 'NOT_FOUND', message: 'chunk not stored', status: 404 });
      return bytes.slice();
    },
    deleteBlob: async (blobId) => {
      step(`deleteBlob ${blobId}`);
      if (deleted.has(blobId)) {
        throw new HaleClientError({ code: 'BLOB_DELETED', message: 'deleted already', status: 410 });
      }
      const m = manifest(blobId);
      manifests.delete(blobId);
      deleted.add(blobId);
      for (const i of have(blobId)) chunks.delete(`${blobId}/${i}`);
      return { blobId, stream: m.stream, deletedAt: new Date().toISOString() };
    },
  };
  return { api, manifests, chunks, calls, failures };
};

/** A keyring holding `keys[e]` for epoch e of every stream, writing with the last. */
const keyringOf = (keys: Uint8Array[]) => ({
  keys,
  writeKey: async () => {
    const key = keys.at(-1);
    return key ? { epoch: keys.length - 1, key } : null;
  },
  keyFor: async (_stream: string, epoch: number) => keys[epoch] ?? null,
  currentEpoch: () => keys.length - 1,
  refresh: async () => 0,
});

const filesOn = (
  api: MaybeFilesHttpApi | undefined,
  keyring = keyringOf([generateStreamKey()]),
  state = { usable: true, locked: false },
) =>
  createFiles({
    accountId: ACCOUNT,
    api,
    device: generateDeviceKeys(),
    ed: tweetnaclEd25519,
    keyring,
    usable: () => state.usable,
    assertUnlocked: () => {
      if (state.locked) throw new Error('locked');
    },
  });

const fileBytes = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
};

const put = (bytes: Uint8Array, extra: Partial<FilePutInput> = {}): FilePutInput => ({
  type: 'document',
  bytes,
  fileName: 'scan.pdf',
  mediaType: 'application/pdf',
  chunkSize: MIN_CHUNK_BYTES,
  ...extra,
});

const outcome = (attempt: Promise<unknown>): Promise<string> =>
  attempt.then(
    (value) => `resolved ${value instanceof Uint8Array ? `${value.length} bytes` : typeof value}`,
    (e: unknown) =>
      isFileError(e)
        ? `${e.code}${e.field === undefined ? '' : ` ${e.field}`}`
        : isAccountError(e)
          ? `AccountError ${e.code}`
          : `untyped: ${String(e)}`,
  );

/** Seals chunk `index` of `blobId` under `key` at `epoch` and serves it, its digest in the manifest too. */
const serveChunk = (
  server: ReturnType<typeof memoryServer>,
  ref: FileRef,
  index: number,
  sealed: Uint8Array,
): void => {
  server.chunks.set(`${ref.blobId}/${index}`, sealed);
  const m = server.manifests.get(ref.blobId)!;
  server.manifests.set(ref.blobId, {
    ...m,
    digests: m.digests.map((d, i) => (i === index ? base64urlEncode(sha256(sealed)) : d)),
  });
};

describe('files', () => {
  it('carries files in exactly the stream types of the record kinds that hold a FileRef', () => {
    const holdsFileRef = (schema: unknown): boolean => JSON.stringify(schema).includes('"title":"FileRef"');
    const types = new Set(
      RECORD_KIND_NAMES.filter((kind) => holdsFileRef(RECORD_KINDS[kind].schema)).map(
        (kind) => RECORD_KINDS[kind].streamType,
      ),
    );
    expect([...types].sort()).toEqual([...FILE_STREAM_TYPES].sort());
  });

  it('refuses bad input naming the field, before anything is sent', async () => {
    const server = memoryServer();
    const files = filesOn(server.api);
    const small = fileBytes(10);
    const good = await files.put(put(small));
    server.calls.length = 0;
    const refusals = {
      type: await outcome(files.put(put(small, { type: 'allergy' as 'document' }))),
      patientId: await outcome(files.put(put(small, { patientId: 'not an account' }))),
      bytes: await outcome(files.put(put(new Uint8Array(MAX_FILE_BYTES + 1)))),
      notBytes: await outcome(files.put(put([1, 2, 3] as unknown as Uint8Array))),
      chunkSize: await outcome(files.put(put(small, { chunkSize: MIN_CHUNK_BYTES - 1 }))),
      fileName: await outcome(files.put(put(small, { fileName: '' }))),
      mediaType: await outcome(files.put(put(small, { mediaType: 'pdf' }))),
      sha256: await outcome(files.get({ ...good, sha256: 'ABC' }, { type: 'document' })),
      extra: await outcome(files.get({ ...good, at: 1 } as FileRef, { type: 'document' })),
      blobId: await outcome(files.delete({ ...good, blobId: 'a'.repeat(26) })),
      getType: await outcome(files.get(good, { type: 'note' as 'document' })),
    };
    expect(refusals).toEqual({
      type: 'INVALID_INPUT type',
      patientId: 'INVALID_INPUT patientId',
      bytes: 'INVALID_INPUT bytes',
      notBytes: 'INVALID_INPUT bytes',
      chunkSize: 'INVALID_INPUT chunkSize',
      fileName: 'INVALID_INPUT fileName',
      mediaType: 'INVALID_INPUT mediaType',
      sha256: 'INVALID_INPUT fileRef.sha256',
      extra: 'INVALID_INPUT fileRef.at',
      blobId: 'INVALID_INPUT fileRef.blobId',
      getType: 'INVALID_INPUT type',
    });
    expect(server.calls).toEqual([]);
  });

  it('without an HTTP API that has the blob routes, every call says so', async () => {
    const { api } = memoryServer();
    const wrappedRootOnly: MaybeFilesHttpApi = { challenge: api.challenge, session: api.session };
    const ref = await filesOn(api).put(put(fileBytes(10)));
    for (const files of [filesOn(undefined), filesOn(wrappedRootOnly)]) {
      expect(await outcome(files.put(put(fileBytes(10))))).toBe('NO_HTTP_API');
      expect(await outcome(files.get(ref, { type: 'document' }))).toBe('NO_HTTP_API');
      expect(await outcome(files.delete(ref))).toBe('NO_HTTP_API');
    }
  });

  it('a closed session refuses LOCKED', async () => {
    const server = memoryServer();
    const state = { usable: true, locked: false };
    const files = filesOn(server.api, keyringOf([generateStreamKey()]), state);
    const ref = await files.put(put(fileBytes(10)));
    state.usable = false;
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe('AccountError LOCKED');
    expect(await outcome(files.put(put(fileBytes(10))))).toBe('AccountError LOCKED');
  });

  it('an empty file and a file of whole chunks come back as they went', async () => {
    const files = filesOn(memoryServer().api);
    for (const bytes of [new Uint8Array(0), fileBytes(MIN_CHUNK_BYTES * 2)]) {
      const ref = await files.put(put(bytes));
      expect(ref.size).toBe(bytes.length);
      expect(Buffer.from(await files.get(ref, { type: 'document' })).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('a manifest misstating the chunk size is refused (SIZE_MISMATCH)', async () => {
    const server = memoryServer();
    const files = filesOn(server.api);
    const ref = await files.put(put(fileBytes(MIN_CHUNK_BYTES * 3)));
    const m = server.manifests.get(ref.blobId)!;
    // Twice the chunk size over the same three chunks: count and digests still agree with each other.
    server.manifests.set(ref.blobId, {
      ...m,
      chunkSize: MIN_CHUNK_BYTES * 2,
      chunkCount: 2,
      digests: m.digests.slice(0, 2),
    });
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe('SIZE_MISMATCH');
  });

  it('an unfinished upload is INCOMPLETE, to retry', async () => {
    const server = memoryServer();
    const files = filesOn(server.api);
    const ref = await files.put(put(fileBytes(MIN_CHUNK_BYTES + 5)));
    server.chunks.delete(`${ref.blobId}/1`);
    const refused = await files.get(ref, { type: 'document' }).catch((e: unknown) => e);
    expect(isFileError(refused) && [refused.code, refused.retry]).toEqual(['INCOMPLETE', true]);
    expect(server.calls.filter((c) => c.startsWith('getChunk'))).toEqual([]);
  });

  it('a chunk sealed under another epoch of the stream, or under a key never given, is refused', async () => {
    const server = memoryServer();
    const keyring = keyringOf([generateStreamKey(), generateStreamKey()]);
    const files = filesOn(server.api, keyring);
    const ref = await files.put(put(fileBytes(MIN_CHUNK_BYTES + 5)));
    const second = fileBytes(MIN_CHUNK_BYTES + 5).subarray(MIN_CHUNK_BYTES);
    // Sealed for this very blob and index, under epoch 0's key: authentic, but not the file's epoch.
    serveChunk(
      server,
      ref,
      1,
      sealBytes(keyring.keys[0]!, { blobId: ref.blobId, chunkIndex: 1, epoch: 0 }, second),
    );
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe('CONTEXT_MISMATCH');
    serveChunk(
      server,
      ref,
      1,
      sealBytes(generateStreamKey(), { blobId: ref.blobId, chunkIndex: 1, epoch: 1 }, second),
    );
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe('NO_KEY');
    serveChunk(
      server,
      ref,
      1,
      sealBytes(keyring.keys[1]!, { blobId: ref.blobId, chunkIndex: 1, epoch: 1 }, second),
    );
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe(`resolved ${ref.size} bytes`);
  });

  it('an upload cut off before the stream was re-keyed is sealed anew, not resumed', async () => {
    const server = memoryServer();
    const keyring = keyringOf([generateStreamKey()]);
    const files = filesOn(server.api, keyring);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 5);
    server.failures.add('putChunk 1');
    const cut = await files.put(put(bytes)).catch((e: unknown) => e);
    expect(isFileError(cut) && [cut.code, cut.retry]).toEqual(['OFFLINE', true]);
    const first = isFileError(cut) ? cut.blobId : undefined;

    keyring.keys.push(generateStreamKey());
    server.calls.length = 0;
    const ref = await files.put(put(bytes));
    expect(ref.blobId).not.toBe(first);
    expect(server.calls).toEqual([
      `deleteBlob ${first}`,
      'createBlob',
      'putChunk 0',
      'putChunk 1',
      'putChunk 2',
    ]);
    expect(server.manifests.has(first!)).toBe(false);
    expect(server.manifests.get(ref.blobId)?.stream).toBe(STREAM);
    // Epoch 1 only: the reader would refuse a chunk of epoch 0 among them (the test above).
    expect(Buffer.from(await files.get(ref, { type: 'document' })).equals(Buffer.from(bytes))).toBe(true);
  });
});
