// session.files.enqueue and the upload queue (upload-queue.ts) against an in-memory blob server and device
// metadata: a file queued offline answers its FileRef at once and its bytes from the queue, is uploaded
// once online, survives a restart, is uploaded once even after a crash between the last chunk and its
// removal, is sealed under the key the stream writes with at upload time, waits with backoff after a
// failure that can pass, is reported and kept after a refusal for good, can be cancelled (files.delete
// too), is refused with nothing stored when the queue is full, and is not uploaded once locked. The
// plaintext is not in the raw storage of a real device database.
import { afterEach, describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  base64urlEncode,
  generateDeviceKeys,
  generateStreamKey,
  hexEncode,
  keyId,
  sealedKeyId,
  sha256,
  utf8Encode,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import { AtRestError } from '../store/at-rest-encryption';
import { closeDeviceDb, openDeviceDb, type DeviceDb } from '../store/device-db';
import { deviceMetaStore } from '../store/meta-store';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';
import { createFiles, isFileError, type FilesHttpApi, type FilesQueueDeps } from './files';
import { memoryBlobServer, type BlobCall } from './memory-blob-server.test-util';
import { heldAmong } from './queued-device.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ACCOUNT = 'A'.repeat(22);
const STREAM = `${ACCOUNT}/document`;

/** Device metadata over a Map (as RxDB local documents would hold it, values as JSON). */
const mapMeta = (store = new Map<string, string>()) => ({
  store,
  meta: createDeviceMeta({
    read: async (key) => {
      const v = store.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as unknown);
    },
    write: async (key, value) => void store.set(key, JSON.stringify(value)),
    remove: async (keys) => {
      for (const k of keys) store.delete(k);
    },
    list: async (prefix) => [...store.keys()].filter((k) => k.startsWith(prefix)).sort(),
  }),
});

const keyringOf = (keys: Uint8Array[]) => ({
  keys,
  writeKey: async () => {
    const key = keys.at(-1);
    return key ? { epoch: keys.length - 1, key } : null;
  },
  heldKeyWithId: heldAmong(keys),
  refresh: async () => 0,
});

/** A device: files over `meta`, online when `link.online`; `link.set` flips it as the sync state would. */
const device = (
  api: FilesHttpApi,
  meta: DeviceMeta,
  options: {
    keyring?: ReturnType<typeof keyringOf>;
    online?: boolean;
    bounds?: FilesQueueDeps['bounds'];
    whyNotWritable?: (stream: string) => string | null;
  } = {},
) => {
  const state = { usable: true, online: options.online ?? false };
  const listeners = new Set<(online: boolean) => void>();
  const reports: Array<{ code: string; id: string }> = [];
  const files = createFiles({
    accountId: ACCOUNT,
    api,
    device: generateDeviceKeys(),
    ed: nodeEd25519,
    keyring: options.keyring ?? keyringOf([generateStreamKey()]),
    usable: () => state.usable,
    assertUnlocked: () => undefined,
    queue: {
      meta,
      online: () => state.online,
      onOnlineChange: (listener) => {
        listeners.add(listener);
        listener(state.online);
        return () => listeners.delete(listener);
      },
      report: (issue) => reports.push({ code: issue.code, id: issue.id }),
      retry: { baseMs: 20, maxMs: 40 },
      ...(options.bounds ? { bounds: options.bounds } : {}),
      ...(options.whyNotWritable ? { whyNotWritable: options.whyNotWritable } : {}),
    },
  });
  const set = (online: boolean): void => {
    state.online = online;
    for (const l of [...listeners]) l(online);
  };
  const close = (): void => {
    state.usable = false;
    set(false);
  };
  return { files, state, set, close, reports, listeners };
};

const fileBytes = (size: number, seed = 3): Uint8Array => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return bytes;
};

