// session.files when the stream was re-keyed before an upload and this device did not know yet (put right
// after connecting, a queued upload racing a re-keying elsewhere): against an in-memory blob server that,
// like the real one, refuses a new manifest under a replaced key epoch (STALE_EPOCH, nothing stored) and
// resumes a stored one. put and the upload queue fetch the stream's keys again and seal anew under the
// current epoch, a bounded number of times; a resumed put is checked against the refreshed keys first.
// And get tells a file deleted on the server (DELETED) from one never stored there (NOT_FOUND, `retry`:
// maybe not uploaded yet by the device that added it, or removed there before it was; the message says
// both). The announce names the epoch its chunks are sealed under.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, generateStreamKey, hexEncode, keyId, sealedKeyId, sha256 } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import { createDeviceMeta } from '../store/device-meta';
import { MAX_PUT_ATTEMPTS, createFiles, isFileError, type FilesHttpApi } from './files';
import { memoryBlobServer, type MemoryBlobServer } from './memory-blob-server.test-util';
import { heldAmong } from './queued-device.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ACCOUNT = 'A'.repeat(22);

/**
 * A keyring that knows the first `known` of the stream's keys (epoch = index) and writes with the last of
 * them; `refresh` learns every key `all` holds then (as fetching the envelopes again would), unless `stuck`.
 */
const laggingKeyring = (first: Uint8Array) => {
  const all = [first];
  const state = { known: 1, stuck: false, refreshes: 0 };
  return {
    all,
    state,
    rekey: (): void => void all.push(generateStreamKey()),
    writeKey: async () => ({ epoch: state.known - 1, key: all[state.known - 1]! }),
    heldKeyWithId: (stream: string, id: string) => heldAmong(all.slice(0, state.known))(stream, id),
    refresh: async () => {
      state.refreshes++;
      if (!state.stuck) state.known = all.length;
      return 0;
    },
  };
};

const filesOn = (
  api: FilesHttpApi,
  keyring: ReturnType<typeof laggingKeyring>,
  queue?: { online: { value: boolean } },
) => {
  const store = new Map<string, string>();
  const meta = createDeviceMeta({
    read: async (key) => {
      const v = store.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as unknown);
    },
    write: async (key, value) => void store.set(key, JSON.stringify(value)),
    remove: async (keys) => {
      for (const k of keys) store.delete(k);
    },
    list: async (prefix) => [...store.keys()].filter((k) => k.startsWith(prefix)).sort(),
  });
  const listeners = new Set<(online: boolean) => void>();
  const files = createFiles({
    accountId: ACCOUNT,
    api,
    device: generateDeviceKeys(),
    ed: nodeEd25519,
    keyring,
    usable: () => true,
    assertUnlocked: () => undefined,
    ...(queue
      ? {
          queue: {
            meta,
            online: () => queue.online.value,
            onOnlineChange: (listener: (online: boolean) => void) => {
              listeners.add(listener);
              listener(queue.online.value);
              return () => listeners.delete(listener);
            },
            retry: { baseMs: 20, maxMs: 40 },
          },
        }
      : {}),
  });
  const goOnline = (): void => {
    if (!queue) return;
    queue.online.value = true;
    for (const l of [...listeners]) l(true);
  };
  return { files, goOnline };
};

const fileBytes = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff;
  return bytes;
};
const input = (bytes: Uint8Array) => ({
  type: 'document' as const,
  bytes,
  fileName: 'scan.pdf',
  mediaType: 'application/pdf',
  chunkSize: MIN_CHUNK_BYTES,
});

/** The key id every stored chunk of `blobId` is sealed under. */
const sealedUnder = (server: MemoryBlobServer, blobId: string): string[] =>
  [...server.chunks.entries()]
    .filter(([k]) => k.startsWith(`${blobId}/`))
    .map(([, bytes]) => {
      const named = sealedKeyId(bytes);
      return named.ok ? named.value : 'unreadable';
    });

