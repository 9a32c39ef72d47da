// session.files against an in-memory blob server: which streams carry files, input refused before anything
// is sent, and the checks of get that the end-to-end tests (test/files/files.e2e.test.ts) cannot reach through a
// real server's rules (a manifest misstating the chunk size, a blob missing chunks, a blob sealed under two
// epochs, a key never given); puts racing a re-keying and each other (each put its own blob, a resume only
// when asked, a running upload never deleted by another put, a FileRef only under the key the stream
// writes with at the end); delete refusing a blob of another stream; the bounds on kept uploads; keyring
// failures as FileError; and a lock in the middle of an upload and of a download.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  base64urlEncode,
  generateDeviceKeys,
  generateStreamKey,
  keyId,
  sealBytes,
  sealedKeyId,
  sha256,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { RECORD_KIND_NAMES, RECORD_KINDS, exampleRecord, validateRecord, type FileRef } from '@hale/model';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import { AccountError, isAccountError } from '../core/account-error';
import { KeyringError } from '../sync/keyring';
import {
  FILE_STREAM_TYPES,
  MAX_FILE_BYTES,
  MAX_PUT_ATTEMPTS,
  createFiles,
  isFileError,
  type FilePutInput,
  type FilesDeps,
  type MaybeFilesHttpApi,
} from './files';
import { memoryBlobServer, type MemoryBlobServer } from './memory-blob-server.test-util';
import { heldAmong } from './queued-device.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ACCOUNT = 'A'.repeat(22);
const STREAM = `${ACCOUNT}/document`;

/** A keyring holding `keys[e]` for epoch e of every stream, writing with the last. */
const keyringOf = (keys: Uint8Array[]) => ({
  keys,
  writeKey: async () => {
    const key = keys.at(-1);
    return key ? { epoch: keys.length - 1, key } : null;
  },
  heldKeyWithId: heldAmong(keys),
  refresh: async () => 0,
});