const input = (bytes: Uint8Array) => ({
  type: 'document' as const,
  bytes,
  fileName: 'lab report.jpg',
  mediaType: 'image/jpeg',
  chunkSize: MIN_CHUNK_BYTES,
});

const until = async (check: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const chunkKeys = (store: Map<string, string>): string[] =>
  [...store.keys()].filter((k) => k.startsWith('upload-chunk-'));

describe('files.enqueue: the offline upload queue', () => {
  it('answers the FileRef offline, serves the bytes from the queue, and uploads once online', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = device(server.api, meta);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 100);

    const ref = await d.files.enqueue(input(bytes));

    expect(ref).toEqual({
      blobId: ref.blobId,
      fileName: 'lab report.jpg',
      mediaType: 'image/jpeg',
      size: bytes.length,
      sha256: hexEncode(sha256(bytes)),
    });
    expect(server.calls).toEqual([]);
    expect(d.files.uploads()).toMatchObject([{ blobId: ref.blobId, stream: STREAM, state: 'queued' }]);
    expect(chunkKeys(store)).toHaveLength(3);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
    expect(server.calls).toEqual([]);

    d.set(true);
    await until(() => d.files.uploads().length === 0, 'uploaded');

    expect(server.manifests.get(ref.blobId)?.stream).toBe(STREAM);
    expect(server.calls.filter((c) => c.startsWith('putChunk'))).toHaveLength(3);
    expect(chunkKeys(store)).toEqual([]);
    // Now from the server, checked as any file.
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
    expect(server.calls).toContain('getChunk 2');
  });

  it('survives a restart: a file queued by a closed session is uploaded by the next one', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const keyring = keyringOf([generateStreamKey()]);
    const first = device(server.api, meta, { keyring });
    const ref = await first.files.enqueue(input(fileBytes(1000)));
    first.close();

    const second = device(server.api, meta, { keyring });
    await until(() => second.files.uploads().length === 1, 'listed after the restart');
    second.set(true);
    await until(() => second.files.uploads().length === 0, 'uploaded');
    expect([...server.manifests.keys()]).toEqual([ref.blobId]);
  });

  it('a crash after the last chunk, before the removal, re-announces the same blob: one blob', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const keyring = keyringOf([generateStreamKey()]);
    const first = device(server.api, meta, { keyring });
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);
    const ref = await first.files.enqueue(input(bytes));
    const last = server.hold('putChunk 1', 'after');
    first.set(true);
    await last.reached;
    // The device's store as a crash would leave it: every chunk on the server, the file still queued.
    const crashed = new Map(store);
    first.close();
    last.release();

    const again = mapMeta(crashed);
    const second = device(server.api, again.meta, { keyring });
    await until(() => second.files.uploads().length === 1, 'still queued after the crash');
    second.set(true);
    await until(() => second.files.uploads().length === 0, 'done after the crash');
    expect([...server.manifests.keys()]).toEqual([ref.blobId]);
    expect(server.calls.filter((c) => c === 'createBlob')).toHaveLength(2);
    expect(server.calls.filter((c) => c.startsWith('putChunk'))).toHaveLength(2);
    expect(chunkKeys(crashed)).toEqual([]);
    expect(await second.files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('seals at upload time under the key the stream writes with then', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const keyring = keyringOf([generateStreamKey()]);
    const d = device(server.api, meta, { keyring });
    const ref = await d.files.enqueue(input(fileBytes(500)));
    // Re-keyed while offline (a grant ended).
    keyring.keys.push(generateStreamKey());
    d.set(true);
    await until(() => d.files.uploads().length === 0, 'uploaded');
    const named = sealedKeyId(server.chunks.get(`${ref.blobId}/0`)!);
    expect(named.ok && named.value).toBe(keyId(keyring.keys[1]!));
  });

  it('re-keyed after sealing: sealed anew if the server holds nothing, else finished as announced', async () => {
    const cutOff = async (call: BlobCall) => {
      const server = memoryBlobServer();
      const { meta } = mapMeta();
      const keyring = keyringOf([generateStreamKey()]);
      const d = device(server.api, meta, { keyring });
      const bytes = fileBytes(500, call.length);
      const ref = await d.files.enqueue(input(bytes));
      server.refuseNext(call);
      d.set(true);
      await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', `cut off at ${call}`);
      d.set(false);
      keyring.keys.push(generateStreamKey());
      d.set(true);
      await until(() => d.files.uploads().length === 0, 'uploaded');
      const named = sealedKeyId(server.chunks.get(`${ref.blobId}/0`)!);
      const calls = [...server.calls];
      expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
      return { epoch: keyring.keys.findIndex((k) => named.ok && keyId(k) === named.value), calls };
    };
    // Its announce lost: no manifest on the server, sealed anew under the new key.
    const lost = await cutOff('createBlob');
    expect(lost.epoch).toBe(1);
    expect(lost.calls.filter((c) => c === 'getBlob')).toHaveLength(1);
    // Announced, its chunk lost: the server takes no other bytes under that id, finished under the old key.
    const announced = await cutOff('putChunk 0');
    expect(announced.epoch).toBe(0);
    expect(announced.calls.filter((c) => c === 'createBlob')).toHaveLength(2);
  });

  it('after a failure that can pass, retries with backoff and reports the last error meanwhile', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = device(server.api, meta, { online: true });
    server.refuseNext(
      'createBlob',
      new HaleClientError({ code: 'RATE_LIMITED', message: 'slow down', status: 429, retry: true }),
    );
    const seen: string[] = [];
    const sub = d.files.uploads$.subscribe((list) => {
      const u = list[0];
      if (u) seen.push(`${u.state}${u.lastError ? ` ${u.lastError.serverCode}` : ''}`);
    });
    await d.files.enqueue(input(fileBytes(100)));
    await until(() => d.files.uploads().length === 0, 'uploaded on the retry');
    sub.unsubscribe();
    expect(seen).toContain('queued RATE_LIMITED');
    expect(server.calls.filter((c) => c === 'createBlob')).toHaveLength(2);
    expect(d.reports).toEqual([]);
  });

  it('a refusal for good is reported once and kept listed until cancelled; cancel removes the bytes', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = device(server.api, meta, { online: true });
    server.refuseNext(
      'createBlob',
      new HaleClientError({ code: 'QUOTA_EXCEEDED', message: 'over quota', status: 413, retry: false }),
    );
    const ref = await d.files.enqueue(input(fileBytes(100)));
    await until(() => d.files.uploads()[0]?.state === 'failed', 'failed');
    expect(d.files.uploads()[0]?.lastError).toMatchObject({ code: 'REFUSED', serverCode: 'QUOTA_EXCEEDED' });
    expect(d.reports).toEqual([{ code: 'UPLOAD_REFUSED', id: ref.blobId }]);
    // The server refused it: not a file this device lost part of.
    expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_REFUSED');
    // Not retried by itself, also not at a reconnect.
    d.set(false);
    d.set(true);
    await new Promise((r) => setTimeout(r, 80));
    expect(server.calls.filter((c) => c === 'createBlob')).toHaveLength(1);

    // Cancelled: the sealed upload's blob is deleted on the server (best effort), the bytes here removed.
    expect(await d.files.cancelUpload(ref.blobId)).toBe(true);
    expect(d.files.uploads()).toEqual([]);
    expect(chunkKeys(store)).toEqual([]);
    expect(store.get('upload-queue')).toBe('[]');
  });

  it('a refusal for good that cannot be marked (the store refuses writes) waits with backoff, not in a loop', async () => {
    const server = memoryBlobServer();
    const { meta: inner } = mapMeta();
    // The write that would mark the file failed is refused (the sealing before it is stored).
    const meta: DeviceMeta = {
      ...inner,
      update: (key, schema, change) =>
        inner.update(key, schema, (current) => {
          const next = change(current);
          if (key === 'upload-queue' && JSON.stringify(next).includes('"failed"'))
            throw new Error('disk full');
          return next;
        }),
    };
    const d = device(server.api, meta, { online: true });
    const refusal = new HaleClientError({
      code: 'QUOTA_EXCEEDED',
      message: 'over quota',
      status: 413,
      retry: false,
    });
    let announces = 0;
    const createBlob = server.api.createBlob;
    server.api.createBlob = async (...args) => {
      // A loop without backoff would never yield to timers: stop it here so the test ends either way.
      if (++announces >= 50) d.close();
      await createBlob(...args).catch(() => undefined);
      throw refusal;
    };
    d.set(false);
    await d.files.enqueue(input(fileBytes(100)));
    d.set(true);
    await new Promise((r) => setTimeout(r, 150));
    // Backoff 20 ms doubling to 40 ms: a handful of announces in 150 ms, no report until it is marked.
    expect(announces).toBeLessThan(10);
    expect(d.reports).toEqual([]);
    expect(d.files.uploads()[0]?.state).not.toBe('failed');
    d.close();
  });

  it('retryUpload queues a failed file again', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = device(server.api, meta, { online: true });
    server.refuseNext(
      'createBlob',
      new HaleClientError({ code: 'QUOTA_EXCEEDED', message: 'over quota', status: 413, retry: false }),
    );
    const ref = await d.files.enqueue(input(fileBytes(100)));
    await until(() => d.files.uploads()[0]?.state === 'failed', 'failed');
    expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_REFUSED');
    d.set(false);
    expect(await d.files.retryUpload(ref.blobId)).toBe(true);
    expect(d.files.uploads().map((u) => [u.state, u.failure])).toEqual([['queued', null]]);
    d.set(true);
    await until(() => d.files.uploads().length === 0, 'uploaded');
    expect(server.manifests.has(ref.blobId)).toBe(true);
  });

  it('a provider whose write access ended: NO_KEY is a refusal for good', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    let ended = false;
    const d = device(server.api, meta, {
      keyring: keyringOf([]),
      whyNotWritable: () => (ended ? 'revoked' : null),
    });
    await d.files.enqueue(input(fileBytes(100)));
    ended = true;
    d.set(true);
    await until(() => d.files.uploads()[0]?.state === 'failed', 'failed');
    expect(d.files.uploads()[0]?.lastError?.code).toBe('NO_KEY');
    expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_REFUSED');
    // And a new enqueue is refused at once, nothing stored.
    const refused = await d.files.enqueue(input(fileBytes(10))).catch((e: unknown) => e);
    expect(isFileError(refused) && refused.code).toBe('FORBIDDEN');
    expect(d.files.uploads()).toHaveLength(1);
  });

  it('files.delete of a queued FileRef cancels it; nothing is uploaded', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = device(server.api, meta);
    const ref = await d.files.enqueue(input(fileBytes(100)));
    const other = await d.files.delete(ref, { type: 'message' }).catch((e: unknown) => e);
    expect(isFileError(other) && other.code).toBe('CONTEXT_MISMATCH');
    await d.files.delete(ref, { type: 'document' });
    expect(d.files.uploads()).toEqual([]);
    expect(chunkKeys(store)).toEqual([]);
    d.set(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(server.calls).toEqual([]);
  });

  it('a full queue refuses with QUEUE_FULL and stores nothing', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = device(server.api, meta, { bounds: { uploads: 2, bytes: 1500 } });
    await d.files.enqueue(input(fileBytes(1000)));
    const before = new Map(store);
    const tooBig = await d.files.enqueue(input(fileBytes(600))).catch((e: unknown) => e);
    expect(isFileError(tooBig) && [tooBig.code, tooBig.retry]).toEqual(['QUEUE_FULL', true]);
    expect(store).toEqual(before);
    await d.files.enqueue(input(fileBytes(400)));
    const tooMany = await d.files.enqueue(input(fileBytes(1))).catch((e: unknown) => e);
    expect(isFileError(tooMany) && tooMany.code).toBe('QUEUE_FULL');
    expect(d.files.uploads()).toHaveLength(2);
    expect(chunkKeys(store)).toHaveLength(2);
  });

  it('nothing is uploaded once the session is locked or closed; the file stays queued', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = device(server.api, meta);
    await d.files.enqueue(input(fileBytes(100)));
    d.state.usable = false;
    d.set(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(server.calls).toEqual([]);
    expect(chunkKeys(store)).toHaveLength(1);
    expect(d.listeners.size).toBe(0);
  });
});