const until = async (check: () => boolean, what: string, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('files: a re-keying this device did not know of before the upload', () => {
  it('put is refused STALE_EPOCH, fetches the keys and seals anew under the current epoch', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    // Re-keyed elsewhere; this device still writes with epoch 0.
    keyring.rekey();
    server.epoch.current = 1;
    const { files } = filesOn(server.api, keyring);
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);

    const ref = await files.put(input(bytes));

    expect(server.calls.filter((c) => c.startsWith('createBlob'))).toEqual(['createBlob 0', 'createBlob 1']);
    expect([...server.manifests.keys()]).toEqual([ref.blobId]);
    expect(server.manifests.get(ref.blobId)?.epoch).toBe(1);
    expect(sealedUnder(server, ref.blobId)).toEqual([keyId(keyring.all[1]!), keyId(keyring.all[1]!)]);
    expect(await files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('put gives up after MAX_PUT_ATTEMPTS announces when the keys do not come (KEY_CHANGED, retry)', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    keyring.rekey();
    keyring.state.stuck = true;
    server.epoch.current = 1;
    const { files } = filesOn(server.api, keyring);

    const failed = await files.put(input(fileBytes(100))).catch((e: unknown) => e);

    expect(isFileError(failed) && [failed.code, failed.retry]).toEqual(['KEY_CHANGED', true]);
    expect(server.calls.filter((c) => c.startsWith('createBlob'))).toHaveLength(MAX_PUT_ATTEMPTS);
    expect(server.manifests.size).toBe(0);
  });

  it('a resumed put checks the refreshed keys first: a kept upload under a replaced key is sealed anew', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    const { files } = filesOn(server.api, keyring);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2);
    // Cut off after the announce: the manifest is stored under epoch 0.
    const putChunk = server.api.putChunk;
    server.api.putChunk = async () => {
      throw new HaleClientError({ code: 'NETWORK', message: 'connection reset', status: 0 });
    };
    const cut = await files.put(input(bytes)).catch((e: unknown) => e);
    server.api.putChunk = putChunk;
    expect(isFileError(cut) && cut.code).toBe('OFFLINE');
    const kept = isFileError(cut) ? cut.blobId : undefined;
    expect(server.manifests.get(kept!)?.epoch).toBe(0);
    // Re-keyed elsewhere meanwhile; the server would resume the stored manifest.
    keyring.rekey();
    server.epoch.current = 1;

    const ref = await files.put({ ...input(bytes), ...(kept === undefined ? {} : { resumeBlobId: kept }) });

    expect(ref.blobId).not.toBe(kept);
    expect(server.deleted.has(kept!)).toBe(true);
    expect(server.manifests.get(ref.blobId)?.epoch).toBe(1);
    expect(new Set(sealedUnder(server, ref.blobId))).toEqual(new Set([keyId(keyring.all[1]!)]));
  });

  it('a queued upload is refused STALE_EPOCH and sealed anew under the same blob id', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    keyring.rekey();
    server.epoch.current = 1;
    const online = { value: false };
    const { files, goOnline } = filesOn(server.api, keyring, { online });
    const bytes = fileBytes(MIN_CHUNK_BYTES + 3);
    const ref = await files.enqueue(input(bytes));

    goOnline();
    await until(() => files.uploads().length === 0, 'uploaded');

    expect(server.calls.filter((c) => c.startsWith('createBlob'))).toEqual(['createBlob 0', 'createBlob 1']);
    expect([...server.manifests.keys()]).toEqual([ref.blobId]);
    expect(new Set(sealedUnder(server, ref.blobId))).toEqual(new Set([keyId(keyring.all[1]!)]));
    expect(hexEncode(sha256(await files.get(ref, { type: 'document' })))).toBe(ref.sha256);
  });

  it('a queued upload whose keys do not come waits with backoff (bounded announces per attempt)', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    keyring.rekey();
    keyring.state.stuck = true;
    server.epoch.current = 1;
    const online = { value: false };
    const { files, goOnline } = filesOn(server.api, keyring, { online });
    await files.enqueue(input(fileBytes(200)));

    goOnline();
    await until(() => files.uploads()[0]?.lastError !== null, 'first attempt failed');
    const [first] = files.uploads();
    expect(first).toMatchObject({ state: 'queued', lastError: { code: 'KEY_CHANGED' } });
    expect(server.calls.filter((c) => c.startsWith('createBlob'))).toHaveLength(MAX_PUT_ATTEMPTS);
    expect(server.manifests.size).toBe(0);

    // The keys come: the next attempt (after the backoff) stores it under the current epoch.
    keyring.state.stuck = false;
    await until(() => files.uploads().length === 0, 'uploaded');
    expect([...server.manifests.values()].map((m) => m.epoch)).toEqual([1]);
  });
});

describe('files: the announce names its epoch', () => {
  it('the announce carries the epoch the chunks are sealed under', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    keyring.rekey();
    server.epoch.current = 1;
    const { files } = filesOn(server.api, keyring);

    const ref = await files.put(input(fileBytes(300)));

    expect(server.announced.map((b) => [b.blobId === ref.blobId, b.epoch])).toEqual([
      [false, 0],
      [true, 1],
    ]);
    expect(sealedUnder(server, ref.blobId)).toEqual([keyId(keyring.all[1]!)]);
  });
});

describe('files.get: deleted or not uploaded yet', () => {
  it('DELETED for a file deleted on the server, NOT_FOUND with retry for one never stored there', async () => {
    const server = memoryBlobServer({ epoch: 0 });
    const keyring = laggingKeyring(generateStreamKey());
    const { files } = filesOn(server.api, keyring);
    const ref = await files.put(input(fileBytes(300)));
    const missing = { ...ref, blobId: ref.blobId.replace(/.$/, (c) => (c === '0' ? '1' : '0')) };

    const notYet = await files.get(missing, { type: 'document' }).catch((e: unknown) => e);
    expect(isFileError(notYet) && [notYet.code, notYet.serverCode, notYet.retry]).toEqual([
      'NOT_FOUND',
      'NOT_FOUND',
      true,
    ]);
    // What is known, not a guess: no file under the id; not uploaded yet, or removed (never to come).
    expect(isFileError(notYet) && notYet.message).toMatch(
      /^get: the manifest: the server has no file under this id; it may not have been uploaded yet by the device that added it \(try again later\), or it was removed$/,
    );

    await files.delete(ref, { type: 'document' });
    const gone = await files.get(ref, { type: 'document' }).catch((e: unknown) => e);
    expect(isFileError(gone) && [gone.code, gone.serverCode, gone.retry]).toEqual([
      'DELETED',
      'BLOB_DELETED',
      false,
    ]);
    // Deleting it again counts as done.
    await expect(files.delete(ref, { type: 'document' })).resolves.toBeUndefined();
  });
});
