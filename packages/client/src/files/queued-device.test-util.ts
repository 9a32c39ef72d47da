// A device's files API with its upload queue over in-memory metadata, for the queue tests: the session's
// hooks (online, purge of a stream, issue reports) are driven by the test.
import { generateDeviceKeys, generateStreamKey, keyId } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import { createFiles, type FilesHttpApi } from './files';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

/**
 * Device metadata over a Map of JSON texts; the next `faults.failIndexWrites` writes of the queue index
 * fail, the next `faults.failPurgeWrites` writes of its record of purges to finish, the next
 * `faults.failRemoves` removals (of any keys), and the next `faults.failIndexReads` reads of the queue
 * index (an I/O error that passes). `beforeWrite`, when set, is awaited before each write (to hold one at
 * a given point).
 */
export const mapMeta = () => {
  const store = new Map<string, string>();
  const faults = { failIndexWrites: 0, failPurgeWrites: 0, failRemoves: 0, failIndexReads: 0 };
  const hooks: { beforeWrite?: (key: string) => Promise<void> } = {};
  const meta = createDeviceMeta({
    read: async (key) => {
      if (key === 'upload-queue' && faults.failIndexReads > 0) {
        faults.failIndexReads--;
        throw new Error('the device store failed to read (I/O error)');
      }
      const v = store.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as unknown);
    },
    write: async (key, value) => {
      await hooks.beforeWrite?.(key);
      if (key === 'upload-queue' && faults.failIndexWrites > 0) {
        faults.failIndexWrites--;
        throw new Error('the device store refused the write (disk full)');
      }
      if (key === 'upload-purges' && faults.failPurgeWrites > 0) {
        faults.failPurgeWrites--;
        throw new Error('the device store refused the write (disk full)');
      }
      store.set(key, JSON.stringify(value));
    },
    remove: async (keys) => {
      if (faults.failRemoves > 0) {
        faults.failRemoves--;
        throw new Error('the device store refused the removal (I/O error)');
      }
      for (const k of keys) store.delete(k);
    },
    list: async (prefix) => [...store.keys()].filter((k) => k.startsWith(prefix)).sort(),
  });
  return { store, meta, faults, hooks };
};

/**
 * Files of account `accountId` over `meta`, offline until `set(true)`; `purge(stream)` ends access as the
 * session does; what the queue reports is kept in `reports`, what it clears in `cleared`. `lock()` makes the session unusable without
 * telling the queue (as a lock found while offline); `usableCalls` counts the queue's checks of it.
 * `onReport` is called with each report as it is made (e.g. to lock the device at a given point).
 * `writable.why` is what the session's `whyNotWritable` answers for every stream (null: writable).
 */
export const queuedDevice = (
  api: FilesHttpApi,
  meta: ReturnType<typeof mapMeta>['meta'],
  accountId: string,
  options: { onReport?: (issue: { code: string; id: string }) => void } = {},
) => {
  const state = { online: false, usable: true, usableCalls: 0 };
  const writable: { why: string | null } = { why: null };
  const listeners = new Set<(online: boolean) => void>();
  const purgeListeners = new Set<(stream: string) => void>();
  const reports: Array<{ code: string; id: string; message: string }> = [];
  /** Issues the queue dropped (`clearReport`): code and file id. */
  const cleared: Array<[string, string]> = [];
  const key = generateStreamKey();
  const files = createFiles({
    accountId,
    api,
    device: generateDeviceKeys(),
    ed: nodeEd25519,
    keyring: {
      writeKey: async () => ({ epoch: 0, key }),
      heldKeyWithId: heldAmong([key]),
      refresh: async () => 0,
    },
    usable: () => {
      state.usableCalls++;
      return state.usable;
    },
    assertUnlocked: () => undefined,
    queue: {
      meta,
      online: () => state.online,
      whyNotWritable: () => writable.why,
      onOnlineChange: (listener) => {
        listeners.add(listener);
        listener(state.online);
        return () => listeners.delete(listener);
      },
      onStreamPurged: (listener) => {
        purgeListeners.add(listener);
        return () => purgeListeners.delete(listener);
      },
      report: (issue) => {
        reports.push({ code: issue.code, id: issue.id, message: issue.message });
        options.onReport?.(issue);
      },
      clearReport: (issue) => cleared.push([issue.code, issue.id]),
      retry: { baseMs: 20, maxMs: 40 },
    },
  });
  const set = (online: boolean): void => {
    state.online = online;
    for (const l of [...listeners]) l(online);
  };
  const purge = (stream: string): void => {
    for (const l of [...purgeListeners]) l(stream);
  };
  const lock = (): void => void (state.usable = false);
  return {
    files,
    set,
    purge,
    reports,
    cleared,
    lock,
    writable,
    usableCalls: (): number => state.usableCalls,
  };
};

export const fileBytes = (size: number, seed = 5): Uint8Array =>
  new Uint8Array(size).map((_, i) => (i * 13 + seed) & 0xff);

export const input = (bytes: Uint8Array, fileName = 'lab report.jpg') => ({
  type: 'document' as const,
  bytes,
  fileName,
  mediaType: 'image/jpeg',
  chunkSize: MIN_CHUNK_BYTES,
});

export const until = async (check: () => boolean, what: string): Promise<void> => {
  const end = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/**
 * A fake keyring's `heldKeyWithId` over `keys` (epoch = index; null or undefined: not held), read at each
 * call, so a key set later is found.
 */
export const heldAmong =
  (keys: readonly (Uint8Array | null | undefined)[]) =>
  (_stream: string, id: string): { epoch: number; key: Uint8Array } | null => {
    const epoch = keys.findIndex((key) => key != null && keyId(key) === id);
    const key = keys[epoch];
    return key == null ? null : { epoch, key };
  };