describe('the queue on a real device database', () => {
  const dbs: DeviceDb[] = [];
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((db) => (db.closed ? Promise.resolve() : closeDeviceDb(db))));
  });

  it('keeps no plaintext of a queued file in the raw storage', async () => {
    const name = `hale-upload-queue-${Date.now().toString(36)}`;
    const db = await openDeviceDb({
      name,
      storage: getRxStorageMemory(),
      atRestKey: new Uint8Array(32).fill(5),
    });
    dbs.push(db);
    const meta = createDeviceMeta(deviceMetaStore(db));
    const d = device(memoryBlobServer().api, meta);
    const marker = `lab-report-plaintext-${Math.random().toString(36).slice(2)}`;
    const bytes = utf8Encode(marker.repeat(40));
    const ref = await d.files.enqueue({ ...input(bytes), fileName: `name-${marker}.jpg` });
    const raw = (): string => {
      const out: unknown[] = [];
      for (const [key, state] of getRxStorageMemory().collectionStates) {
        if (key.startsWith(`${name}--`)) out.push(key, [...state.documents.values()]);
      }
      return JSON.stringify(out);
    };
    // RxDB hands a local document to its storage after the write settles.
    await until(() => raw().includes('meta-upload-queue'), 'the index in the storage');
    const dump = raw();
    // The store holds the queue (its ids in clear) ...
    expect(dump).toContain(`meta-upload-chunk-${ref.blobId}-p0`);
    expect(dump).toContain('meta-upload-queue');
    // ... and neither the bytes, as stored unsealed (base64url) or as text, nor the file's name.
    expect(dump).not.toContain(base64urlEncode(bytes).slice(0, 40));
    expect(dump).not.toContain(marker);
    expect(dump).not.toContain(ref.sha256);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });
});

