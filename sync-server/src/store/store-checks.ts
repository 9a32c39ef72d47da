/*
 * Argument checks every SyncStore applies to its calls (SQLite and CouchDB alike).
 *
 * - Pure: no I/O; each check throws StoreError INVALID naming the field, or returns.
 * - The stores run them before anything is read or written, so a refused call changes nothing.
 * - The order of the checks inside each function is part of the contract (which field a call with several
 *   faults names): keep it.
 */
import { StoreError } from './store-errors';
import type { AccessEntries, AccessGuard, BlobManifest, DocWrite, Envelope } from './types';

export const invalid = (message: string): StoreError => new StoreError('INVALID', message);

export const isNonNegativeInt = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export const requireText = (value: unknown, what: string): void => {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`);
};

export const requireCount = (value: unknown, what = 'limit'): void => {
  if (!isNonNegativeInt(value)) throw invalid(`${what} must be a count, not ${String(value)}`);
};

export const timeMs = (value: string, what: string): number => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalid(`${what} is not an ISO timestamp: ${value}`);
  return ms;
};

export const requireGeneration = (value: unknown): number => {
  if (!isNonNegativeInt(value)) throw invalid('wrappedRootGen must be a non-negative integer');
  return value;
};

/** A device name record's seq (`devices.rename`): a positive integer. */
export const requireNameSeq = (value: unknown): number => {
  if (!isNonNegativeInt(value) || value < 1) throw invalid('seq must be a positive integer');
  return value;
};

/**
 * The arguments of a read of `granteeId`'s grants from `patientIds` unended at `at`: those of
 * `grants.listUnendedFrom`, or of an access guard (`of`, naming the fields in the error).
 */
export const requireUnendedFrom = (
  granteeId: unknown,
  patientIds: unknown,
  at: unknown,
  of?: 'guard',
): void => {
  const field = (name: string): string => (of === undefined ? name : `${of}.${name}`);
  requireText(granteeId, field('granteeId'));
  requireText(at, of === undefined ? 'now' : field('at'));
  if (!Array.isArray(patientIds)) throw invalid(`${field('patientIds')} must be an array`);
  for (const id of patientIds) requireText(id, field('patientId'));
};

export const validateGuard = (guard: AccessGuard | undefined): void => {
  if (guard === undefined) return;
  requireUnendedFrom(guard.granteeId, guard.patientIds, guard.at, 'guard');
  if (guard.writer !== undefined) requireText(guard.writer, 'guard.writer');
  if (typeof guard.check !== 'function') throw invalid('guard.check must be a function');
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
  if (doc.creator !== undefined) requireText(doc.creator, 'doc.creator');
  if (doc.audit !== undefined && !isNonNegativeInt(doc.audit.authorSeq)) {
    throw invalid('doc.audit.authorSeq must be a non-negative integer');
  }
  if (assumedRev !== null && typeof assumedRev !== 'string')
    throw invalid('assumedRev must be a string or null');
  if (row.expectedEpoch !== undefined && !isNonNegativeInt(row.expectedEpoch))
    throw invalid('expectedEpoch must be a non-negative integer');
  if (row.group !== undefined) requireText(row.group, 'group');
};

/** The access entries a blob write carries (types.ts AccessEntries): each row as validateDocWrite. */
export const validateEntries = (entries: AccessEntries | undefined): void => {
  if (entries === undefined) return;
  if (!Array.isArray(entries.rows)) throw invalid('entries.rows must be an array');
  entries.rows.forEach(validateDocWrite);
  requireText(entries.now, 'entries.now');
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
