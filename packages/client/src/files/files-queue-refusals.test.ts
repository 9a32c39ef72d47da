// Refusals of the upload queue (upload-queue.ts) through session.files: an enqueue onto a stored queue that
// cannot be read is a FileError (STORAGE_FAILED, not `retry`) with nothing stored; get of a queued file
// refuses a FileRef naming another stream, size or sha256 without asking the server; a queued chunk stored
// as something that is no chunk's text is reported (META_INVALID's hook) and refused as damaged, not taken
// for a chunk never stored; and a file waiting with backoff keeps waiting while the link stays up and the
// engine only catches up (an access change), but is tried at once when the link comes back.
import { describe, expect, it } from 'vitest';
import { generateDeviceKeys, generateStreamKey } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import { createFiles, isFileError, type FilesHttpApi } from './files';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { heldAmong } from './queued-device.test-util';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ACCOUNT = 'B'.repeat(22);

/** Device metadata over a Map of JSON texts; `invalid` lists the keys reported unreadable. */
const mapMeta = () => {
  const store = new Map<string, string>();
  const invalid: string[] = [];
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
    onInvalid: (key) => invalid.push(key),
  });
  return { store, meta, invalid };
};

/**
 * Files over `meta`; `link(online, connected)` feeds the queue as the session does (connected: the link is
 * up, online: caught up too).
 */
const device = (api: FilesHttpApi, meta: ReturnType<typeof mapMeta>['meta']) => {
  const listeners = new Set<(online: boolean, connected?: boolean) => void>();
  const state = { online: false, connected: false };
  const key = generateStreamKey();
  const files = createFiles({
    accountId: ACCOUNT,
    api,
    device: generateDeviceKeys(),
    ed: nodeEd25519,
    keyring: {
      writeKey: async () => ({ epoch: 0, key }),
      heldKeyWithId: heldAmong([key]),
      refresh: async () => 0,
    },
    usable: () => true,
    assertUnlocked: () => undefined,
    queue: {
      meta,
      online: () => state.online,
      onOnlineChange: (listener) => {
        listeners.add(listener);
        listener(state.online, state.connected);
        return () => listeners.delete(listener);
      },
      retry: { baseMs: 60_000, maxMs: 60_000 },
    },
  });
  const link = (online: boolean, connected: boolean): void => {
    Object.assign(state, { online, connected });
    for (const l of [...listeners]) l(online, connected);
  };
  return { files, link };
};

const input = (size: number) => ({
  type: 'document' as const,
  bytes: new Uint8Array(size).map((_, i) => (i * 7 + 1) & 0xff),
  fileName: 'scan.jpg',
  mediaType: 'image/jpeg',
  chunkSize: MIN_CHUNK_BYTES,
});

const refusal = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => null,
    (error: unknown) => error,
  );
  return isFileError(e) ? { code: e.code, retry: e.retry } : e;
};

const until = async (check: () => boolean, what: string): Promise<void> => {
  const end = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('the upload queue refuses as FileError', () => {
  it('an enqueue onto a stored queue that cannot be read: STORAGE_FAILED, not retry, nothing stored', async () => {
    const server = memoryBlobServer();
    const { store, meta, invalid } = mapMeta();
    store.set('upload-queue', JSON.stringify([{ nope: 1 }]));
    const d = device(server.api, meta);
    expect(await d.files.uploadsRead()).toBe(false);

    expect(await refusal(d.files.enqueue(input(100)))).toEqual({ code: 'STORAGE_FAILED', retry: false });
    expect([...store.keys()]).toEqual(['upload-queue']);
    expect(store.get('upload-queue')).toBe('[{"nope":1}]');
    expect(invalid).toEqual(['upload-queue']);
    expect(server.calls).toEqual([]);
  });

  it('get of a queued file: a FileRef of another stream, size or sha256 is refused, the server not asked', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = device(server.api, meta);
    const ref = await d.files.enqueue(input(MIN_CHUNK_BYTES + 10));
    const other = ref.sha256.startsWith('0') ? `1${ref.sha256.slice(1)}` : `0${ref.sha256.slice(1)}`;

    expect({
      stream: await refusal(d.files.get(ref, { type: 'message' })),
      size: await refusal(d.files.get({ ...ref, size: ref.size - 1 }, { type: 'document' })),
      sha256: await refusal(d.files.get({ ...ref, sha256: other }, { type: 'document' })),
    }).toEqual({
      stream: { code: 'CONTEXT_MISMATCH', retry: false },
      size: { code: 'SIZE_MISMATCH', retry: false },
      sha256: { code: 'HASH_MISMATCH', retry: false },
    });
    expect(server.calls).toEqual([]);
    // The queued file itself is served.
    expect((await d.files.get(ref, { type: 'document' })).length).toBe(ref.size);
  });

  it('a queued chunk stored as no chunk text: reported, and refused as damaged (not retry), not as never stored', async () => {
    const server = memoryBlobServer();
    const { store, meta, invalid } = mapMeta();
    const d = device(server.api, meta);
    const ref = await d.files.enqueue(input(MIN_CHUNK_BYTES + 10));
    const key = `upload-chunk-${ref.blobId}-p1`;
    store.set(key, JSON.stringify({ not: 'a chunk' }));

    const e = await d.files.get(ref, { type: 'document' }).catch((error: unknown) => error);
    expect(isFileError(e) && [e.code, e.retry]).toEqual(['STORAGE_FAILED', false]);
    expect(isFileError(e) && e.message).toMatch(/chunk 1 is not a chunk's text/);
    expect(invalid).toEqual([key]);
  });
});

describe('the upload queue backoff and the link', () => {
  const waiting = async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = device(server.api, meta);
    await d.files.enqueue(input(100));
    server.refuseNext('createBlob');
    d.link(true, true);
    await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'the announce refused');
    const announces = () => server.calls.filter((c) => c.startsWith('createBlob')).length;
    expect(announces()).toBe(1);
    return { d, announces };
  };

  it('catching up with the link up (an access change): still waits', async () => {
    const { d, announces } = await waiting();
    d.link(false, true);
    d.link(true, true);
    await new Promise((r) => setTimeout(r, 50));
    expect(announces()).toBe(1);
    expect(d.files.uploads()[0]?.nextAttemptAt).not.toBeNull();
  });

  it('the link down and up again (a reconnect): tried at once', async () => {
    const { d } = await waiting();
    d.link(false, false);
    d.link(true, true);
    await until(() => d.files.uploads().length === 0, 'uploaded at the reconnect');
  });
});
