// Fixtures of the unit tests of the rules both stores share (store-checks.test.ts, blob-rules.test.ts).
import { expect } from 'vitest';
import { isStoreError, type BlobManifest, type StoreErrorCode } from './types';

/** A well-formed manifest: size 10 in chunks of 4 (chunks 0 and 1 hold 4 plaintext bytes, the last 2). */
export const manifest: BlobManifest = {
  blobId: 'b-1',
  stream: 'pat/attachment',
  size: 10,
  chunkSize: 4,
  chunkCount: 3,
  digests: ['d0', 'd1', 'd2'],
  createdBy: 'dev-1',
  createdAt: '2026-01-01T00:00:00.000Z',
};

/** The StoreError `fn` throws, failing the test unless it has `code` (a call that returns fails too). */
export const refusal = (
  fn: () => unknown,
  code: StoreErrorCode = 'INVALID',
): { message: string; details: unknown } => {
  try {
    fn();
  } catch (error) {
    expect(isStoreError(error, code), `expected StoreError ${code}, got ${String(error)}`).toBe(true);
    return { message: (error as Error).message, details: (error as { details?: unknown }).details };
  }
  throw new Error(`expected ${code}, got no refusal`);
};
