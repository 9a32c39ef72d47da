// store-checks.ts: the argument checks both stores run before reading or writing anything. Each refusal is
// INVALID naming the field; where a call has several faults, the first check in the documented order names
// it (the stores relied on that order before the checks were shared).
import { describe, expect, it } from 'vitest';
import {
  requireCount,
  requireGeneration,
  requireText,
  requireUnendedFrom,
  timeMs,
  validateDocWrite,
  validateEntries,
  validateEnvelope,
  validateGuard,
  validateManifest,
} from './store-checks';
import { manifest, refusal } from './rules.test-util';
import type { AccessGuard, DocWrite, Envelope } from './types';

/** The message of the INVALID `fn` throws. */
const invalidMessage = (fn: () => unknown): string => refusal(fn).message;

/** Builds a value of T with some fields broken (a malformed input crossing the store's boundary). */
const broken = <T>(good: T, changes: Record<string, unknown>): T => ({ ...good, ...changes });

const write: DocWrite = {
  doc: {
    stream: 'pat/allergy',
    id: 'd-1',
    rev: '1-a',
    author: 'dev-1',
    ct: new Uint8Array([1]),
    deleted: false,
    epoch: 0,
    size: 1,
  },
  assumedRev: null,
};
const withDoc = (changes: Record<string, unknown>): DocWrite => ({
  ...write,
  doc: broken(write.doc, changes),
});

const guard: AccessGuard = {
  granteeId: 'doc',
  patientIds: ['pat'],
  at: '2026-01-01T00:00:00.000Z',
  check: () => {},
};

describe('scalar checks', () => {
  it('requireText passes a non-empty string and refuses an empty one or a non-string, naming the field', () => {
    expect(() => requireText('x', 'stream')).not.toThrow();
    expect(invalidMessage(() => requireText('', 'stream'))).toBe('stream must be a non-empty string');
    expect(invalidMessage(() => requireText(7, 'doc.id'))).toBe('doc.id must be a non-empty string');
  });

  it('requireCount passes 0 and refuses negatives, fractions and non-numbers with the value in the message', () => {
    expect(() => requireCount(0)).not.toThrow();
    expect(invalidMessage(() => requireCount(-1))).toBe('limit must be a count, not -1');
    expect(invalidMessage(() => requireCount(1.5, 'max'))).toBe('max must be a count, not 1.5');
    expect(invalidMessage(() => requireCount('3'))).toBe('limit must be a count, not 3');
  });

  it('timeMs reads an ISO time and refuses anything Date.parse cannot read', () => {
    expect(timeMs('2026-01-01T00:00:00.000Z', 'now')).toBe(Date.UTC(2026, 0, 1));
    expect(invalidMessage(() => timeMs('yesterday', 'now'))).toBe('now is not an ISO timestamp: yesterday');
  });

  it('requireGeneration returns a non-negative integer and refuses the rest', () => {
    expect(requireGeneration(0)).toBe(0);
    expect(requireGeneration(3)).toBe(3);
    for (const bad of [-1, 0.5, '1', null]) {
      expect(invalidMessage(() => requireGeneration(bad))).toBe(
        'wrappedRootGen must be a non-negative integer',
      );
    }
  });
});

describe('requireUnendedFrom and validateGuard', () => {
  it('names the plain fields for listUnendedFrom and the guard.* fields for a guard', () => {
    expect(() => requireUnendedFrom('doc', ['pat'], guard.at)).not.toThrow();
    expect(invalidMessage(() => requireUnendedFrom('doc', ['pat'], ''))).toBe(
      'now must be a non-empty string',
    );
    expect(invalidMessage(() => requireUnendedFrom('doc', 'pat', guard.at))).toBe(
      'patientIds must be an array',
    );
    expect(invalidMessage(() => requireUnendedFrom('doc', ['pat', ''], guard.at))).toBe(
      'patientId must be a non-empty string',
    );
    expect(invalidMessage(() => requireUnendedFrom('doc', 'pat', guard.at, 'guard'))).toBe(
      'guard.patientIds must be an array',
    );
  });

  it('checks granteeId, then at, then patientIds, then writer, then check', () => {
    expect(() => validateGuard(undefined)).not.toThrow();
    expect(() => validateGuard(guard)).not.toThrow();
    expect(() => validateGuard({ ...guard, writer: 'dev-1' })).not.toThrow();
    const all = { granteeId: '', at: '', patientIds: 'pat', writer: '', check: 'no' };
    expect(invalidMessage(() => validateGuard(broken(guard, all)))).toBe(
      'guard.granteeId must be a non-empty string',
    );
    const { granteeId: _g, ...afterGrantee } = all;
    expect(invalidMessage(() => validateGuard(broken(guard, afterGrantee)))).toBe(
      'guard.at must be a non-empty string',
    );
    expect(
      invalidMessage(() => validateGuard(broken(guard, { patientIds: 'pat', writer: '', check: 'no' }))),
    ).toBe('guard.patientIds must be an array');
    expect(invalidMessage(() => validateGuard(broken(guard, { writer: '', check: 'no' })))).toBe(
      'guard.writer must be a non-empty string',
    );
    expect(invalidMessage(() => validateGuard(broken(guard, { check: 'no' })))).toBe(
      'guard.check must be a function',
    );
  });
});

