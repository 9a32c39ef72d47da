// The grant caps keep the answers that list grants within the protocol's own bounds: whatever strangers
// do, a patient's unended grants fit one `grants` answer whole. A grantee's `listStreams` answer is paged
// (accepted patients' grants are not capped by MAX_ACTIVE_GRANTS_PER_GRANTEE):
// its largest page fits a frame with room, whatever the caps.
import { describe, expect, it } from 'vitest';
import { GrantRecord, GrantsFrame, StreamsFrame } from './messages';
import { MAX_PURPOSE_SLOT_BYTES, MAX_SEALED_PURPOSE_BYTES, StreamAccess, type SignedGrant } from './consent';
import {
  MAX_ACCEPTED_PATIENTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_GRANTEE,
  MAX_ACTIVE_GRANTS_PER_PAIR,
  MAX_ACTIVE_GRANTS_PER_PATIENT,
  MAX_FRAME_BYTES,
  MAX_LISTED_GRANTS,
  MAX_STREAMS_PER_REQUEST,
} from './limits';
import { GRANTABLE_STREAM_TYPES, utf8ByteLength, validate } from './index';
import { MAX_CURSOR_CHARS, MAX_GRANTS_PAGE, MAX_STREAMS_PAGE } from './paging';
import { GRANT_ID, GRANT_ID_2, PATIENT, PROVIDER, SIG, T0, T1 } from './examples.test-util';

const GRANT_ID_3 = '01HZY3K8Q5N9V7W2X4Y6Z8A0GT';

const bytes = (value: unknown): number => utf8ByteLength(JSON.stringify(value));

/** The largest signed grant the schemas accept: every scope entry, the longest purpose, a `supersedes`. */
const largestSignedGrant = (grantId: string, supersedes: string): SignedGrant => ({
  grant: {
    v: 1,
    grantId,
    patientId: PATIENT,
    granteeId: PROVIDER,
    scope: GRANTABLE_STREAM_TYPES.map((type) => ({ type, access: 'write' as const })),
    start: T0,
    expiresAt: T1,
    // Sealed (`SealedPurpose`): each part as long as its schema lets it be.
    purpose: {
      ct: 'A'.repeat(Math.ceil((MAX_SEALED_PURPOSE_BYTES * 4) / 3)),
      patient: 'A'.repeat(Math.ceil((MAX_PURPOSE_SLOT_BYTES * 4) / 3)),
      grantee: 'A'.repeat(Math.ceil((MAX_PURPOSE_SLOT_BYTES * 4) / 3)),
    },
    issuedAt: T0,
    supersedes,
  },
  sig: SIG,
});

/**
 * The largest `grants` record of an unended grant: the largest grant (one that replaced another), with a
 * revocation besides (none is listed on an unended grant, but it bounds what the server could add).
 */
const largestGrantRecord = (): GrantRecord => ({
  grant: largestSignedGrant(GRANT_ID, GRANT_ID_2),
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

  it('fit a full grants page of replaced grants, each with its successor at its largest, within a frame', () => {
    // A replaced grant is ended, so it is never among the unended grants above: it only fills pages (which
    // the server also stops before MAX_FRAME_BYTES).
    const record: GrantRecord = {
      ...largestGrantRecord(),
      supersededBy: largestSignedGrant(GRANT_ID_3, GRANT_ID),
    };
    expect(validate(GrantRecord, record).ok).toBe(true);
    expect(bytes(record)).toBeGreaterThan(7500);
    // MAX_GRANTS_PAGE of them, with the frame's own fields and cursor, still fit a frame.
    expect(MAX_GRANTS_PAGE * (bytes(record) + 1) + MAX_CURSOR_CHARS + 1024).toBeLessThan(MAX_FRAME_BYTES);
    expect(validate(GrantRecord, { ...record, supersededBy: { ...record.supersededBy, extra: 1 } }).ok).toBe(
      false,
    );
  });

  it('fit the largest listStreams page in one frame with room, not the list of a provider at the caps', () => {
    // The largest row the schema accepts: the longest type, a grant's id and end, the largest head and epoch.
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
    expect(bytes(row)).toBeGreaterThan(250);
    const page = {
      t: 'streams' as const,
      rid: Number.MAX_SAFE_INTEGER,
      streams: Array.from({ length: MAX_STREAMS_PAGE }, () => row),
      next: 'a'.repeat(MAX_CURSOR_CHARS),
    };
    expect(validate(StreamsFrame, page).ok).toBe(true);
    expect(bytes(page)).toBeLessThan(MAX_FRAME_BYTES / 2);
    // Why paging is needed: a provider that accepted the most patients it may, each granting every type,
    // plus the strangers' cap, follows a list several frames long.
    const atTheCaps =
      (MAX_ACCEPTED_PATIENTS_PER_GRANTEE + MAX_ACTIVE_GRANTS_PER_GRANTEE) * GRANTABLE_STREAM_TYPES.length;
    expect(atTheCaps * (bytes(row) + 1)).toBeGreaterThan(4 * MAX_FRAME_BYTES);
    expect(atTheCaps / MAX_STREAMS_PAGE).toBeLessThan(20);
  });
});
