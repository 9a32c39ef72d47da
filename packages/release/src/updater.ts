/**
 * What the installed web app's service worker does with releases, over injected storage and fetch (the
 * service worker binds them to Cache Storage and `fetch`; tests to memory).
 *
 * | call | does | emits |
 * |---|---|---|
 * | `install()` | first visit: fetches `release.json`, checks it (signed by a trusted key), fetches and checks every file, keeps them | `installed` |
 * | `check()` | fetches `release.json` again; a newer release signed by a trusted key is fetched, checked, kept and made current | `updated`, or `refused` with why |
 * | `file(path)` | the installed release's bytes for a path it lists | — |
 *
 * Invariants: the current release changes only once every file of the new one is stored and matched its
 * hash (`writeInstalled` last); a refused or failed update leaves the installed release as it was and its
 * partial files dropped; files whose hash did not change are copied from the installed release, not
 * fetched; one check at a time (a second call shares the first). A network failure is not a refusal: no
 * event, the next check tries again.
 */
import { Type, type Static } from '@sinclair/typebox';
import { RELEASE_FILE, type ReleaseManifest, type SignedRelease } from './manifest';
import { checkFile, checkRelease, type ReleaseRefusal } from './verify';

export interface StoredFile {
  readonly bytes: Uint8Array;
  readonly contentType: string | null;
}

export interface ReleaseCache {
  readInstalled(): Promise<SignedRelease | null>;
  writeInstalled(release: SignedRelease): Promise<void>;
  putFile(sequence: number, path: string, file: StoredFile): Promise<void>;
  getFile(sequence: number, path: string): Promise<StoredFile | null>;
  /** Drops every stored release but `keep`'s files. */
  dropOthers(keep: number): Promise<void>;
}

const Version = Type.String({ maxLength: 64 });
/** What the updater tells the app, as a schema: the service worker keeps the last one and posts it to pages. */
export const ReleaseEventSchema = Type.Union([
  Type.Object(
    { type: Type.Literal('installed'), version: Version, dev: Type.Boolean() },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('updated'), from: Version, to: Version, dev: Type.Boolean() },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('refused'),
      reason: Type.Union([
        Type.Literal('malformed'),
        Type.Literal('unsigned'),
        Type.Literal('unknown-key'),
        Type.Literal('bad-signature'),
        Type.Literal('dev-key'),
        Type.Literal('downgrade'),
        Type.Literal('replayed-sequence'),
        Type.Literal('not-newer'),
        Type.Literal('tampered-file'),
        Type.Literal('missing-file'),
      ]),
      message: Type.String({ maxLength: 500 }),
      offered: Type.Union([Version, Type.Null()]),
    },
    { additionalProperties: false },
  ),
]);

export type ReleaseEvent =
  | { readonly type: 'installed'; readonly version: string; readonly dev: boolean }
  | { readonly type: 'updated'; readonly from: string; readonly to: string; readonly dev: boolean }
  | {
      readonly type: 'refused';
      readonly reason: ReleaseRefusal | 'tampered-file' | 'missing-file';
      readonly message: string;
      readonly offered: string | null;
    };
// The schema and the type describe the same values.
export type ReleaseEventJson = Static<typeof ReleaseEventSchema>;

export interface UpdaterDeps {
  /** Fetches a path of the server's origin past every cache; null when the server answers no file. */
  readonly fetchFile: (path: string) => Promise<StoredFile | null>;
  readonly cache: ReleaseCache;
  /** The release public keys (hex) this installed app carries. */
  readonly trustedKeys: readonly string[];
  readonly emit: (event: ReleaseEvent) => void;
}

export interface ReleaseUpdater {
  /** Installs the offered release on a first visit; throws (and emits `refused`) when it is refused. */
  install(): Promise<ReleaseManifest>;
  /** Looks for a newer signed release; the event it emitted, or null (none, the same, or unreachable). */
  check(): Promise<ReleaseEvent | null>;
  installed(): Promise<ReleaseManifest | null>;
  /** The installed release's file at `path`, or null when it lists none. */
  file(path: string): Promise<StoredFile | null>;
}

export class ReleaseRefused extends Error {
  constructor(readonly event: Extract<ReleaseEvent, { type: 'refused' }>) {
    super(event.message);
    this.name = 'ReleaseRefused';
  }
}

