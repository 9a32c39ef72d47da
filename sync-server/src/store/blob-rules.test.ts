// blob-rules.ts: the blob decisions both stores take on what they read. Each refusal carries the code and
// message callers (and the conformance suite) rely on; an allowed case returns without throwing.
import { describe, expect, it } from 'vitest';
import {
  refuseTombstoned,
  requireChunkFits,
  requireEpoch,
  requireManifest,
  requireQuotaRoom,
  requireSameChunk,
  resumesUpload,
  sameManifest,
  validateBlobDelete,
  validatePutChunk,
  validatePutManifest,
} from './blob-rules';
import { manifest, refusal } from './rules.test-util';
import { BLOB_CHUNK_OVERHEAD_BYTES } from './types';

const at = '2026-01-02T00:00:00.000Z';
const guard = { granteeId: 'doc', patientIds: ['pat'], at, check: () => {} };
const bytes = (n: number): Uint8Array => new Uint8Array(n);

describe('argument checks', () => {
  it('putManifest: manifest, then quota, then guard, then expectedEpoch', () => {
    expect(() => validatePutManifest(manifest, undefined)).not.toThrow();
    expect(() =>
      validatePutManifest(manifest, { quota: { accountId: 'pat', maxBytes: 0 }, guard, expectedEpoch: 0 }),
    ).not.toThrow();
    const badQuota = { accountId: 'pat', maxBytes: -1 };
    const badGuard = { ...guard, granteeId: '' };
    expect(
      refusal(
        () =>
          validatePutManifest(
            { ...manifest, blobId: '' },
            { quota: badQuota, guard: badGuard, expectedEpoch: -1 },
          ),
        'INVALID',
      ).message,
    ).toBe('blobId must be a non-empty string');
    expect(
      refusal(() => validatePutManifest(manifest, { quota: { accountId: '', maxBytes: 1 } }), 'INVALID')
        .message,
    ).toBe('quota.accountId must be a non-empty string');
    expect(
      refusal(
        () => validatePutManifest(manifest, { quota: badQuota, guard: badGuard, expectedEpoch: -1 }),
        'INVALID',
      ).message,
    ).toBe('quota.maxBytes must be a non-negative integer');
    expect(
      refusal(() => validatePutManifest(manifest, { guard: badGuard, expectedEpoch: -1 }), 'INVALID').message,
    ).toBe('guard.granteeId must be a non-empty string');
    expect(refusal(() => validatePutManifest(manifest, { expectedEpoch: 0.5 }), 'INVALID').message).toBe(
      'expectedEpoch must be a non-negative integer',
    );
  });

  it('putChunk: bytes, then guard, then entries', () => {
    expect(() => validatePutChunk(bytes(1), undefined, undefined)).not.toThrow();
    expect(refusal(() => validatePutChunk([1, 2], { ...guard, at: '' }, undefined), 'INVALID').message).toBe(
      'chunk bytes must be a Uint8Array',
    );
    expect(
      refusal(() => validatePutChunk(bytes(1), { ...guard, at: '' }, { rows: [], now: '' }), 'INVALID')
        .message,
    ).toBe('guard.at must be a non-empty string');
    expect(refusal(() => validatePutChunk(bytes(1), guard, { rows: [], now: '' }), 'INVALID').message).toBe(
      'entries.now must be a non-empty string',
    );
  });

  it('delete: blobId, deletedBy, deletedAt, then guard and entries', () => {
    const deletion = { deletedBy: 'dev-1', deletedAt: at };
    expect(() => validateBlobDelete('b-1', deletion, guard, { rows: [], now: at })).not.toThrow();
    expect(
      refusal(() => validateBlobDelete('', { deletedBy: '', deletedAt: '' }, undefined, undefined), 'INVALID')
        .message,
    ).toBe('blobId must be a non-empty string');
    expect(
      refusal(
        () => validateBlobDelete('b-1', { deletedBy: '', deletedAt: '' }, undefined, undefined),
        'INVALID',
      ).message,
    ).toBe('deletedBy must be a non-empty string');
    expect(
      refusal(
        () => validateBlobDelete('b-1', { ...deletion, deletedAt: '' }, undefined, undefined),
        'INVALID',
      ).message,
    ).toBe('deletedAt must be a non-empty string');
    expect(
      refusal(() => validateBlobDelete('b-1', deletion, undefined, { rows: [], now: '' }), 'INVALID').message,
    ).toBe('entries.now must be a non-empty string');
  });
});

