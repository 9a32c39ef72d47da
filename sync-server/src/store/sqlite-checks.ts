/*
 * Argument checks of the SQLite store's calls, and the mapping of every failure to a StoreError.
 *
 * | SQLite error | StoreError |
 * | --- | --- |
 * | PRIMARYKEY / UNIQUE constraint | ALREADY_EXISTS |
 * | FOREIGNKEY constraint | NOT_FOUND |
 * | CHECK / NOT NULL constraint | INVALID |
 * | BUSY, LOCKED, FULL, IOERR, CANTOPEN, READONLY, PROTOCOL; a closed connection | UNAVAILABLE |
 * | anything else | INTERNAL |
 *
 * A StoreError passes unchanged. The checks throw INVALID before anything is read or written.
 */
import Database from 'better-sqlite3';
import { StoreError, type BlobManifest, type DocWrite, type Envelope, type StoreErrorCode } from './types';

export const invalid = (message: string): StoreError => new StoreError('INVALID', message);

export const timeMs = (value: string, what: string): number => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalid(`${what} is not an ISO timestamp: ${value}`);
  return ms;
};

export const isNonNegativeInt = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export const requireText = (value: unknown, what: string): void => {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`);
};

export const requireGeneration = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid('wrappedRootGen must be a non-negative integer');
  }
  return value;
};

export const sqliteCode = (error: unknown): string | undefined =>
  error instanceof Database.SqliteError ? error.code : undefined;

export const toStoreError = (error: unknown): StoreError => {
  if (error instanceof StoreError) return error;
  const code = sqliteCode(error);
  let mapped: StoreErrorCode = 'INTERNAL';
  if (code === undefined) {
    if (error instanceof TypeError && /database connection is not open/i.test(error.message)) {
      mapped = 'UNAVAILABLE';
    }
  } else if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    mapped = 'ALREADY_EXISTS';
  } else if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    mapped = 'NOT_FOUND';
  } else if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_NOTNULL') {
    mapped = 'INVALID';
  } else if (/^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL)/.test(code)) {
    mapped = 'UNAVAILABLE';
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(mapped, message, { cause: error });
};

export const validateEnvelope = (e: Envelope): void => {
  requireText(e.stream, 'stream');
  requireText(e.recipient, 'recipient');
  if (!isNonNegativeInt(e.epoch)) throw invalid('epoch must be a non-negative integer');
};

export const validateDocWrite = (row: DocWrite): void => {
  const { doc, assumedRev } = row;
  requireText(doc.stream, 'doc.stream');
  requireText(doc.id, 'doc.id');
  requireText(doc.rev, 'doc.rev');
  requireText(doc.author, 'doc.author');
  if (!(doc.ct instanceof Uint8Array)) throw invalid('doc.ct must be a Uint8Array');
  if (typeof doc.deleted !== 'boolean') throw invalid('doc.deleted must be a boolean');
  if (!isNonNegativeInt(doc.epoch)) throw invalid('doc.epoch must be a non-negative integer');
  if (!isNonNegativeInt(doc.size)) throw invalid('doc.size must be a non-negative integer');
  if (doc.sig !== undefined && typeof doc.sig !== 'string') throw invalid('doc.sig must be a string');
  if (doc.audit !== undefined && !isNonNegativeInt(doc.audit.authorSeq)) {
    throw invalid('doc.audit.authorSeq must be a non-negative integer');
  }
  if (assumedRev !== null && typeof assumedRev !== 'string')
    throw invalid('assumedRev must be a string or null');
  if (row.expectedEpoch !== undefined && !isNonNegativeInt(row.expectedEpoch))
    throw invalid('expectedEpoch must be a non-negative integer');
};

export const validateManifest = (m: BlobManifest): void => {
  requireText(m.blobId, 'blobId');
  requireText(m.stream, 'stream');
  if (!isNonNegativeInt(m.size)) throw invalid('size must be a non-negative integer');
  if (!isNonNegativeInt(m.chunkSize) || m.chunkSize === 0)
    throw invalid('chunkSize must be a positive integer');
  // An empty blob is one (sealed) empty chunk, as the protocol counts it.
  if (m.chunkCount !== Math.max(1, Math.ceil(m.size / m.chunkSize)))
    throw invalid('chunkCount must be max(1, ceil(size / chunkSize))');
  if (!Array.isArray(m.digests) || m.digests.length !== m.chunkCount) {
    throw invalid('digests must hold one entry per chunk');
  }
};
