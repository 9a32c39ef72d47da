// The service worker's release algorithm over a memory cache and a server whose files a test changes:
// first install, a signed update, and the refusals that leave the installed release as it was.
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { generateReleaseKey, releaseKey, signRelease } from '../node/index';
import type { ReleaseManifest, SignedRelease } from './manifest';
import { createReleaseUpdater, type ReleaseCache, type ReleaseEvent, type StoredFile } from './updater';

const enc = (t: string): Uint8Array => new TextEncoder().encode(t);
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

const prod = generateReleaseKey();
const key = releaseKey({ HALE_RELEASE_KEY: prod.seedHex });

/** A server: its files by path; `publish` writes a signed release.json over them. */
const server = () => {
  const files = new Map<string, Uint8Array>();
  const fetched: string[] = [];
  const publish = (
    sequence: number,
    sign: (m: ReleaseManifest) => SignedRelease | object = (m) => signRelease(m, key),
  ) => {
    const list = [...files.entries()]
      .filter(([p]) => p !== '/release.json')
      .map(([path, b]) => ({ path, sha256: bytesToHex(sha256(b)), size: b.length }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    const manifest: ReleaseManifest = {
      v: 1,
      app: 'hale',
      version: `1.0.${sequence}`,
      sequence,
      createdAt: '2026-11-25T00:00:00.000Z',
      dev: false,
      files: list,
    };
    files.set('/release.json', enc(JSON.stringify(sign(manifest))));
  };
  return {
    files,
    fetched,
    publish,
    fetchFile: async (path: string): Promise<StoredFile | null> => {
      fetched.push(path);
      const b = files.get(path);
      return b === undefined ? null : { bytes: b.slice(), contentType: 'text/plain' };
    },
  };
};

const memoryCache = (): ReleaseCache & { sequences(): number[] } => {
  let installed: SignedRelease | null = null;
  const store = new Map<number, Map<string, StoredFile>>();
  return {
    readInstalled: async () => installed,
    writeInstalled: async (r) => {
      installed = r;
    },
    putFile: async (seq, path, file) => {
      const m = store.get(seq) ?? new Map<string, StoredFile>();
      m.set(path, file);
      store.set(seq, m);
    },
    getFile: async (seq, path) => store.get(seq)?.get(path) ?? null,
    dropOthers: async (keep) => {
      for (const seq of [...store.keys()]) if (seq !== keep) store.delete(seq);
    },
    sequences: () => [...store.keys()],
  };
};

const setup = () => {
  const s = server();
  s.files.set('/index.html', enc('<html>v1'));
  s.files.set('/app.js', enc('run(1)'));
  s.publish(1);
  const cache = memoryCache();
  const events: ReleaseEvent[] = [];
  const updater = createReleaseUpdater({
    fetchFile: s.fetchFile,
    cache,
    trustedKeys: [prod.publicKeyHex],
    emit: (e) => events.push(e),
  });
  return { s, cache, events, updater };
};

describe('release updater', () => {
  it('installs the signed release on the first visit and serves its files', async () => {
    const { updater, events } = setup();
    const m = await updater.install();
    expect(m.version).toBe('1.0.1');
    expect(events).toEqual([{ type: 'installed', version: '1.0.1', dev: false }]);
    expect(text((await updater.file('/app.js'))?.bytes)).toBe('run(1)');
    expect(await updater.file('/not-listed.js')).toBeNull();
  });

  it('takes a newer signed release, fetching only changed files, and tells so', async () => {
    const { s, updater, events, cache } = setup();
    await updater.install();
    s.files.set('/app.js', enc('run(2)'));
    s.publish(2);
    s.fetched.length = 0;
    expect(await updater.check()).toEqual({ type: 'updated', from: '1.0.1', to: '1.0.2', dev: false });
    expect(events.at(-1)?.type).toBe('updated');
    expect(s.fetched.sort()).toEqual(['/app.js', '/release.json']);
    expect(text((await updater.file('/app.js'))?.bytes)).toBe('run(2)');
    expect(text((await updater.file('/index.html'))?.bytes)).toBe('<html>v1');
    expect(cache.sequences()).toEqual([2]);
    // Nothing newer: no event.
    expect(await updater.check()).toBeNull();
  });

  it('keeps the installed release when a file does not match the signed list (tampered-file)', async () => {
    const { s, updater, cache } = setup();
    await updater.install();
    s.files.set('/app.js', enc('run(2)'));
    s.publish(2);
    s.files.set('/app.js', enc('steal()'));
    expect(await updater.check()).toMatchObject({
      type: 'refused',
      reason: 'tampered-file',
      offered: '1.0.2',
    });
    expect((await updater.installed())?.version).toBe('1.0.1');
    expect(text((await updater.file('/app.js'))?.bytes)).toBe('run(1)');
    expect(cache.sequences()).toEqual([1]);
  });

  it('keeps the installed release when the list is unsigned, signed by another key, or older', async () => {
    const { s, updater, events } = setup();
    await updater.install();
    s.files.set('/app.js', enc('evil()'));
    s.publish(3, (m) => ({ manifest: m }));
    expect(await updater.check()).toMatchObject({ type: 'refused', reason: 'unsigned' });
    const other = releaseKey({ HALE_RELEASE_KEY: generateReleaseKey().seedHex });
    s.publish(3, (m) => signRelease(m, other));
    expect(await updater.check()).toMatchObject({ type: 'refused', reason: 'unknown-key' });
    s.files.set('/app.js', enc('run(0)'));
    s.publish(1);
    // Sequence 1 again with other files: another build under the installed number.
    expect(await updater.check()).toMatchObject({ type: 'refused', reason: 'replayed-sequence' });
    expect(events.filter((e) => e.type === 'refused')).toHaveLength(3);
    expect(text((await updater.file('/app.js'))?.bytes)).toBe('run(1)');
  });

  it('refuses a first install that is not signed: nothing is kept, install throws', async () => {
    const s = server();
    s.files.set('/index.html', enc('<html>'));
    s.publish(1, (m) => ({ manifest: m }));
    const cache = memoryCache();
    const updater = createReleaseUpdater({
      fetchFile: s.fetchFile,
      cache,
      trustedKeys: [prod.publicKeyHex],
      emit: () => undefined,
    });
    await expect(updater.install()).rejects.toMatchObject({ event: { reason: 'unsigned' } });
    expect(await updater.installed()).toBeNull();
  });

  it('a network failure midway is no refusal: no event, the installed release stays, the next check retries', async () => {
    const s = server();
    s.files.set('/index.html', enc('<html>v1'));
    s.files.set('/app.js', enc('run(1)'));
    s.publish(1);
    let offline = false;
    const events: ReleaseEvent[] = [];
    const updater = createReleaseUpdater({
      fetchFile: async (path) => {
        if (offline && path === '/app.js') throw new Error('offline');
        return s.fetchFile(path);
      },
      cache: memoryCache(),
      trustedKeys: [prod.publicKeyHex],
      emit: (e) => events.push(e),
    });
    await updater.install();
    s.files.set('/app.js', enc('run(2)'));
    s.publish(2);
    offline = true;
    expect(await updater.check()).toBeNull();
    expect((await updater.installed())?.version).toBe('1.0.1');
    offline = false;
    expect(await updater.check()).toMatchObject({ type: 'updated', to: '1.0.2' });
    expect(events.map((e) => e.type)).toEqual(['installed', 'updated']);
  });
});