const filesOn = (
  api: MaybeFilesHttpApi | undefined,
  keyring: FilesDeps['keyring'] = keyringOf([generateStreamKey()]),
  state = { usable: true, locked: false },
  keep?: FilesDeps['keep'],
) =>
  createFiles({
    accountId: ACCOUNT,
    api,
    device: generateDeviceKeys(),
    ed: nodeEd25519,
    keyring,
    usable: () => state.usable,
    // As the session's assertUsable: LOCKED once the account is locked.
    assertUnlocked: () => {
      if (state.locked) throw new AccountError('LOCKED', 'the account was locked');
    },
    ...(keep ? { keep } : {}),
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
const serveChunk = (server: MemoryBlobServer, ref: FileRef, index: number, sealed: Uint8Array): void => {
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
    const server = memoryBlobServer();
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
      blobId: await outcome(files.delete({ ...good, blobId: 'a'.repeat(26) }, { type: 'document' })),
      getType: await outcome(files.get(good, { type: 'note' as 'document' })),
      deleteType: await outcome(files.delete(good, { type: 'note' as 'document' })),
      noLocation: await outcome(files.delete(good, undefined as unknown as { type: 'document' })),
      resumeBlobId: await outcome(files.put(put(small, { resumeBlobId: 'not an id' }))),
      // From plain JavaScript: no input at all is refused as input, not a TypeError from within.
      noInput: await outcome(files.put(null as unknown as FilePutInput)),
      undefinedInput: await outcome(files.put(undefined as unknown as FilePutInput)),
      noEnqueueInput: await outcome(files.enqueue(null as unknown as FilePutInput)),
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
      deleteType: 'INVALID_INPUT type',
      noLocation: 'INVALID_INPUT location',
      resumeBlobId: 'INVALID_INPUT resumeBlobId',
      noInput: 'INVALID_INPUT input',
      undefinedInput: 'INVALID_INPUT input',
      noEnqueueInput: 'INVALID_INPUT input',
    });
    expect(server.calls).toEqual([]);
  });

  it('says why a name or type was refused in the words of the model, which refuses a name of spaces', async () => {
    const files = filesOn(memoryBlobServer().api);
    const doc = exampleRecord('HealthDocument');
    const bad = [
      ['fileName', { fileName: '   ' }],
      ['mediaType', { mediaType: 'pdf' }],
    ] as const;
    for (const [field, over] of bad) {
      const refusal: unknown = await files.put(put(fileBytes(10), over)).catch((e: unknown) => e);
      const model = validateRecord('HealthDocument', { ...doc, file: { ...doc.file, ...over } });
      const reason = model.ok ? 'accepted' : model.error.issues[0]?.reason;
      expect([field, isFileError(refusal) ? refusal.message : String(refusal)]).toEqual([
        field,
        `${field} ${reason}; nothing was sent`,
      ]);
    }
  });

  it('without an HTTP API that has the blob routes, every call says so', async () => {
    const { api } = memoryBlobServer();
    const wrappedRootOnly: MaybeFilesHttpApi = { challenge: api.challenge, session: api.session };
    const ref = await filesOn(api).put(put(fileBytes(10)));
    for (const files of [filesOn(undefined), filesOn(wrappedRootOnly)]) {
      expect(await outcome(files.put(put(fileBytes(10))))).toBe('NO_HTTP_API');
      expect(await outcome(files.get(ref, { type: 'document' }))).toBe('NO_HTTP_API');
      expect(await outcome(files.delete(ref, { type: 'document' }))).toBe('NO_HTTP_API');
    }
  });

  it('a closed session refuses LOCKED', async () => {
    const server = memoryBlobServer();
    const state = { usable: true, locked: false };
    const files = filesOn(server.api, keyringOf([generateStreamKey()]), state);
    const ref = await files.put(put(fileBytes(10)));
    state.usable = false;
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe('AccountError LOCKED');
    expect(await outcome(files.put(put(fileBytes(10))))).toBe('AccountError LOCKED');
  });

  it('an empty file and a file of whole chunks come back as they went', async () => {
    const files = filesOn(memoryBlobServer().api);
    for (const bytes of [new Uint8Array(0), fileBytes(MIN_CHUNK_BYTES * 2)]) {
      const ref = await files.put(put(bytes));
      expect(ref.size).toBe(bytes.length);
      expect(Buffer.from(await files.get(ref, { type: 'document' })).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('a manifest misstating the chunk size is refused (SIZE_MISMATCH)', async () => {
    const server = memoryBlobServer();
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

  it('a blob the server holds only part of is INCOMPLETE, to retry: an enqueued upload may still be under way', async () => {
    const server = memoryBlobServer();
    const files = filesOn(server.api);
    const ref = await files.put(put(fileBytes(MIN_CHUNK_BYTES + 5)));
    server.chunks.delete(`${ref.blobId}/1`);
    const refused = await files.get(ref, { type: 'document' }).catch((e: unknown) => e);
    expect(isFileError(refused) && [refused.code, refused.retry]).toEqual(['INCOMPLETE', true]);
    expect(server.calls.filter((c) => c.startsWith('getChunk'))).toEqual([]);
  });

  it('a chunk sealed under another epoch of the stream, or under a key never given, is refused', async () => {
    const server = memoryBlobServer();
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
    const server = memoryBlobServer();
    const keyring = keyringOf([generateStreamKey()]);
    const files = filesOn(server.api, keyring);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 5);
    server.refuseNext('putChunk 1');
    const cut = await files.put(put(bytes)).catch((e: unknown) => e);
    expect(isFileError(cut) && [cut.code, cut.retry]).toEqual(['OFFLINE', true]);
    const first = isFileError(cut) ? cut.blobId : undefined;

    keyring.keys.push(generateStreamKey());
    server.calls.length = 0;
    const ref = await files.put(put(bytes, { resumeBlobId: first! }));
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

  it("put seals the bytes as they were at the call, and leaves the caller's array as it is", async () => {
    const server = memoryBlobServer();
    const files = filesOn(server.api);
    const original = fileBytes(MIN_CHUNK_BYTES + 5);
    for (const bytes of [original.slice(), Buffer.from(original)]) {
      const pending = files.put(put(bytes));
      bytes.fill(7); // the caller reuses its array while put runs
      const ref = await pending;
      expect(bytes.every((b) => b === 7)).toBe(true);
      bytes.set(original);
      const got = await files.get(ref, { type: 'document' });
      expect(Buffer.from(got).equals(Buffer.from(original))).toBe(true);
      // Left as it is: put's own copy, not the caller's array, is zeroed when it settles.
      expect(Buffer.from(bytes).equals(Buffer.from(original))).toBe(true);
    }
  });

  describe('puts racing a re-keying and each other', () => {
    it('a second put of the same bytes after a re-keying leaves the FileRef of a put still running readable', async () => {
      const server = memoryBlobServer();
      const keyring = keyringOf([generateStreamKey()]);
      const files = filesOn(server.api, keyring);
      const bytes = fileBytes(MIN_CHUNK_BYTES * 2);
      // A's last chunk is stored, its answer in flight.
      const held = server.hold('putChunk 1', 'after');
      const a = files.put(put(bytes));
      await held.reached;
      keyring.keys.push(generateStreamKey()); // a grant ended: the stream is re-keyed
      const b = files.put(put(bytes)); // the same put again (a double tap, a retry on a UI timeout)
      await new Promise((r) => setTimeout(r, 20));
      held.release();
      const [refA, refB] = await Promise.all([a, b]);
      expect(refA.blobId).not.toBe(refB.blobId);
      // The caller of A keeps refA in a record: it must stay readable.
      expect(await outcome(files.get(refA, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);
      expect(await outcome(files.get(refB, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);
    });

    it('a resume of an upload another put is resuming starts a blob of its own and deletes nothing', async () => {
      const server = memoryBlobServer();
      const keyring = keyringOf([generateStreamKey()]);
      const files = filesOn(server.api, keyring);
      const bytes = fileBytes(MIN_CHUNK_BYTES * 2);
      server.refuseNext('putChunk 1');
      const cut = await files.put(put(bytes)).catch((e: unknown) => e);
      const x = isFileError(cut) && cut.retry ? cut.blobId : undefined;
      expect(x).toBeDefined();

      const held = server.hold('putChunk 1', 'before');
      const c = files.put(put(bytes, { resumeBlobId: x! }));
      await held.reached;
      keyring.keys.push(generateStreamKey());
      const d = await files.put(put(bytes, { resumeBlobId: x! }));
      // C runs on x: D, which found the stream re-keyed, neither took nor deleted it.
      expect(d.blobId).not.toBe(x);
      expect(server.manifests.has(x!)).toBe(true);
      expect(server.calls).not.toContain(`deleteBlob ${x!}`);

      held.release();
      const refC = await c;
      for (const ref of [refC, d]) {
        expect(await outcome(files.get(ref, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);
      }
      expect(refC.blobId).not.toBe(d.blobId);
    });

    it('a stream re-keyed during the upload: the blob is deleted and the FileRef names one under the new key', async () => {
      const server = memoryBlobServer();
      const keyring = keyringOf([generateStreamKey()]);
      const files = filesOn(server.api, keyring);
      const bytes = fileBytes(MIN_CHUNK_BYTES * 2);
      const held = server.hold('putChunk 1', 'before');
      const a = files.put(put(bytes));
      await held.reached;
      const first = server.manifests.keys().next().value;
      keyring.keys.push(generateStreamKey()); // a grant ended; the device re-keys the stream
      held.release();
      const ref = await a;

      const named = sealedKeyId(server.chunks.get(`${ref.blobId}/0`)!);
      expect(named.ok && named.value).toBe(keyId(keyring.keys[1]!));
      expect(ref.blobId).not.toBe(first);
      expect(server.calls).toContain(`deleteBlob ${first}`);
      expect([...server.manifests.keys()]).toEqual([ref.blobId]);
      expect(await outcome(files.get(ref, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);
    });

    it(`re-keyed during each of ${MAX_PUT_ATTEMPTS} uploads: KEY_CHANGED, every upload deleted`, async () => {
      const server = memoryBlobServer();
      const keyring = keyringOf([generateStreamKey()]);
      const inner = server.api.putChunk;
      server.api.putChunk = async (blobId, index, bytes, t) => {
        if (index === 0) keyring.keys.push(generateStreamKey());
        return inner(blobId, index, bytes, t);
      };
      const files = filesOn(server.api, keyring);
      const failed = await files.put(put(fileBytes(MIN_CHUNK_BYTES + 5))).catch((e: unknown) => e);
      expect(isFileError(failed) && [failed.code, failed.retry, failed.blobId]).toEqual([
        'KEY_CHANGED',
        true,
        undefined,
      ]);
      expect(server.calls.filter((c) => c === 'createBlob')).toHaveLength(MAX_PUT_ATTEMPTS);
      expect(server.calls.filter((c) => c.startsWith('deleteBlob'))).toHaveLength(MAX_PUT_ATTEMPTS);
      expect(server.manifests.size).toBe(0);
    });

    it('no write key after the upload (a re-keying not confirmed yet): NO_KEY, the upload deleted', async () => {
      const server = memoryBlobServer();
      const keyring = keyringOf([generateStreamKey()]);
      let writable = true;
      const inner = server.api.putChunk;
      server.api.putChunk = async (blobId, index, bytes, t) => {
        writable = false;
        return inner(blobId, index, bytes, t);
      };
      const files = filesOn(server.api, {
        ...keyring,
        writeKey: async () => (writable ? keyring.writeKey() : null),
      });
      expect(await outcome(files.put(put(fileBytes(10))))).toBe('NO_KEY');
      expect(server.calls.filter((c) => c.startsWith('deleteBlob'))).toHaveLength(1);
      expect(server.manifests.size).toBe(0);
    });
  });

  describe('each put its own blob; a resume only when asked', () => {
    it('two puts of the same bytes at the same time get two blobs: deleting one leaves the other', async () => {
      const server = memoryBlobServer();
      const files = filesOn(server.api);
      const bytes = fileBytes(MIN_CHUNK_BYTES + 5);
      const [one, two] = await Promise.all([files.put(put(bytes)), files.put(put(bytes))]);
      expect(one.blobId).not.toBe(two.blobId);
      await files.delete(one, { type: 'document' });
      expect(await outcome(files.get(two, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);
    });

    it("resumeBlobId resumes the cut-off upload, sending only what the server lacks; a put without it doesn't", async () => {
      const server = memoryBlobServer();
      const files = filesOn(server.api);
      const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 5);
      server.refuseNext('putChunk 1');
      const cut = await files.put(put(bytes)).catch((e: unknown) => e);
      const x = isFileError(cut) && cut.retry ? cut.blobId : undefined;

      server.calls.length = 0;
      const fresh = await files.put(put(bytes));
      expect(fresh.blobId).not.toBe(x);
      expect(server.calls).toEqual(['createBlob', 'putChunk 0', 'putChunk 1', 'putChunk 2']);

      server.calls.length = 0;
      // Of other bytes: not this upload's file, so a new blob; the cut-off one stays kept.
      const other = await files.put(put(fileBytes(10), { resumeBlobId: x! }));
      expect(other.blobId).not.toBe(x);

      server.calls.length = 0;
      const resumed = await files.put(put(bytes, { resumeBlobId: x! }));
      expect(resumed.blobId).toBe(x);
      expect(server.calls).toEqual(['createBlob', 'putChunk 1', 'putChunk 2']);
      expect(await outcome(files.get(resumed, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);
    });

    it('kept uploads are bounded in count and bytes, the oldest dropped first, the latest always kept', async () => {
      const cutOff = async (files: ReturnType<typeof filesOn>, server: MemoryBlobServer, seed: number) => {
        const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + seed);
        server.refuseNext('putChunk 1');
        const e = await files.put(put(bytes)).catch((error: unknown) => error);
        return { bytes, blobId: isFileError(e) && e.retry ? e.blobId! : 'none' };
      };
      /** Whether a resume of `cut` resumed it (the same blob) rather than starting anew. */
      const resumes = async (
        files: ReturnType<typeof filesOn>,
        cut: { bytes: Uint8Array; blobId: string },
      ): Promise<boolean> =>
        (await files.put(put(cut.bytes, { resumeBlobId: cut.blobId }))).blobId === cut.blobId;

      // Count: two kept; of three cut off, the oldest is dropped.
      let server = memoryBlobServer();
      let files = filesOn(server.api, undefined, undefined, { uploads: 2, bytes: 1 << 30 });
      let cuts = [
        await cutOff(files, server, 1),
        await cutOff(files, server, 2),
        await cutOff(files, server, 3),
      ];
      expect([
        await resumes(files, cuts[0]!),
        await resumes(files, cuts[1]!),
        await resumes(files, cuts[2]!),
      ]).toEqual([false, true, true]);

      // Bytes: each cut-off upload holds a whole chunk and a few bytes unconfirmed; room for one and a half
      // chunks keeps only the latest.
      server = memoryBlobServer();
      files = filesOn(server.api, undefined, undefined, { uploads: 10, bytes: MIN_CHUNK_BYTES * 1.5 });
      cuts = [await cutOff(files, server, 1), await cutOff(files, server, 2)];
      expect([await resumes(files, cuts[0]!), await resumes(files, cuts[1]!)]).toEqual([false, true]);

      // No room at all: the one just cut off is still kept.
      server = memoryBlobServer();
      files = filesOn(server.api, undefined, undefined, { uploads: 0, bytes: 0 });
      expect(await resumes(files, await cutOff(files, server, 1))).toBe(true);
    });
  });

  it("delete refuses a blob the server files in another stream than the record's, and deletes nothing", async () => {
    const server = memoryBlobServer();
    const files = filesOn(server.api);
    const bytes = fileBytes(MIN_CHUNK_BYTES + 5);
    // A document's file, named in a message attachment (a grantee with write consent to messages can).
    const ref = await files.put(put(bytes));
    server.calls.length = 0;
    expect(await outcome(files.delete(ref, { type: 'message' }))).toBe('CONTEXT_MISMATCH');
    expect(server.calls).toEqual(['getBlob']);
    expect(await outcome(files.get(ref, { type: 'document' }))).toBe(`resolved ${bytes.length} bytes`);

    await files.delete(ref, { type: 'document' });
    expect(server.manifests.has(ref.blobId)).toBe(false);
    // Again (a retry after a lost answer): done.
    expect(await outcome(files.delete(ref, { type: 'document' }))).toBe('resolved undefined');
  });

  it("the keyring's failures come out as FileError naming the blob; LOCKED as it is", async () => {
    const server = memoryBlobServer();
    const keyring = keyringOf([generateStreamKey()]);
    const ref = await filesOn(server.api, keyring).put(put(fileBytes(10)));
    const failing = (error: Error) =>
      filesOn(server.api, {
        ...keyring,
        writeKey: async () => Promise.reject(error),
        heldKeyWithId: () => null,
        refresh: async () => Promise.reject(error),
      });
    const seen = async (attempt: Promise<unknown>) => {
      const e = await attempt.catch((error: unknown) => error);
      if (isFileError(e)) return { code: e.code, blobId: e.blobId, retry: e.retry, cause: e.cause };
      return isAccountError(e) ? `AccountError ${e.code}` : e;
    };
    const storeFailure = new Error('the device store is closed');
    const unconfirmed = new KeyringError('CLAIM_UNCONFIRMED', 'no key held for epoch 1');
    const network = new HaleClientError({ code: 'NETWORK', message: 'connection reset', status: 0 });

    expect(await seen(failing(storeFailure).get(ref, { type: 'document' }))).toEqual({
      code: 'KEYRING_FAILED',
      blobId: ref.blobId,
      retry: false,
      cause: storeFailure,
    });
    expect(await seen(failing(network).get(ref, { type: 'document' }))).toEqual({
      code: 'OFFLINE',
      blobId: ref.blobId,
      retry: true,
      cause: network,
    });
    expect(await seen(failing(unconfirmed).put(put(fileBytes(10))))).toEqual({
      code: 'KEYRING_FAILED',
      blobId: undefined,
      retry: false,
      cause: unconfirmed,
    });
    const locked = new AccountError('LOCKED', 'locked');
    expect(await seen(failing(locked).put(put(fileBytes(10))))).toBe('AccountError LOCKED');
    expect(await seen(failing(locked).get(ref, { type: 'document' }))).toBe('AccountError LOCKED');
  });

  describe('a lock in the middle', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('of an upload: nothing more is sent', async () => {
      const server = memoryBlobServer();
      const state = { usable: true, locked: false };
      const files = filesOn(server.api, keyringOf([generateStreamKey()]), state);
      const bytes = fileBytes(MIN_CHUNK_BYTES * 3);
      const held = server.hold('putChunk 1', 'after');
      const a = files.put(put(bytes));
      await held.reached;
      Object.assign(state, { usable: false, locked: true });
      const sent = server.calls.length;
      held.release();
      expect(await outcome(a)).toBe('AccountError LOCKED');
      expect(server.calls.slice(sent)).toEqual([]);
    });

    it('of a download: nothing more is fetched, the bytes assembled are zeroed and not returned', async () => {
      const server = memoryBlobServer();
      const state = { usable: true, locked: false };
      const files = filesOn(server.api, keyringOf([generateStreamKey()]), state);
      const bytes = fileBytes(MIN_CHUNK_BYTES * 3);
      const ref = await files.put(put(bytes));
      // What get copies each opened chunk into: the file's bytes as they are assembled.
      const set = vi.spyOn(Uint8Array.prototype, 'set');
      const held = server.hold('getChunk 1', 'after');
      const got = files.get(ref, { type: 'document' });
      await held.reached;
      Object.assign(state, { usable: false, locked: true });
      const fetched = server.calls.length;
      held.release();
      expect(await outcome(got)).toBe('AccountError LOCKED');
      expect(server.calls.slice(fetched)).toEqual([]);
      const assembled = set.mock.contexts.filter(
        (target): target is Uint8Array => target instanceof Uint8Array && target.length === bytes.length,
      );
      // Chunk 0 was copied in before the lock; none of it is left.
      expect(assembled.length).toBeGreaterThan(0);
      expect(assembled.every((out) => out.every((b) => b === 0))).toBe(true);
    });
  });
});
