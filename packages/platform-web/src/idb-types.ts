/**
 * The part of the browser's IndexedDB API this package uses, typed here: the repository's TypeScript
 * program has no DOM lib (the packages must not reach for DOM globals), so the platform is passed in and
 * typed structurally. `fake-indexeddb` and every current browser satisfy these shapes.
 */
export interface IdbRequestLike<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

export interface IdbObjectStoreLike {
  get(key: string): IdbRequestLike<unknown>;
  put(value: unknown, key: string): IdbRequestLike<unknown>;
  delete(key: string): IdbRequestLike<unknown>;
}

export interface IdbTransactionLike {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStoreLike;
  abort(): void;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

export interface IdbDatabaseLike {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(
    stores: string[],
    mode: 'readonly' | 'readwrite',
    options?: { durability: 'strict' | 'relaxed' | 'default' },
  ): IdbTransactionLike;
  close(): void;
  onclose: (() => void) | null;
  onversionchange: (() => void) | null;
}

export interface IdbOpenRequestLike extends IdbRequestLike<IdbDatabaseLike> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}

export interface IdbFactoryLike {
  open(name: string, version: number): IdbOpenRequestLike;
}
