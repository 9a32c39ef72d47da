// The browser's platform for @hale/client: IndexedDB, WebSocket, fetch, Web Locks and the crypto worker.
import { openHale, type Hale } from '@hale/client';
import {
  webPlatform,
  type BrowserSocketConstructor,
  type IdbFactoryLike,
  type WebWorkerLike,
} from '@hale/platform-web';

export const openBrowserHale = (server: string): Promise<Hale> =>
  openHale({
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