describe('manifest decisions', () => {
  it('sameManifest compares what the uploader committed to, not who announced it when', () => {
    expect(sameManifest(manifest, { ...manifest, createdBy: 'dev-2', createdAt: at })).toBe(true);
    expect(sameManifest(manifest, { ...manifest, digests: ['d0', 'd1', 'dX'] })).toBe(false);
    expect(sameManifest(manifest, { ...manifest, digests: ['d0', 'd1'] })).toBe(false);
    expect(sameManifest(manifest, { ...manifest, stream: 'pat/other' })).toBe(false);
    expect(sameManifest(manifest, { ...manifest, size: 9 })).toBe(false);
  });

  it('refuseTombstoned: DELETED with deletedAt on the own stream, ALREADY_EXISTS on another, nothing without one', () => {
    expect(() => refuseTombstoned(manifest, null)).not.toThrow();
    const own = refusal(
      () => refuseTombstoned(manifest, { stream: manifest.stream, deletedAt: at }),
      'DELETED',
    );
    expect(own).toStrictEqual({
      message: 'blob b-1 was deleted; its id is not used again',
      details: { deletedAt: at },
    });
    const other = refusal(
      () => refuseTombstoned(manifest, { stream: 'pat2/attachment', deletedAt: at }),
      'ALREADY_EXISTS',
    );
    // The same answer a live blob under the id gives: nothing says it was deleted, or when.
    expect(other.message).toBe(
      refusal(() => resumesUpload(manifest, { ...manifest, size: 9 }), 'ALREADY_EXISTS').message,
    );
    expect(other.details).toBeUndefined();
  });

  it('resumesUpload: true for the same manifest, false for none, ALREADY_EXISTS for another', () => {
    expect(resumesUpload(manifest, null)).toBe(false);
    expect(resumesUpload(manifest, { ...manifest, createdBy: 'dev-2' })).toBe(true);
    expect(
      refusal(() => resumesUpload(manifest, { ...manifest, chunkSize: 5, chunkCount: 2 }), 'ALREADY_EXISTS')
        .message,
    ).toBe('blob b-1 has a different manifest');
  });

  it('requireEpoch: passes without expectedEpoch or at the current epoch, else STALE_EPOCH with the current one', () => {
    expect(() => requireEpoch(manifest, undefined, 4)).not.toThrow();
    expect(() => requireEpoch(manifest, 4, 4)).not.toThrow();
    expect(refusal(() => requireEpoch(manifest, 3, 4), 'STALE_EPOCH')).toStrictEqual({
      message: 'blob b-1 is sealed under epoch 3; pat/attachment is at epoch 4',
      details: { epoch: 4 },
    });
  });

  it('requireQuotaRoom: up to the quota exactly, QUOTA_EXCEEDED one byte past it', () => {
    const quota = { accountId: 'pat', maxBytes: 1000 };
    expect(() => requireQuotaRoom(quota, 600, 400)).not.toThrow();
    expect(refusal(() => requireQuotaRoom(quota, 601, 400), 'QUOTA_EXCEEDED')).toStrictEqual({
      message: 'storing this blob needs 400 bytes; the account stores 601 of its 1000',
      details: { usedBytes: 601, requestedBytes: 400, quotaBytes: 1000 },
    });
  });

  it('requireManifest: returns what was found, NOT_FOUND for null or undefined', () => {
    expect(requireManifest('b-1', manifest)).toBe(manifest);
    for (const none of [null, undefined]) {
      expect(refusal(() => requireManifest('b-1', none), 'NOT_FOUND').message).toBe(
        'blob b-1 has no manifest',
      );
    }
  });
});

describe('chunk decisions', () => {
  // size 10 in chunks of 4: chunks 0 and 1 hold 4 plaintext bytes, the last one 2.
  it('requireChunkFits: each chunk from its plaintext share up to the sealing headroom', () => {
    expect(() => requireChunkFits(manifest, 'b-1', 0, bytes(4))).not.toThrow();
    expect(() => requireChunkFits(manifest, 'b-1', 1, bytes(4 + BLOB_CHUNK_OVERHEAD_BYTES))).not.toThrow();
    expect(() => requireChunkFits(manifest, 'b-1', 2, bytes(2))).not.toThrow();
    expect(refusal(() => requireChunkFits(manifest, 'b-1', 0, bytes(3)), 'INVALID').message).toBe(
      `chunk 0 of blob b-1 must be 4 bytes sealed (+ at most ${BLOB_CHUNK_OVERHEAD_BYTES}), got 3`,
    );
    expect(
      refusal(() => requireChunkFits(manifest, 'b-1', 2, bytes(3 + BLOB_CHUNK_OVERHEAD_BYTES)), 'INVALID')
        .message,
    ).toBe(
      `chunk 2 of blob b-1 must be 2 bytes sealed (+ at most ${BLOB_CHUNK_OVERHEAD_BYTES}), got ${3 + BLOB_CHUNK_OVERHEAD_BYTES}`,
    );
  });

  it('requireChunkFits: an index outside the manifest is refused before the bytes are looked at', () => {
    for (const index of [3, -1, 0.5]) {
      expect(refusal(() => requireChunkFits(manifest, 'b-1', index, bytes(0)), 'INVALID').message).toBe(
        `chunk index ${index} is outside blob b-1 (3 chunks)`,
      );
    }
  });

  it('requireSameChunk: the same bytes again pass; other bytes, or none stored, are ALREADY_EXISTS', () => {
    expect(() => requireSameChunk('b-1', 1, new Uint8Array([1, 2]), new Uint8Array([1, 2]))).not.toThrow();
    for (const stored of [new Uint8Array([1, 3]), new Uint8Array([1]), undefined]) {
      expect(
        refusal(() => requireSameChunk('b-1', 1, stored, new Uint8Array([1, 2])), 'ALREADY_EXISTS').message,
      ).toBe('chunk 1 of blob b-1 differs from the stored one');
    }
  });
});
