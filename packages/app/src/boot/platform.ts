// The browser's platform for @hale/client: IndexedDB, WebSocket, fetch, Web Locks and the crypto worker.
// The library is loaded here, on demand (its own chunk): the unlock screen shows before it arrives.
import type * as HaleClient from '@hale/client';
import type { Hale } from '@hale/client';
import type { BrowserSocketConstructor, IdbFactoryLike, WebWorkerLike } from '@hale/platform-web';

type ClientModule = typeof HaleClient;
let client: ClientModule | null = null;

/**
 * The library once loaded (null before): for code on the unlock screen's path, which must not import it
 * (a static import would put the whole library in the screen's chunks).
 */
export const loadedClient = (): ClientModule | null => client;

export const openBrowserHale = async (server: string): Promise<Hale> => {
  const [clientModule, { webPlatform }] = await Promise.all([
    import('@hale/client'),
    import('@hale/platform-web'),
  ]);
  client = clientModule;
  const { openHale } = clientModule;
  return openHale({
    server,
    platform: webPlatform({
      // The platform types the browser's objects structurally (it builds without the DOM lib).
      indexedDB: indexedDB as unknown as IdbFactoryLike,
      WebSocket: WebSocket as unknown as BrowserSocketConstructor,
      fetch: (url, init) => fetch(url, init as RequestInit),
      locks: navigator.locks,
      worker: () =>
        new Worker(new URL('../crypto-worker.ts', import.meta.url), {
          type: 'module',
        }) as unknown as WebWorkerLike,
    }),
  });
};
