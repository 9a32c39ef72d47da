// A stand-in for the parts of Electron the main process uses (the Electron binary cannot run here): it
// records what main asked for, and lets a test play the OS, the page and the person.
import type { BrowserWindowLike, DesktopFs, ElectronMainLike, WebContentsLike } from './desktop-main';
import type { IpcAnswer } from './ipc-contract';
import type { IpcSender } from './ipc-main';
import type { SafeStorageLike } from './vault';
import type { WindowOptions } from './window';

type Listener = (event: { preventDefault(): void; url: string }) => void;

export interface StubWindow extends BrowserWindowLike {
  readonly options: WindowOptions;
  readonly loaded: string[];
  readonly sent: string[];
  /** Fires a navigation event as the page would; true when main let it happen. */
  navigate(kind: 'will-navigate' | 'will-redirect', url: string): boolean;
  /** Asks to open a window as `window.open` would; what main answered. */
  open(url: string): { action: string };
  attachWebview(): boolean;
}

/** A fake safeStorage: "encrypts" by XOR with a key so the file is not clear text, and can be made to fail. */
export const fakeSafeStorage = (
  options: { available?: boolean; backend?: string; reEncrypt?: boolean } = {},
): SafeStorageLike & { calls: string[] } => {
  const key = 0x5a;
  const calls: string[] = [];
  const flip = (b: Buffer): Buffer => Buffer.from(b.map((x) => x ^ key));
  return {
    calls,
    isAsyncEncryptionAvailable: async () => options.available ?? true,
    getSelectedStorageBackend: () => options.backend ?? 'gnome_libsecret',
    encryptStringAsync: async (text) => {
      calls.push('encrypt');
      return Buffer.concat([Buffer.from('v10'), flip(Buffer.from(text, 'utf8'))]);
    },
    decryptStringAsync: async (sealed) => {
      calls.push('decrypt');
      if (sealed.subarray(0, 3).toString() !== 'v10')
        throw new Error('Error while decrypting the ciphertext');
      return {
        shouldReEncrypt: options.reEncrypt ?? false,
        result: flip(sealed.subarray(3)).toString('utf8'),
      };
    },
  };
};

export const memoryFs = (): DesktopFs & { files: Map<string, Buffer> } => {
  const files = new Map<string, Buffer>();
  const missing = (p: string) => Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  return {
    files,
    readFile: async (p) => {
      const f = files.get(p);
      if (f === undefined) throw missing(p);
      return f;
    },
    writeFile: async (p, d) => {
      files.set(p, Buffer.from(d));
    },
    writeFileDurably: async (p, d) => {
      files.set(p, Buffer.from(d));
    },
  };
};

export const stubElectron = (
  options: { singleInstance?: boolean; safeStorage?: SafeStorageLike; saveTo?: string | null } = {},
) => {
  const windows: StubWindow[] = [];
  const handlers = new Map<string, (event: IpcSender, request: unknown) => Promise<IpcAnswer>>();
  const appEvents = new Map<string, () => void>();
  const powerEvents = new Map<string, () => void>();
  const notifications: { title: string; body: string }[] = [];
  /** The options of each save dialog shown. */
  const saveDialogs: unknown[] = [];
  const privileged: unknown[] = [];
  const protocols = new Map<string, (request: { url: string }) => Promise<Response>>();
  let permissionHandler: ((c: unknown, p: string, cb: (g: boolean) => void) => void) | null = null;
  const opened: string[] = [];
  let quit = 0;

  class BrowserWindow implements StubWindow {
    readonly loaded: string[] = [];
    readonly sent: string[] = [];
    readonly webContents: WebContentsLike;
    private readonly listeners = new Map<string, Listener>();
    private openHandler: ((d: { url: string }) => { action: 'deny' }) | null = null;
    focused = 0;
    constructor(readonly options: WindowOptions) {
      windows.push(this);
      const listeners = this.listeners;
      const on = (event: string, listener: Listener): void => {
        listeners.set(event, listener);
      };
      this.webContents = {
        on,
        setWindowOpenHandler: (handler) => {
          this.openHandler = handler;
        },
        send: (channel) => {
          this.sent.push(channel);
        },
        printToPDF: async () => Buffer.from('%PDF-1.7 emergency card'),
      };
    }
    navigate(kind: 'will-navigate' | 'will-redirect', url: string): boolean {
      let prevented = false;
      this.listeners.get(kind)?.({ preventDefault: () => (prevented = true), url });
      return !prevented;
    }
    open(url: string) {
      return this.openHandler?.({ url }) ?? { action: 'allow' };
    }
    attachWebview(): boolean {
      let prevented = false;
      this.listeners.get('will-attach-webview')?.({ preventDefault: () => (prevented = true), url: '' });
      return !prevented;
    }
    async loadURL(url: string) {
      this.loaded.push(url);
    }
    once(_event: 'ready-to-show', listener: () => void) {
      listener();
    }
    show() {}
    focus() {
      this.focused += 1;
    }
    isMinimized() {
      return false;
    }
    restore() {}
  }

  const electron: ElectronMainLike = {
    app: {
      requestSingleInstanceLock: () => options.singleInstance ?? true,
      quit: () => {
        quit += 1;
      },
      on: (event, listener) => {
        appEvents.set(event, listener);
      },
      whenReady: async () => undefined,
      getVersion: () => '0.1.0',
      getPath: () => '/user-data',
    },
    BrowserWindow,
    ipcMain: {
      handle: (channel, listener) => {
        handlers.set(channel, listener);
      },
    },
    powerMonitor: {
      on: (event, listener) => {
        powerEvents.set(event, listener);
      },
    },
    protocol: {
      registerSchemesAsPrivileged: (schemes) => {
        privileged.push(...schemes);
      },
      handle: (scheme, handler) => {
        protocols.set(scheme, handler);
      },
    },
    safeStorage: options.safeStorage ?? fakeSafeStorage(),
    dialog: {
      showSaveDialog: async (dialogOptions: unknown) => {
        saveDialogs.push(dialogOptions);
        return options.saveTo === null
          ? { canceled: true }
          : { canceled: false, filePath: options.saveTo ?? '/home/me/file' };
      },
    },
    Notification: class {
      constructor(private readonly n: { title: string; body: string }) {}
      show() {
        notifications.push(this.n);
      }
    },
    shell: {
      openExternal: async (url) => {
        opened.push(url);
      },
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (handler) => {
          permissionHandler = handler;
        },
      },
    },
  };

  return {
    electron,
    windows,
    handlers,
    appEvents,
    powerEvents,
    notifications,
    saveDialogs,
    privileged,
    protocols,
    opened,
    quits: () => quit,
    permission: (name: string): boolean => {
      let granted = false;
      permissionHandler?.(null, name, (g) => (granted = g));
      return granted;
    },
    /** Calls a channel as the page at `url` would. */
    invoke: (channel: string, request: unknown, url = 'app://hale/'): Promise<IpcAnswer> => {
      const handler = handlers.get(channel);
      if (handler === undefined) return Promise.reject(new Error(`No handler registered for '${channel}'`));
      return handler({ senderFrame: { url } }, request);
    },
  };
};
