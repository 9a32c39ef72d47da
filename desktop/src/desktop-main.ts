/**
 * The main process, over an injected Electron (`main.ts` passes the real module; tests a stub, since the
 * Electron binary cannot run everywhere).
 *
 * | concern | how |
 * |---|---|
 * | one instance | `requestSingleInstanceLock`; a second start focuses the first window and quits |
 * | the app's files | `app://hale/…` (a privileged standard scheme) from `appDir`, with the CSP header; or the dev server |
 * | the window | `mainWindowOptions` (context isolation, sandbox, no Node), navigation guard, permissions allow-list |
 * | the bridge | IPC through one dispatcher (`ipc-main.ts`): channels, sender and input checked |
 * | lock | OS suspend or screen lock → `hale:lock` to every window (the app locks its session) |
 * | reminders | `hale:reminders` hands the confirmed appointments' start times and the scheduled doses' times; main shows the fixed words a day and an hour before, and at a dose's time (reminders.ts), also while the page is locked |
 *
 * Failure modes: a path outside `appDir` (`..`, an absolute one) → 404; a missing file → the app's
 * `index.html` for a page, 404 for anything else; permissions not listed → refused.
 */
import path from 'node:path';
import { LOCK_CHANNEL, type IpcRequest } from './ipc-contract';
import { createIpcDispatcher, registerIpc, type IpcHandlers, type IpcMainLike } from './ipc-main';
import { createReminderScheduler, type ReminderClock } from './reminders';
import { safeStorageVault, type SafeStorageLike, type VaultFs } from './vault';
import {
  ALLOWED_PERMISSIONS,
  APP_ORIGIN,
  APP_SCHEME,
  CONTENT_SECURITY_POLICY,
  appUrlCheck,
  guardNavigation,
  mainWindowOptions,
  type GuardedContents,
  type WindowOptions,
} from './window';

export interface WebContentsLike extends GuardedContents {
  send(channel: string): void;
  printToPDF(options: {
    pageSize: 'A4';
    printBackground: boolean;
    preferCSSPageSize: boolean;
  }): Promise<Buffer>;
}

export interface BrowserWindowLike {
  readonly webContents: WebContentsLike;
  loadURL(url: string): Promise<void>;
  once(event: 'ready-to-show', listener: () => void): void;
  show(): void;
  focus(): void;
  isMinimized(): boolean;
  restore(): void;
}

export interface ElectronMainLike {
  readonly app: {
    requestSingleInstanceLock(): boolean;
    quit(): void;
    on(event: 'second-instance' | 'window-all-closed', listener: () => void): void;
    whenReady(): Promise<unknown>;
    getVersion(): string;
    getPath(name: 'userData'): string;
  };
  readonly BrowserWindow: new (options: WindowOptions) => BrowserWindowLike;
  readonly ipcMain: IpcMainLike;
  readonly powerMonitor: { on(event: 'suspend' | 'lock-screen', listener: () => void): void };
  readonly protocol: {
    registerSchemesAsPrivileged(
      schemes: {
        scheme: string;
        privileges: { standard: boolean; secure: boolean; supportFetchAPI: boolean };
      }[],
    ): void;
    handle(scheme: string, handler: (request: { url: string; mode?: string }) => Promise<Response>): void;
  };
  readonly safeStorage: SafeStorageLike;
  readonly dialog: {
    showSaveDialog(options: {
      defaultPath: string;
      filters?: { name: string; extensions: string[] }[];
    }): Promise<{ canceled: boolean; filePath?: string }>;
  };
  readonly Notification: new (options: { title: string; body: string }) => { show(): void };
  readonly shell: { openExternal(url: string): Promise<void> };
  readonly session: {
    readonly defaultSession: {
      setPermissionRequestHandler(
        handler: (contents: unknown, permission: string, callback: (granted: boolean) => void) => void,
      ): void;
    };
  };
}

