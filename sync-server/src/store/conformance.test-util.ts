/*
 * What the conformance suite's areas (*-conformance.ts) and the stores' own tests share: record builders
 * at fixed times, and assertions on StoreErrors, bytes and write results. Builders make valid records
 * only; a test changes what it refuses on purpose.
 */
import { beforeEach, expect } from 'vitest';
import {
  isStoreError,
  type Account,
  type BlobManifest,
  type Device,
  type DocInput,
  type DocWrite,
  type DocWriteResult,
  type StoreErrorCode,
  type SyncStore,
} from './types';

export interface StoreHandle {
  store: SyncStore;
  cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Two store instances over one backend (e.g. two server nodes on one cluster): enables sharing tests. */
  makeSharedPair?: () => Promise<{ stores: [SyncStore, SyncStore]; cleanup: () => Promise<void> }>;
}

export const T0 = Date.parse('2030-01-01T00:00:00.000Z');
/** ISO time `seconds` after a fixed origin. */
export const isoAt = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

export const encoder = new TextEncoder();

export const makeAccount = (accountId: string, extra: Partial<Account> = {}): Account => ({
  accountId,
  role: 'patient',
  identityPublicKey: `idk-${accountId}`,
  wrappingPublicKey: `wrk-${accountId}`,
  wrappedRoot: {
    v: 1,
    kdf: { name: 'scrypt', N: 131072, r: 8, p: 1 },
    salt: 'c2FsdA',
    box: `box-${accountId}`,
  },
  wrappedRootGen: 0,
  wrappedRootSig: null,
  createdAt: isoAt(0),
  ...extra,
});

export const makeDevice = (deviceId: string, accountId: string, extra: Partial<Device> = {}): Device => ({
  deviceId,
  accountId,
  cert: { account: accountId, device: deviceId, sig: `sig-${deviceId}`, nested: { list: [1, 'two', null] } },
  devicePublicKey: `dpk-${deviceId}`,
  createdAt: isoAt(1),
  ...extra,
});

/** A signed revocation of `deviceId` as the revoke route stores it (the store keeps it opaque). */
export const makeRevocation = (deviceId: string, revokedAt: string, sig = `sig-revoke-${deviceId}`) => ({
  revocation: { v: 1, accountId: 'acc-1', deviceId, revokedAt },
  sig,
});

export const makeDocInput = (
  stream: string,
  id: string,
  rev: string,
  extra: Partial<DocInput> = {},
): DocInput => {
  const ct = extra.ct ?? encoder.encode(`ciphertext of ${stream}/${id}@${rev}`);
  return { stream, id, rev, deleted: false, epoch: 1, ct, size: ct.byteLength, author: 'device-a', ...extra };
};

/** A write of a new audit entry `id`, at `authorSeq` of `author`'s chain in `stream`. */
export const auditWrite = (stream: string, id: string, author: string, authorSeq: number): DocWrite => ({
  doc: makeDocInput(stream, id, `1-${id}`, {
    author,
    sig: `sig-${id}`,
    audit: { authorSeq, prevHash: authorSeq === 1 ? null : `h${authorSeq - 1}`, at: isoAt(authorSeq) },
  }),
  assumedRev: null,
});

export const paddedCt = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

export const catchError = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject');
};

export const expectStoreError = async (promise: Promise<unknown>, code: StoreErrorCode): Promise<void> => {
  const error = await catchError(promise);
  expect(isStoreError(error), `expected a StoreError, got ${String(error)}`).toBe(true);
  expect((error as { code: unknown }).code).toBe(code);
};

export const expectBytes = (actual: Uint8Array | null | undefined, expected: Uint8Array): void => {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(Array.from(actual ?? [])).toEqual(Array.from(expected));
};

export const okSeq = (result: DocWriteResult | undefined): number => {
  if (result?.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.seq;
};

export const waitFor = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A blob of three chunks of 4 bytes (the last of 2) in a patient's document stream. */
export const BLOB_MANIFEST: BlobManifest = {
  blobId: 'blob-1',
  stream: 'p/document',
  size: 10,
  chunkSize: 4,
  chunkCount: 3,
  digests: ['d0', 'd1', 'd2'],
  createdBy: 'dev-1',
  createdAt: isoAt(0),
};

/** Puts an account for each id into the store `current` gives (the test's fresh store). */
export const seedAccountsOf =
  (current: () => SyncStore) =>
  async (...ids: string[]): Promise<void> => {
    for (const id of ids) await current().accounts.put(makeAccount(id));
  };

/**
 * Binds an area's `store` (through `bind`) to the fresh store of each test: a beforeEach registered after
 * the suite's own, which made that store (conformance.ts), so it runs after it.
 */
export const bindStore = (current: () => SyncStore, bind: (store: SyncStore) => void): void => {
  beforeEach(() => {
    bind(current());
  });
};