describe('validateEnvelope', () => {
  const envelope: Envelope = {
    stream: 'pat/allergy',
    epoch: 1,
    recipient: 'doc',
    keyId: 'k',
    wrapped: 'w',
    createdBy: 'dev-1',
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  it('passes a well-formed envelope and refuses stream, recipient, epoch in that order', () => {
    expect(() => validateEnvelope(envelope)).not.toThrow();
    expect(
      invalidMessage(() => validateEnvelope(broken(envelope, { stream: '', recipient: '', epoch: -1 }))),
    ).toBe('stream must be a non-empty string');
    expect(invalidMessage(() => validateEnvelope(broken(envelope, { recipient: '', epoch: -1 })))).toBe(
      'recipient must be a non-empty string',
    );
    expect(invalidMessage(() => validateEnvelope(broken(envelope, { epoch: 1.5 })))).toBe(
      'epoch must be a non-negative integer',
    );
  });
});

describe('validateDocWrite and validateEntries', () => {
  it('passes a well-formed row, with or without the optional fields', () => {
    expect(() => validateDocWrite(write)).not.toThrow();
    expect(() =>
      validateDocWrite({
        doc: { ...write.doc, sig: 's', audit: { authorSeq: 0 } } as DocWrite['doc'],
        assumedRev: '1-a',
        expectedEpoch: 0,
      }),
    ).not.toThrow();
  });

  it('refuses each malformed field with its own message', () => {
    const cases: Array<[DocWrite, string]> = [
      [withDoc({ stream: '' }), 'doc.stream must be a non-empty string'],
      [withDoc({ id: '' }), 'doc.id must be a non-empty string'],
      [withDoc({ rev: '' }), 'doc.rev must be a non-empty string'],
      [withDoc({ author: '' }), 'doc.author must be a non-empty string'],
      [withDoc({ ct: [1] }), 'doc.ct must be a Uint8Array'],
      [withDoc({ deleted: 'no' }), 'doc.deleted must be a boolean'],
      [withDoc({ epoch: -1 }), 'doc.epoch must be a non-negative integer'],
      [withDoc({ size: 0.5 }), 'doc.size must be a non-negative integer'],
      [withDoc({ sig: 1 }), 'doc.sig must be a string'],
      [withDoc({ audit: { authorSeq: -1 } }), 'doc.audit.authorSeq must be a non-negative integer'],
      [broken(write, { assumedRev: 1 }), 'assumedRev must be a string or null'],
      [broken(write, { expectedEpoch: -1 }), 'expectedEpoch must be a non-negative integer'],
    ];
    for (const [row, message] of cases) expect(invalidMessage(() => validateDocWrite(row))).toBe(message);
  });

  it('names the first fault in field order when a row has several', () => {
    const row = broken(withDoc({ rev: '', ct: null, epoch: -1 }), { assumedRev: 3 });
    expect(invalidMessage(() => validateDocWrite(row))).toBe('doc.rev must be a non-empty string');
  });

  it('validateEntries checks rows (each as a doc write) before now', () => {
    expect(() => validateEntries(undefined)).not.toThrow();
    expect(() => validateEntries({ rows: [write], now: guard.at })).not.toThrow();
    expect(invalidMessage(() => validateEntries(broken({ rows: [], now: '' }, { rows: 'x' })))).toBe(
      'entries.rows must be an array',
    );
    expect(invalidMessage(() => validateEntries({ rows: [withDoc({ id: '' })], now: '' }))).toBe(
      'doc.id must be a non-empty string',
    );
    expect(invalidMessage(() => validateEntries({ rows: [write], now: '' }))).toBe(
      'entries.now must be a non-empty string',
    );
  });
});

describe('validateManifest', () => {
  it('passes a manifest whose chunk count and digests match its sizes, and an empty blob of one chunk', () => {
    expect(() => validateManifest(manifest)).not.toThrow();
    expect(() => validateManifest({ ...manifest, size: 0, chunkCount: 1, digests: ['d0'] })).not.toThrow();
  });

  it('refuses each malformed field with its own message', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ blobId: '' }, 'blobId must be a non-empty string'],
      [{ stream: '' }, 'stream must be a non-empty string'],
      [{ size: -1 }, 'size must be a non-negative integer'],
      [{ chunkSize: 0 }, 'chunkSize must be a positive integer'],
      [{ chunkCount: 2 }, 'chunkCount must be max(1, ceil(size / chunkSize))'],
      [{ size: 0, chunkCount: 0, digests: [] }, 'chunkCount must be max(1, ceil(size / chunkSize))'],
      [{ digests: ['d0', 'd1'] }, 'digests must hold one entry per chunk'],
      [{ digests: 'd0d1d2' }, 'digests must hold one entry per chunk'],
    ];
    for (const [changes, message] of cases) {
      expect(invalidMessage(() => validateManifest(broken(manifest, changes)))).toBe(message);
    }
  });
});
