/*
 * The error every SyncStore rejects with: a StoreError carrying one of a closed set of codes.
 *
 * Invariants: `code` is stable (callers branch on it, `isStoreError(e, code)`); `details` repeats in
 * machine-readable form what the message says.
 */
export type StoreErrorCode =
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'INVALID'
  | 'INTERNAL'
  | 'CONFLICT'
  /**
   * Another process (or another store of this process) holds the data directory; details: dataDir, pid,
   * holder (`store`, or `restore` while a restore replaces the store).
   */
  | 'DATA_DIR_IN_USE'
  /** A write would take an account past its quota; details: usedBytes, requestedBytes, quotaBytes. */
  | 'QUOTA_EXCEEDED'
  /** A registration's invite is not usable; details: reason (InviteRefusal), role (for 'role'). */
  | 'INVITE_INVALID'
  /** The object was deleted and its id may not be used again; details: deletedAt. */
  | 'DELETED'
  /**
   * A blob manifest's `expectedEpoch` is not the stream's current key epoch; details: epoch (the current
   * one). Nothing stored.
   */
  | 'STALE_EPOCH'
  /** What the call would answer exceeds the bound it was given (`writeDocs`' maxMasterBytes); nothing written. */
  | 'TOO_LARGE';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** Machine-readable particulars (e.g. `{ dataDir, pid }` for DATA_DIR_IN_USE); the message says it too. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.code = code;
    this.details = options?.details;
  }
}

export const isStoreError = (error: unknown, code?: StoreErrorCode): error is StoreError =>
  error instanceof StoreError && (code === undefined || error.code === code);