const offeredVersion = (value: unknown): string | null => {
  const version = (value as { manifest?: { version?: unknown } } | null)?.manifest?.version;
  return typeof version === 'string' ? version.slice(0, 64) : null;
};

export function createReleaseUpdater(deps: UpdaterDeps): ReleaseUpdater {
  let running: Promise<ReleaseEvent | null> | null = null;

  const readOffer = async (): Promise<unknown> => {
    const file = await deps.fetchFile(RELEASE_FILE);
    if (file === null) return undefined;
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.bytes)) as unknown;
    } catch {
      return undefined;
    }
  };

  /** Fetches and checks every file of `manifest` into its own store; a refusal event when one fails. */
  const store = async (
    manifest: ReleaseManifest,
    from: ReleaseManifest | null,
  ): Promise<Extract<ReleaseEvent, { type: 'refused' }> | null> => {
    const old = new Map((from?.files ?? []).map((f) => [f.path, f]));
    for (const entry of manifest.files) {
      const same = old.get(entry.path);
      let file =
        same !== undefined && from !== null && same.sha256 === entry.sha256
          ? await deps.cache.getFile(from.sequence, entry.path)
          : null;
      file ??= await deps.fetchFile(entry.path);
      if (file === null) {
        return {
          type: 'refused',
          reason: 'missing-file',
          message: `the release lists ${entry.path}, which the server does not serve`,
          offered: manifest.version,
        };
      }
      if (!checkFile(entry, file.bytes)) {
        return {
          type: 'refused',
          reason: 'tampered-file',
          message: `${entry.path} is not the file the signed release lists (changed on the server or on the way)`,
          offered: manifest.version,
        };
      }
      await deps.cache.putFile(manifest.sequence, entry.path, file);
    }
    return null;
  };

  const take = async (installed: SignedRelease | null): Promise<ReleaseEvent | null> => {
    let offer: unknown;
    try {
      offer = await readOffer();
    } catch {
      return null;
    }
    const checked = checkRelease(offer, {
      trustedKeys: deps.trustedKeys,
      installed: installed?.manifest ?? null,
    });
    if (!checked.ok) {
      if (checked.reason === 'not-newer') return null;
      const event: ReleaseEvent = {
        type: 'refused',
        reason: checked.reason,
        message: checked.message,
        offered: offeredVersion(offer),
      };
      deps.emit(event);
      return event;
    }
    const { manifest } = checked;
    let refused: Extract<ReleaseEvent, { type: 'refused' }> | null;
    try {
      refused = await store(manifest, installed?.manifest ?? null);
    } catch {
      // The network failed midway: drop what was fetched, try again at the next check.
      await deps.cache.dropOthers(installed?.manifest.sequence ?? 0);
      return null;
    }
    if (refused !== null) {
      await deps.cache.dropOthers(installed?.manifest.sequence ?? 0);
      deps.emit(refused);
      return refused;
    }
    await deps.cache.writeInstalled(offer as SignedRelease);
    await deps.cache.dropOthers(manifest.sequence);
    const event: ReleaseEvent =
      installed === null
        ? { type: 'installed', version: manifest.version, dev: manifest.dev }
        : { type: 'updated', from: installed.manifest.version, to: manifest.version, dev: manifest.dev };
    deps.emit(event);
    return event;
  };

  const once = (run: () => Promise<ReleaseEvent | null>): Promise<ReleaseEvent | null> => {
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  };

  return {
    async install() {
      const installed = await deps.cache.readInstalled();
      if (installed !== null) return installed.manifest;
      const event = await once(() => take(null));
      if (event?.type === 'installed') {
        const now = await deps.cache.readInstalled();
        if (now !== null) return now.manifest;
      }
      throw new ReleaseRefused(
        event?.type === 'refused'
          ? event
          : {
              type: 'refused',
              reason: 'missing-file',
              message: 'the server offered no release',
              offered: null,
            },
      );
    },
    check: () =>
      once(async () => {
        const installed = await deps.cache.readInstalled();
        return installed === null ? null : take(installed);
      }),
    installed: async () => (await deps.cache.readInstalled())?.manifest ?? null,
    async file(path) {
      const installed = await deps.cache.readInstalled();
      if (installed === null || !installed.manifest.files.some((f) => f.path === path)) return null;
      return deps.cache.getFile(installed.manifest.sequence, path);
    },
  };
}