/** `inner` whose reads of the keys in `fail` reject with what `fail` gives (an I/O error, an at-rest refusal). */
const faultyMeta = (inner: DeviceMeta) => {
  const fail = new Map<string, () => Error>();
  const meta: DeviceMeta = {
    ...inner,
    get: (key, schema) => {
      const error = fail.get(key);
      return error ? Promise.reject(error()) : inner.get(key, schema);
    },
  };
  return { meta, fail };
};
const ioError = (): Error => Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
const notOpening = (): Error =>
  new AtRestError('AT_REST_DECRYPT_FAILED', 'the stored value does not open', { reason: 'AUTH_FAILED' });
const plainKey = (blobId: string, i: number): string => `upload-chunk-${blobId}-p${i}`;
const sealedKey = (blobId: string, i: number): string => `upload-chunk-${blobId}-s${i}`;
const errorOf = async (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('a queued file whose bytes on the device cannot be read', () => {
  it('get: a failed read is STORAGE_FAILED (retry when it may pass), bytes that read but differ HASH_MISMATCH', async () => {
    const server = memoryBlobServer();
    const { meta: inner, store } = mapMeta();
    const { meta, fail } = faultyMeta(inner);
    const d = device(server.api, meta);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 10);
    const ref = await d.files.enqueue(input(bytes));
    const at = { type: 'document' as const };
    const outcome = async () => {
      const e = await errorOf(d.files.get(ref, at));
      return isFileError(e) ? [e.code, e.retry] : e;
    };

    fail.set(plainKey(ref.blobId, 1), ioError);
    expect(await outcome()).toEqual(['STORAGE_FAILED', true]);
    fail.set(plainKey(ref.blobId, 1), notOpening);
    expect(await outcome()).toEqual(['STORAGE_FAILED', false]);
    fail.clear();
    // Read fine, other bytes of the same length: the bytes are wrong.
    const stored = store.get(plainKey(ref.blobId, 1))!;
    store.set(plainKey(ref.blobId, 1), JSON.stringify(base64urlEncode(fileBytes(MIN_CHUNK_BYTES, 9))));
    expect(await outcome()).toEqual(['HASH_MISMATCH', false]);
    // Not stored while the file is still queued: lost here, not "not uploaded yet" on the server.
    store.delete(plainKey(ref.blobId, 1));
    expect(await outcome()).toEqual(['STORAGE_FAILED', false]);
    store.set(plainKey(ref.blobId, 1), stored);
    expect(await d.files.get(ref, at)).toEqual(bytes);
    expect(server.calls).toEqual([]);
  });

  it('upload: a read that fails once waits with backoff (STORAGE_FAILED) and is uploaded on the retry', async () => {
    const server = memoryBlobServer();
    const { meta: inner } = mapMeta();
    const { meta, fail } = faultyMeta(inner);
    const d = device(server.api, meta);
    const ref = await d.files.enqueue(input(fileBytes(300)));
    fail.set(plainKey(ref.blobId, 0), () => {
      fail.clear();
      return ioError();
    });
    const seen: string[] = [];
    const sub = d.files.uploads$.subscribe((list) => {
      const error = list[0]?.lastError;
      if (error) seen.push(error.code);
    });
    d.set(true);
    await until(() => d.files.uploads().length === 0, 'uploaded on the retry');
    sub.unsubscribe();
    expect(seen).toContain('STORAGE_FAILED');
    expect(d.reports).toEqual([]);
    expect(server.manifests.has(ref.blobId)).toBe(true);
  });

  it('upload: a plaintext chunk lost before sealing fails for good, saying what to do, nothing sent', async () => {
    for (const lose of ['removed', 'not opening'] as const) {
      const server = memoryBlobServer();
      const { meta: inner, store } = mapMeta();
      const { meta, fail } = faultyMeta(inner);
      const d = device(server.api, meta);
      const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10)));
      if (lose === 'removed') store.delete(plainKey(ref.blobId, 1));
      else fail.set(plainKey(ref.blobId, 1), notOpening);
      d.set(true);
      await until(() => d.files.uploads()[0]?.state === 'failed', `failed (${lose})`);
      const error = d.files.uploads()[0]?.lastError;
      expect(error?.code).toBe('STORAGE_FAILED');
      expect(error?.message).toMatch(/cancelUpload/);
      // Lost on this device, not refused by the server: its own code, in the list and in the report.
      expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_STUCK');
      expect(d.reports).toEqual([{ code: 'UPLOAD_STUCK', id: ref.blobId }]);
      expect(server.calls).toEqual([]);
    }
  });

  /** A file sealed and cut off at `call` (the connection dropped), then sealed chunk `lost` removed here. */
  const sealedThenLost = async (call: BlobCall, lost: number, options: { plainToo?: boolean } = {}) => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = device(server.api, meta);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 10, lost + call.length);
    const ref = await d.files.enqueue(input(bytes));
    server.refuseNext(call);
    d.set(true);
    await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', `cut off at ${call}`);
    d.set(false);
    const sealedBefore = JSON.parse(store.get('upload-queue')!) as Array<{ sealing?: { digests: string[] } }>;
    expect(sealedBefore[0]?.sealing?.digests).toHaveLength(3);
    store.delete(sealedKey(ref.blobId, lost));
    if (options.plainToo) store.delete(plainKey(ref.blobId, lost));
    server.calls.length = 0;
    d.set(true);
    await until(
      () => d.files.uploads().length === 0 || d.files.uploads()[0]?.state === 'failed',
      'uploaded or failed',
    );
    return { server, meta, store, d, ref, bytes, digestsBefore: sealedBefore[0]!.sealing!.digests };
  };

  it('a sealed chunk lost here, the server holding nothing: sealed anew from the plaintext, under the same id', async () => {
    const { server, d, ref, bytes, digestsBefore } = await sealedThenLost('createBlob', 1);
    expect(d.files.uploads()).toEqual([]);
    expect(server.calls.slice(0, 2)).toEqual(['getBlob', 'createBlob']);
    const digests = server.manifests.get(ref.blobId)?.digests ?? [];
    expect(digests).toHaveLength(3);
    expect(digests.some((x, i) => x === digestsBefore[i])).toBe(false);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('a sealed chunk lost here that the server holds already: nothing is lost, the rest is sent', async () => {
    const { server, d, ref, bytes } = await sealedThenLost('putChunk 1', 0);
    expect(d.files.uploads()).toEqual([]);
    expect(server.calls).toEqual(['getBlob', 'createBlob', 'putChunk 1', 'putChunk 2']);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('a sealed chunk lost here that the server lacks, its manifest held: stuck, said so, kept for cancel', async () => {
    const { server, meta, d, ref } = await sealedThenLost('putChunk 1', 1);
    const [u] = d.files.uploads();
    expect(u?.state).toBe('failed');
    expect(u?.failure).toBe('UPLOAD_STUCK');
    expect(u?.lastError?.code).toBe('INCOMPLETE');
    expect(u?.lastError?.message).toMatch(/never be complete.*cancelUpload/);
    expect(d.reports).toEqual([{ code: 'UPLOAD_STUCK', id: ref.blobId }]);
    // Decided by the manifest alone: no announce, no chunk sent.
    expect(server.calls).toEqual(['getBlob']);
    // Stored with the entry: the next session lists it as stuck too, without reporting it again.
    d.close();
    const next = device(server.api, meta, { online: true });
    await until(() => next.files.uploads().length === 1, 'listed by the next session');
    expect(next.files.uploads()[0]?.failure).toBe('UPLOAD_STUCK');
    expect(next.reports).toEqual([]);
    expect(server.calls).toEqual(['getBlob']);
    expect(await next.files.cancelUpload(ref.blobId)).toBe(true);
    next.close();
    expect(server.manifests.has(ref.blobId)).toBe(false);
  });

  it('a failure stored without its code (an older build), or with one this build does not know: refused', async () => {
    const { server, meta, store, d, ref } = await sealedThenLost('putChunk 1', 1);
    d.close();
    const listedAs = async (failedAs: string | undefined) => {
      const index = JSON.parse(store.get('upload-queue')!) as Array<Record<string, unknown>>;
      expect(index[0]?.['failedAs']).toBe('UPLOAD_STUCK');
      const saved = store.get('upload-queue')!;
      store.set('upload-queue', JSON.stringify([{ ...index[0], failedAs }]));
      const next = device(server.api, meta);
      const read = await next.files.uploadsRead();
      const listed = next.files.uploads().map((u) => [u.blobId, u.state, u.failure]);
      next.close();
      store.set('upload-queue', saved);
      return { read, listed };
    };
    const asRefused = { read: true, listed: [[ref.blobId, 'failed', 'UPLOAD_REFUSED']] };
    expect(await listedAs(undefined)).toEqual(asRefused);
    expect(await listedAs('UPLOAD_APPENDED_LATER')).toEqual(asRefused);
  });

  it('a sealed chunk and its plaintext lost, the server holding nothing: stuck (STORAGE_FAILED)', async () => {
    const { server, d, ref } = await sealedThenLost('createBlob', 2, { plainToo: true });
    expect(d.files.uploads()[0]?.lastError?.code).toBe('STORAGE_FAILED');
    expect(d.files.uploads()[0]?.state).toBe('failed');
    expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_STUCK');
    expect(d.reports).toEqual([{ code: 'UPLOAD_STUCK', id: ref.blobId }]);
    expect(server.calls).toEqual(['getBlob']);
  });
});

describe('an announce of an earlier session arriving after a re-sealing (ALREADY_EXISTS)', () => {
  /** `api` whose first announce waits, sent, until `release`; later announces wait until it was answered. */
  const lateFirstAnnounce = (api: FilesHttpApi) => {
    const createBlob = api.createBlob;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atFirst = new Promise<void>((r) => (reached = r));
    let first: Promise<unknown> | null = null;
    api.createBlob = async (...args) => {
      if (first === null) {
        first = (async () => {
          reached();
          await released;
          return createBlob(...args);
        })();
        return first as ReturnType<typeof createBlob>;
      }
      await first.catch(() => undefined);
      return createBlob(...args);
    };
    return { atFirst, release };
  };

  it('re-sealed under a new key meanwhile (a server that does not refuse the late one): stuck, said so', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const keyring = keyringOf([generateStreamKey()]);
    const late = lateFirstAnnounce(server.api);
    const first = device(server.api, meta, { keyring });
    const ref = await first.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10)));
    first.set(true);
    await late.atFirst;
    first.close();
    keyring.keys.push(generateStreamKey());

    const second = device(server.api, meta, { keyring });
    await until(() => second.files.uploads().length === 1, 'listed');
    second.set(true);
    // The second session found nothing under the id and sealed anew; its announce waits for the late one.
    await until(() => server.calls.includes('getBlob'), 'the manifest asked for');
    late.release();
    await until(() => second.files.uploads()[0]?.state === 'failed', 'failed');
    const error = second.files.uploads()[0]?.lastError;
    expect(error?.code).toBe('INCOMPLETE');
    expect(error?.message).toMatch(/earlier session.*cancelUpload/);
    expect(server.calls.filter((c) => c.startsWith('putChunk'))).toEqual([]);
    expect(second.files.uploads()[0]?.failure).toBe('UPLOAD_STUCK');
    expect(second.reports).toEqual([{ code: 'UPLOAD_STUCK', id: ref.blobId }]);
  });

  it('the server holds the whole file an earlier copy of this store sealed: adopted, done', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const keyring = keyringOf([generateStreamKey()]);
    const queued = device(server.api, meta, { keyring });
    const bytes = fileBytes(MIN_CHUNK_BYTES + 10);
    const ref = await queued.files.enqueue(input(bytes));
    queued.close();
    // The store as it was, restored (a device backup) after that copy uploaded the file whole.
    const restored = new Map(store);
    const uploader = device(server.api, meta, { keyring, online: true });
    await uploader.files.uploadsRead();
    await until(() => uploader.files.uploads().length === 0, 'uploaded whole');
    expect(server.calls.filter((c) => c.startsWith('putChunk'))).toHaveLength(2);
    uploader.close();

    const again = device(server.api, mapMeta(restored).meta, { keyring });
    await until(() => again.files.uploads().length === 1, 'listed again');
    server.calls.length = 0;
    again.set(true);
    await until(
      () => again.files.uploads().length === 0 || again.files.uploads()[0]?.state === 'failed',
      'done or failed',
    );
    expect(again.files.uploads()).toEqual([]);
    // The held chunks are read back and opened before they are taken for this file's.
    expect(server.calls).toEqual(['createBlob', 'getBlob', 'getChunk 0', 'getChunk 1', 'createBlob']);
    expect(chunkKeys(restored)).toEqual([]);
    expect(await again.files.get(ref, { type: 'document' })).toEqual(bytes);
  });
});
