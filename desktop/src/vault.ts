/**
 * The desktop vault: `@hale/client`'s Vault (get/set/delete of strings) in one file under the app's user
 * data folder, each value encrypted with the OS's key store through Electron's `safeStorage` (Keychain,
 * DPAPI, libsecret/kwallet).
 *
 * | case | outcome |
 * |---|---|
 * | the OS offers no encryption | every call refuses VAULT_UNAVAILABLE; nothing is written |
 * | Linux with no key store (`basic_text`: a fixed key) | refused too unless `allowBasicText` (the values are then only obfuscated) |
 * | an entry that does not decrypt | VAULT_CORRUPT (another user's file, or the OS key was reset) |
 * | a write | the whole file written to a temporary file, synced, renamed over the old one: a crash leaves the old or the new file |
 * | the OS asks for re-encryption (`shouldReEncrypt`) | the value is encrypted again and written back |
 *
 * Invariants: no value is on disk in clear; writes are one at a time (a queue), each on disk before it
 * resolves (the Vault contract: the account is on disk before a join reports success).
 */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DesktopError } from './ipc-main';

export interface SafeStorageLike {
  isAsyncEncryptionAvailable(): Promise<boolean>;
  encryptStringAsync(plainText: string): Promise<Buffer>;
  decryptStringAsync(encrypted: Buffer): Promise<{ shouldReEncrypt: boolean; result: string }>;
  getSelectedStorageBackend?(): string;
}

export interface VaultFs {
  readFile(path: string): Promise<Buffer>;
  /** Writes `data` to `path` durably: a temporary file, fsync, rename. */
  writeFileDurably(path: string, data: string): Promise<void>;
}

export interface DesktopVault {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

const VaultFile = Type.Object(
  { v: Type.Literal(1), entries: Type.Record(Type.String({ maxLength: 200 }), Type.String()) },
  { additionalProperties: false },
);

export function safeStorageVault(options: {
  readonly safeStorage: SafeStorageLike;
  readonly fs: VaultFs;
  readonly file: string;
  readonly platform: NodeJS.Platform;
  readonly allowBasicText?: boolean;
}): DesktopVault {
  const { safeStorage, fs, file } = options;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const requireEncryption = async (): Promise<void> => {
    if (!(await safeStorage.isAsyncEncryptionAvailable())) {
      throw new DesktopError(
        'VAULT_UNAVAILABLE',
        'this system offers no encryption for the vault (safeStorage)',
      );
    }
    if (
      options.platform === 'linux' &&
      options.allowBasicText !== true &&
      safeStorage.getSelectedStorageBackend?.() === 'basic_text'
    ) {
      throw new DesktopError(
        'VAULT_UNAVAILABLE',
        'no key store (GNOME Keyring or KWallet) is running: the vault would only be obfuscated; start one and open Hale again',
      );
    }
  };

  const read = async (): Promise<Record<string, string>> => {
    let text: string;
    try {
      text = (await fs.readFile(file)).toString('utf8');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return {};
      throw new DesktopError('VAULT_IO', 'the vault file cannot be read');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DesktopError('VAULT_CORRUPT', 'the vault file is damaged');
    }
    if (!Value.Check(VaultFile, parsed)) throw new DesktopError('VAULT_CORRUPT', 'the vault file is damaged');
    return { ...parsed.entries };
  };

  const write = async (entries: Record<string, string>): Promise<void> => {
    try {
      await fs.writeFileDurably(file, JSON.stringify({ v: 1, entries }));
    } catch {
      throw new DesktopError('VAULT_IO', 'the vault file cannot be written (is the disk full?)');
    }
  };

  return {
    get: (key) =>
      serial(async () => {
        await requireEncryption();
        const entries = await read();
        const sealed = entries[key];
        if (sealed === undefined) return null;
        let opened: { shouldReEncrypt: boolean; result: string };
        try {
          opened = await safeStorage.decryptStringAsync(Buffer.from(sealed, 'base64'));
        } catch {
          throw new DesktopError('VAULT_CORRUPT', 'a vault entry does not decrypt with this system key');
        }
        if (opened.shouldReEncrypt) {
          entries[key] = (await safeStorage.encryptStringAsync(opened.result)).toString('base64');
          await write(entries);
        }
        return opened.result;
      }),
    set: (key, value) =>
      serial(async () => {
        await requireEncryption();
        const entries = await read();
        entries[key] = (await safeStorage.encryptStringAsync(value)).toString('base64');
        await write(entries);
      }),
    delete: (key) =>
      serial(async () => {
        const entries = await read();
        if (!(key in entries)) return;
        delete entries[key];
        await write(entries);
      }),
  };
}