export interface DesktopFs extends VaultFs {
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

export interface DesktopMainOptions {
  readonly preloadPath: string;
  /** The built web app (packages/app/dist, or the packaged copy); unused with `devServerUrl`. */
  readonly appDir: string;
  /** `HALE_APP_URL`: load the app from Vite's dev server instead (development only). */
  readonly devServerUrl: string | null;
  readonly fs: DesktopFs;
  readonly platform: NodeJS.Platform;
  /** Hosts whose https links open in the OS browser (the window itself never leaves the app). */
  readonly externalHosts?: readonly string[];
  readonly log?: (message: string, detail?: unknown) => void;
  /** The reminders' clock (tests inject one). */
  readonly clock?: ReminderClock;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Must run before the app is ready: the scheme's privileges are fixed at startup. */
export function registerAppScheme(electron: Pick<ElectronMainLike, 'protocol'>): void {
  electron.protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

/** The answer for `app://hale/<path>`: the file under `appDir`, never outside it. */
export async function serveAppFile(
  fs: Pick<DesktopFs, 'readFile'>,
  appDir: string,
  request: { url: string; mode?: string },
): Promise<Response> {
  const notFound = (): Response => new Response('not found', { status: 404 });
  const url = new URL(request.url);
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  } catch {
    return notFound();
  }
  const root = path.resolve(appDir);
  const file = path.resolve(root, relative === '' ? 'index.html' : relative);
  if (file !== root && !file.startsWith(root + path.sep)) return notFound();
  const read = async (p: string): Promise<Buffer | null> => fs.readFile(p).catch(() => null);
  let bytes = await read(file);
  let served = file;
  if (bytes === null && path.extname(file) === '') {
    // A page of the app (client-side route): its index.html.
    served = path.join(root, 'index.html');
    bytes = await read(served);
  }
  if (bytes === null) return notFound();
  const headers: Record<string, string> = {
    'content-type': TYPES[path.extname(served)] ?? 'application/octet-stream',
    'x-content-type-options': 'nosniff',
  };
  if (served.endsWith('.html')) headers['content-security-policy'] = CONTENT_SECURITY_POLICY;
  return new Response(new Uint8Array(bytes), { status: 200, headers });
}

export function createDesktopMain(electron: ElectronMainLike, options: DesktopMainOptions) {
  const { app } = electron;
  const log = options.log ?? (() => undefined);
  const isAppUrl = appUrlCheck(options.devServerUrl);
  let window: BrowserWindowLike | null = null;

  const vault = safeStorageVault({
    safeStorage: electron.safeStorage,
    fs: options.fs,
    file: path.join(app.getPath('userData'), 'hale-vault.json'),
    platform: options.platform,
  });

  const reminders = createReminderScheduler({
    show: (title, body) => new electron.Notification({ title, body }).show(),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });

  const requireWindow = (): BrowserWindowLike => {
    if (window === null) throw new Error('no window');
    return window;
  };

  const save = async (
    suggestedName: string,
    data: Uint8Array,
    filter?: { name: string; extensions: string[] },
  ): Promise<{ saved: boolean; path?: string }> => {
    requireWindow();
    const choice = await electron.dialog.showSaveDialog({
      defaultPath: suggestedName,
      ...(filter === undefined ? {} : { filters: [filter] }),
    });
    if (choice.canceled || choice.filePath === undefined) return { saved: false };
    await options.fs.writeFile(choice.filePath, data);
    return { saved: true, path: choice.filePath };
  };

  const handlers: IpcHandlers = {
    'hale:notify': async ({ title, body }) => {
      new electron.Notification({ title, body }).show();
      return null;
    },
    'hale:save-file': async (r: IpcRequest<'hale:save-file'>) =>
      save(
        r.suggestedName,
        r.data,
        r.extensions === undefined
          ? undefined
          : { name: r.filterName ?? 'File', extensions: [...r.extensions] },
      ),
    'hale:vault-get': ({ key }) => vault.get(key),
    'hale:vault-set': async ({ key, value }) => {
      await vault.set(key, value);
      return null;
    },
    'hale:vault-delete': async ({ key }) => {
      await vault.delete(key);
      return null;
    },
    'hale:app-version': async () => app.getVersion(),
    'hale:reminders': async (plan) => {
      reminders.replace(plan);
      return null;
    },
    'hale:print-emergency-card': async ({ suggestedName }) => {
      const pdf = await requireWindow().webContents.printToPDF({
        pageSize: 'A4',
        printBackground: true,
        preferCSSPageSize: true,
      });
      return save(suggestedName, pdf, { name: 'PDF', extensions: ['pdf'] });
    },
  };

  const dispatch = createIpcDispatcher({ handlers, isAppUrl, log });

  const createWindow = async (): Promise<BrowserWindowLike> => {
    const win = new electron.BrowserWindow(mainWindowOptions(options.preloadPath));
    window = win;
    guardNavigation(win.webContents, {
      isAppUrl,
      externalHosts: options.externalHosts ?? [],
      openExternal: (url) => void electron.shell.openExternal(url),
      onRefused: (url, what) => log(`refused ${what}`, { url }),
    });
    win.once('ready-to-show', () => win.show());
    await win.loadURL(options.devServerUrl ?? `${APP_ORIGIN}/`);
    return win;
  };

  return {
    dispatch,
    handlers,
    reminders,
    /** Runs the app: false when another instance holds the lock (this one quits). */
    async start(): Promise<boolean> {
      if (!app.requestSingleInstanceLock()) {
        app.quit();
        return false;
      }
      app.on('second-instance', () => {
        if (window === null) return;
        if (window.isMinimized()) window.restore();
        window.focus();
      });
      app.on('window-all-closed', () => app.quit());
      await app.whenReady();
      electron.protocol.handle(APP_SCHEME, (request) => serveAppFile(options.fs, options.appDir, request));
      electron.session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) =>
        callback(ALLOWED_PERMISSIONS.includes(permission)),
      );
      registerIpc(electron.ipcMain, dispatch);
      const lockAll = (): void => window?.webContents.send(LOCK_CHANNEL);
      electron.powerMonitor.on('suspend', lockAll);
      electron.powerMonitor.on('lock-screen', lockAll);
      await createWindow();
      return true;
    },
  };
}
