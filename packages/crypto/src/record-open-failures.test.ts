// `recordVersionOpenFailures` lists the failures `openRecordVersion` answers, message to code, made by the
// same code that answers them: a client keeps a worker's message for a failed open only when it is listed
// for its reason (packages/client offload/job-result.ts), so a failure answered but not listed would
// reach devices as "not one this build writes".
import { describe, expect, it } from 'vitest';
import {
  deriveRevisionTagKey,
  generateStreamKey,
  openRecordVersion,
  recordVersionOpenFailures,
  sealRecord,
  sealRecordVersion,
  SEALED_OVERHEAD,
  type RecordContext,
} from './index';

const key = generateStreamKey();
const ctx: RecordContext = { stream: 'pat/allergy', id: 'r1', epoch: 2, rev: 3 };
const { sealed } = sealRecordVersion(key, deriveRevisionTagKey(key), { ...ctx, deleted: false }, { a: 1 });

/** `sealed` with byte `at` changed to `value`. */
const withByte = (at: number, value: number): Uint8Array => {
  const copy = sealed.slice();
  copy[at] = value;
  return copy;
};

describe('recordVersionOpenFailures', () => {
  it('lists each failure openRecordVersion answers, with its code', () => {
    const opens: Array<[Uint8Array, RecordContext, Uint8Array?]> = [
      [new Uint8Array(0), ctx],
      [withByte(0, 0), ctx],
      [withByte(0, 2), ctx],
      [withByte(0, 255), ctx],
      [sealed.subarray(0, SEALED_OVERHEAD - 1), ctx],
      [sealed, ctx, generateStreamKey()],
      [withByte(sealed.length - 1, sealed[sealed.length - 1]! ^ 1), ctx],
      // A record (not a record version): its body has no tag or deletion flag.
      [sealRecord(key, ctx, { a: 1 }), ctx],
      [sealed, { ...ctx, id: 'r2' }],
      [sealed, { ...ctx, stream: 'pat/note', rev: 4 }],
      [sealed, { stream: 'x/y', id: 'r9', epoch: 7, rev: 9 }],
    ];
    const listed = recordVersionOpenFailures();
    const failures = opens.map(([bytes, expected, k = key]) => {
      const opened = openRecordVersion(k, bytes, expected);
      if (opened.ok) throw new Error('opened');
      return opened.error;
    });
    // Every kind of failure is among them.
    expect(new Set(failures.map((f) => f.code))).toEqual(
      new Set(['TRUNCATED', 'UNSUPPORTED_VERSION', 'WRONG_KEY', 'TAMPERED', 'CONTEXT_MISMATCH']),
    );
    for (const f of failures) expect([f.message, listed.get(f.message)]).toEqual([f.message, f.code]);
  });

  it('lists no text openRecordVersion cannot answer', () => {
    const listed = recordVersionOpenFailures();
    expect(listed.has('sealed record: version 1 not supported')).toBe(false);
    expect(listed.has('sealed record: version 256 not supported')).toBe(false);
    expect(listed.has('sealed record: id, stream differ from the expected context')).toBe(false);
    expect(listed.has('sealed chunk: authentication failed')).toBe(false);
    expect(listed.has('sealed record: a record version (openRecordVersion opens it)')).toBe(false);
  });
});
