/**
 * The main window's security settings, its Content Security Policy, and the guard that keeps it on the
 * app's own pages.
 *
 * | setting | value | why |
 * |---|---|---|
 * | `contextIsolation` | true | the page cannot reach the preload's scope or Electron's |
 * | `sandbox` | true | the renderer is an OS-sandboxed process; the preload gets only `contextBridge` and `ipcRenderer` |
 * | `nodeIntegration` (and in workers, subframes) | false | no Node API in any page |
 * | `webSecurity`, no insecure content, no `<webview>` | — | the browser's own checks stay on |
 * | navigation, redirects | the app's origin only (`isAppUrl`) | a link or script cannot take the window elsewhere |
 * | new windows | refused; `https:` links to `externalHosts` open in the OS browser | nothing else opens |
 * | permissions | notifications only (camera for document capture, when asked by the app's page) | the rest refused |
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'hale';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/**
 * The renderer's CSP. `connect-src` allows any HTTPS/WSS server because the person chooses their sync
 * server in Settings; plain HTTP only to this machine (a server on loopback while developing).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self' https: wss: http://127.0.0.1:* ws://127.0.0.1:* http://localhost:* ws://localhost:*",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "frame-src 'none'",
].join('; ');

export interface WindowOptions {
  readonly width: number;
  readonly height: number;
  readonly minWidth: number;
  readonly minHeight: number;
  readonly show: boolean;
  readonly backgroundColor: string;
  readonly title: string;
  readonly webPreferences: {
    readonly preload: string;
    readonly contextIsolation: true;
    readonly sandbox: true;
    readonly nodeIntegration: false;
    readonly nodeIntegrationInWorker: false;
    readonly nodeIntegrationInSubFrames: false;
    readonly webSecurity: true;
    readonly allowRunningInsecureContent: false;
    readonly webviewTag: false;
    readonly experimentalFeatures: false;
    readonly spellcheck: false;
    readonly navigateOnDragDrop: false;
  };
}

export const mainWindowOptions = (preload: string): WindowOptions => ({
  width: 1280,
  height: 860,
  minWidth: 360,
  minHeight: 560,
  show: false,
  backgroundColor: '#ffffff',
  title: 'Hale',
  webPreferences: {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    spellcheck: false,
    navigateOnDragDrop: false,
  },
});

/** Whether `url` is one of the app's own pages: the packaged app's origin, or the dev server's. */
export function appUrlCheck(devServerUrl: string | null): (url: string) => boolean {
  const allowed = new Set([APP_ORIGIN]);
  if (devServerUrl !== null) allowed.add(new URL(devServerUrl).origin);
  return (url) => {
    if (!URL.canParse(url)) return false;
    const parsed = new URL(url);
    // `app://hale` is a standard scheme (registered privileged): its origin reads as such.
    const origin = parsed.protocol === `${APP_SCHEME}:` ? `${APP_SCHEME}://${parsed.host}` : parsed.origin;
    return allowed.has(origin);
  };
}

/** The webContents events the guard uses. */
export interface GuardedContents {
  on(
    event: 'will-navigate' | 'will-redirect',
    listener: (event: { preventDefault(): void; url: string }) => void,
  ): void;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): void;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

export function guardNavigation(
  contents: GuardedContents,
  options: {
    readonly isAppUrl: (url: string) => boolean;
    readonly externalHosts: readonly string[];
    readonly openExternal: (url: string) => void;
    readonly onRefused?: (url: string, what: string) => void;
  },
): void {
  const stay = (what: string) => (event: { preventDefault(): void; url: string }) => {
    if (options.isAppUrl(event.url)) return;
    event.preventDefault();
    options.onRefused?.(event.url, what);
  };
  contents.on('will-navigate', stay('navigation'));
  contents.on('will-redirect', stay('redirect'));
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const parsed = URL.canParse(url) ? new URL(url) : null;
    if (parsed?.protocol === 'https:' && options.externalHosts.includes(parsed.hostname)) {
      options.openExternal(parsed.href);
    } else {
      options.onRefused?.(url, 'new window');
    }
    return { action: 'deny' };
  });
}

/** Permissions the app's pages may have; everything else is refused. */
export const ALLOWED_PERMISSIONS: readonly string[] = ['notifications', 'media', 'clipboard-sanitized-write'];
