/**
 * The page's side of the installed web app: registers `/sw.js`, asks for persistent storage, and hands
 * the app what the service worker reports, for a notice in words.
 *
 * | event (`onRelease`) | say |
 * |---|---|
 * | `installed` | "Hale is installed on this device (version …)"; `dev`: "development build: anyone can sign its updates" |
 * | `updated` | "Hale was updated from … to …; reload to use it" |
 * | `refused` | "The server offered an update that is not signed by Hale's release key (…); it was not installed" |
 * | `worker-replaced` | "The server replaced the app's core without a signed release: lock, and do not type your passphrase until you have checked the server" |
 * | `storage` | `persisted` false: "the browser may clear this device's copy when space runs low" |
 *
 * `worker-replaced`: the browser installs a new `/sw.js` whenever the server serves other bytes for it;
 * the page compares that script's SHA-256 with the one the installed (signed) release lists and says so
 * when it differs. It is a warning, not a defence: see docs/architecture.md.
 */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ReleaseEventSchema, type ReleaseEvent } from '@hale/release';

export type PageReleaseEvent =
  | ReleaseEvent
  | { readonly type: 'worker-replaced'; readonly expected: string | null; readonly served: string | null }
  | { readonly type: 'storage'; readonly persisted: boolean }
  | { readonly type: 'unsupported'; readonly why: string };

export interface ReleaseStatus {
  readonly installed: { readonly version: string; readonly sequence: number; readonly dev: boolean } | null;
  readonly devBuild: boolean;
  readonly lastEvent: ReleaseEvent | null;
  readonly workerHash: string | null;
}

/** The parts of the page's `navigator` used here (injected: `registerReleaseWorker({ navigator, … })`). */
export interface NavigatorLike {
  readonly serviceWorker?: ServiceWorkerContainerLike;
  readonly storage?: { persisted(): Promise<boolean>; persist(): Promise<boolean> };
}
interface WorkerLike {
  postMessage(message: unknown): void;
}
export interface ServiceWorkerContainerLike {
  readonly controller: WorkerLike | null;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  register(
    url: string,
    options: { scope: string },
  ): Promise<{
    readonly active: WorkerLike | null;
    addEventListener(type: 'updatefound', listener: () => void): void;
  }>;
}
/** The page's `fetch` and `crypto.subtle.digest`, for the check of a replaced worker script. */
export interface PageFetchLike {
  (url: string, init: { cache: 'no-store' }): Promise<{ ok: boolean; arrayBuffer(): Promise<ArrayBuffer> }>;
}
export interface DigestLike {
  digest(algorithm: 'SHA-256', data: ArrayBuffer): Promise<ArrayBuffer>;
}

export interface ReleaseWorker {
  /** Asks the worker to look for a signed update now. */
  checkNow(): void;
  /** The installed release, as the worker reports it. */
  status(): Promise<ReleaseStatus | null>;
}

const hex = (buffer: ArrayBuffer): string =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** What the worker posts, checked before use (a message crosses from another context). */
const StatusMessage = Type.Object({
  type: Type.Literal('hale-release-status'),
  installed: Type.Union([
    Type.Object({ version: Type.String({ maxLength: 64 }), sequence: Type.Integer(), dev: Type.Boolean() }),
    Type.Null(),
  ]),
  devBuild: Type.Boolean(),
  lastEvent: Type.Union([ReleaseEventSchema, Type.Null()]),
  workerHash: Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()]),
});
const EventMessage = Type.Object({ type: Type.Literal('hale-release'), event: ReleaseEventSchema });

/**
 * `registerReleaseWorker({ navigator, fetch, subtle: crypto.subtle, onRelease })` from the app's entry.
 * Null where there are no service workers (an old browser, or a page not on HTTPS or localhost).
 */
export async function registerReleaseWorker(options: {
  readonly navigator: NavigatorLike;
  readonly fetch: PageFetchLike;
  readonly subtle: DigestLike;
  readonly onRelease: (event: PageReleaseEvent) => void;
  readonly scriptUrl?: string;
}): Promise<ReleaseWorker | null> {
  const { onRelease, navigator } = options;
  const scriptUrl = options.scriptUrl ?? '/sw.js';
  const container = navigator.serviceWorker;
  if (container === undefined) {
    onRelease({
      type: 'unsupported',
      why: 'this browser has no service workers (or the page is not on HTTPS)',
    });
    return null;
  }
  // Persistent storage: the browser then does not clear the records' copy under storage pressure.
  if (navigator.storage !== undefined) {
    const persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
    onRelease({ type: 'storage', persisted });
  }
  let pendingStatus: ((s: ReleaseStatus) => void) | null = null;
  container.addEventListener('message', (message) => {
    const data = message.data;
    if (Value.Check(EventMessage, data)) onRelease(data.event);
    if (Value.Check(StatusMessage, data) && pendingStatus !== null) {
      pendingStatus({
        installed: data.installed,
        devBuild: data.devBuild,
        lastEvent: data.lastEvent,
        workerHash: data.workerHash,
      });
      pendingStatus = null;
    }
  });
  const registration = await container.register(scriptUrl, { scope: '/' });

  const status = (): Promise<ReleaseStatus | null> =>
    new Promise((resolve) => {
      const worker = container.controller ?? registration.active;
      if (worker === null) {
        resolve(null);
        return;
      }
      const timer = setTimeout(() => resolve(null), 5_000);
      pendingStatus = (answer) => {
        clearTimeout(timer);
        resolve(answer);
      };
      worker.postMessage({ type: 'hale-release-status' });
    });

  registration.addEventListener('updatefound', () => {
    void (async () => {
      const current = await status();
      if (current === null || current.installed === null) return;
      const res = await options.fetch(scriptUrl, { cache: 'no-store' }).catch(() => null);
      const served = res?.ok ? hex(await options.subtle.digest('SHA-256', await res.arrayBuffer())) : null;
      if (served !== current.workerHash) {
        onRelease({ type: 'worker-replaced', expected: current.workerHash, served });
      }
    })();
  });

  return {
    checkNow: () => (container.controller ?? registration.active)?.postMessage({ type: 'hale-check-update' }),
    status,
  };
}
