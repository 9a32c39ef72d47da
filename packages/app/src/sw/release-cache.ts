/**
 * `ReleaseCache` (@hale/release) on Cache Storage: one cache per release (`hale-release-<sequence>`) with
 * its files under their paths, and `hale-release-meta` with the installed signed release and the last
 * release event (for a page opened later: "an update came since you last looked").
 *
 * Invariants: what is read back is checked against its schema (`SignedRelease`) before use; only caches
 * named here are touched (the app's own caches, if any, are not dropped).
 */
import { Value } from '@sinclair/typebox/value';
import { ReleaseEventSchema, SignedRelease, type ReleaseCache, type ReleaseEvent } from '@hale/release';

/** The part of Cache Storage this module uses (the service worker's `caches`). */
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
  keys(): Promise<string[]>;
  delete(name: string): Promise<boolean>;
}
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
}

export const META_CACHE = 'hale-release-meta';
export const RELEASE_CACHE_PREFIX = 'hale-release-';
const INSTALLED_KEY = '/__hale/installed.json';
const LAST_EVENT_KEY = '/__hale/last-event.json';

const cacheName = (sequence: number): string => `${RELEASE_CACHE_PREFIX}${sequence}`;

export function cacheStorageRelease(caches: CacheStorageLike): ReleaseCache & {
  lastEvent(): Promise<ReleaseEvent | null>;
  rememberEvent(event: ReleaseEvent): Promise<void>;
} {
  const readJson = async (key: string): Promise<unknown> => {
    const res = await (await caches.open(META_CACHE)).match(key);
    if (res === undefined) return null;
    try {
      return await res.json();
    } catch {
      return null;
    }
  };
  const writeJson = async (key: string, value: unknown): Promise<void> => {
    const meta = await caches.open(META_CACHE);
    await meta.put(
      key,
      new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json' } }),
    );
  };
  // Read once per worker start: every request of the app asks which release is installed.
  let installed: Promise<SignedRelease | null> | null = null;
  return {
    readInstalled() {
      installed ??= readJson(INSTALLED_KEY).then(
        (value) => (Value.Check(SignedRelease, value) ? value : null),
        (error: unknown) => {
          // Not kept: the next request reads again.
          installed = null;
          throw error;
        },
      );
      return installed;
    },
    async writeInstalled(release) {
      await writeJson(INSTALLED_KEY, release);
      installed = Promise.resolve(release);
    },
    async putFile(sequence, path, file) {
      const cache = await caches.open(cacheName(sequence));
      const headers: Record<string, string> = {};
      if (file.contentType !== null) headers['content-type'] = file.contentType;
      await cache.put(path, new Response(new Uint8Array(file.bytes), { headers }));
    },
    async getFile(sequence, path) {
      const res = await (await caches.open(cacheName(sequence))).match(path);
      if (res === undefined) return null;
      return { bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') };
    },
    async dropOthers(keep) {
      for (const name of await caches.keys()) {
        if (name.startsWith(RELEASE_CACHE_PREFIX) && name !== META_CACHE && name !== cacheName(keep)) {
          await caches.delete(name);
        }
      }
    },
    async lastEvent() {
      const value = await readJson(LAST_EVENT_KEY);
      return Value.Check(ReleaseEventSchema, value) ? value : null;
    },
    rememberEvent: (event) => writeJson(LAST_EVENT_KEY, event),
  };
}
