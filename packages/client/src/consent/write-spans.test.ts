// Who the patient let write its streams, and when (`writeSpansOf`): what the engine checks versions by
// other accounts against (record-codec.ts `writeGrants`).
import { describe, expect, it } from 'vitest';
import type { Grant, GrantScopeEntry } from '@hale/protocol';
import { writeSpansOf, type StoredGrant } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const PROVIDER = 'BBBBBBBBBBBBBBBBBBBBBB';
const OTHER = 'CCCCCCCCCCCCCCCCCCCCCC';
const START = '2030-01-01T00:00:00.000Z';
const EXPIRES = '2030-01-02T00:00:00.000Z';
const REVOKED = '2030-01-01T12:00:00.000Z';

const stored = (
  grantId: string,
  scope: GrantScopeEntry[],
  over: Partial<Grant> = {},
  marks: Partial<StoredGrant> = {},
): StoredGrant => ({
  grant: {
    v: 1,
    grantId,
    patientId: PATIENT,
    granteeId: PROVIDER,
    scope,
    start: START,
    expiresAt: EXPIRES,
    purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
    issuedAt: START,
    ...over,
  },
  sig: `sig-${grantId}`,
  ...marks,
});
const G = (n: number) => `01J000000000000000000000${String(n).padStart(2, '0')}`;

describe('writeSpansOf', () => {
  it('answers the write grants naming the type, from start to expiry', () => {
    const grants = [
      stored(G(1), [
        { type: 'lab-result', access: 'write' },
        { type: 'allergy', access: 'read' },
      ]),
    ];
    expect(writeSpansOf(grants, PATIENT, 'lab-result', PROVIDER)).toEqual([
      { grantId: G(1), start: Date.parse(START), end: Date.parse(EXPIRES) },
    ]);
    // Read access, another type, another grantee or another patient: nothing.
    expect(writeSpansOf(grants, PATIENT, 'allergy', PROVIDER)).toEqual([]);
    expect(writeSpansOf(grants, PATIENT, 'note', PROVIDER)).toEqual([]);
    expect(writeSpansOf(grants, PATIENT, 'lab-result', OTHER)).toEqual([]);
    expect(writeSpansOf(grants, OTHER, 'lab-result', PROVIDER)).toEqual([]);
  });

  it("ends a revoked grant at the time of the patient's signed revocation, when before its expiry", () => {
    const write: GrantScopeEntry[] = [{ type: 'lab-result', access: 'write' }];
    const grants = [
      stored(G(1), write, {}, { revokedAt: REVOKED }),
      // Revoked after it expired: it ended at its expiry.
      stored(G(2), write, {}, { revokedAt: '2030-01-03T00:00:00.000Z' }),
    ];
    expect(writeSpansOf(grants, PATIENT, 'lab-result', PROVIDER)).toEqual([
      { grantId: G(1), start: Date.parse(START), end: Date.parse(REVOKED) },
      { grantId: G(2), start: Date.parse(START), end: Date.parse(EXPIRES) },
    ]);
  });

  it('gives no span for a grant whose times do not read as dates', () => {
    const write: GrantScopeEntry[] = [{ type: 'lab-result', access: 'write' }];
    const grants = [
      stored(G(1), write, { start: 'not a date' }),
      stored(G(2), write, { expiresAt: 'not a date' }),
      stored(G(3), write, {}, { revokedAt: 'not a date' }),
    ];
    expect(writeSpansOf(grants, PATIENT, 'lab-result', PROVIDER)).toEqual([]);
  });
});
