// The grant caps keep the answers that list grants within the protocol's own bounds: whatever strangers
// do, a patient's unended grants fit one `grants` answer whole, and a grantee's `listStreams` one frame.
import { describe, expect, it } from 'vitest';
import { GrantRecord, GrantsFrame } from './messages';
import { StreamAccess } from './consent';
import {
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_ACTIVE_GRANTS_PER_PATIENT,
  MAX_FRAME_BYTES,
  MAX_LISTED_GRANTS,
  MAX_STREAMS_PER_REQUEST,
} from './limits';
import { GRANTABLE_STREAM_TYPES, utf8ByteLength, validate } from './index';
import { GRANT_ID, PATIENT, PROVIDER, SIG, T0, T1 } from './examples.test-util';

const bytes = (value: unknown): number => utf8ByteLength(JSON.stringify(value));

/** The largest `grants` record the schemas accept: every scope entry, a purpose that escapes worst, revoked. */
const largestGrantRecord = (): GrantRecord => ({
  grant: {
    grant: {
      v: 1,
      grantId: GRANT_ID,
      patientId: PATIENT,
      granteeId: PROVIDER,
      scope: GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'write' as const })),
      start: T0,
      expiresAt: T1,
      // JSON writes each as \u0001: six bytes a character.
      purpose: '\u0001'.repeat(500),
      issuedAt: T0,
    },
    sig: SIG,
  },
  revokedAt: T1,
  revocation: { revocation: { v: 1, grantId: GRANT_ID, patientId: PATIENT, revokedAt: T1 }, sig: SIG },
});

describe('grant limits', () => {
  it('keep the grants answer at the bound its schema always had', () => {
    expect(MAX_LISTED_GRANTS).toBe(MAX_STREAMS_PER_REQUEST);
    expect(GrantsFrame.properties.grants.maxItems).toBe(MAX_LISTED_GRANTS);
  });

  it('are ordered: a pair within a grantee, both within one answer', () => {
    expect(MAX_ACTIVE_GRANTS_PER_PAIR).toBeLessThanOrEqual(MAX_ACTIVE_GRANTS_PER_GRANTEE);
    expect(MAX_ACTIVE_GRANTS_PER_GRANTEE).toBeLessThanOrEqual(MAX_LISTED_GRANTS);
    expect(MAX_ACTIVE_GRANTS_PER_PATIENT).toBeLessThanOrEqual(MAX_LISTED_GRANTS);
  });

  it("fit a patient's unended grants, at their largest, in one grants answer", () => {
    const record = largestGrantRecord();
    expect(validate(GrantRecord, record).ok).toBe(true);
    expect(bytes(record)).toBeGreaterThan(3500);
    // Plus the frame's own fields, with room to spare.
    expect(MAX_ACTIVE_GRANTS_PER_PATIENT * (bytes(record) + 1) + 1024).toBeLessThan(MAX_FRAME_BYTES / 2);
  });

  it("fit what a grantee's grants add to its listStreams answer in one frame", () => {
    const row: StreamAccess = {
      stream: `${PATIENT}/emergency-contact` as StreamAccess['stream'],
      patientId: PATIENT,
      type: 'emergency-contact',
      access: 'write',
      head: Number.MAX_SAFE_INTEGER,
      epoch: Number.MAX_SAFE_INTEGER,
      grantId: GRANT_ID,
      expiresAt: T1,
    };
    expect(validate(StreamAccess, row).ok).toBe(true);
    const streams = MAX_ACTIVE_GRANTS_PER_GRANTEE * GRANTABLE_STREAM_TYPES.length;
    expect(streams * (bytes(row) + 1)).toBeLessThan(MAX_FRAME_BYTES / 2);
  });
});
