/**
 * Pre-unlock storage of a device. The platform injects it: localStorage or IndexedDB in the web app,
 * Electron safeStorage on the desktop. It holds only what is needed before unlock (the passphrase-wrapped
 * root and the device key sealed under a root-derived key), never a secret in clear.
 */
export interface Vault {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** In-memory vault for tests and for sessions that must leave nothing behind. */
export interface MemoryVault extends Vault {
  /** Copy of every entry, so tests can inspect exactly what would have been persisted. */
  entries(): ReadonlyMap<string, string>;
}

export function memoryVault(initial?: Iterable<readonly [string, string]>): MemoryVault {
  const data = new Map<string, string>(initial);
  return {
    get: async (key) => data.get(key) ?? null,
    set: async (key, value) => {
      data.set(key, value);
    },
    delete: async (key) => {
      data.delete(key);
    },
    entries: () => new Map(data),
  };
}
