import { describe, expect, it } from 'vitest';
import type { Grant } from '@hale/protocol';
import { mergeGrants, type StoredGrant } from './consent';
import { endedFor } from './grant-lists';

const grant = (grantId: string): Grant => ({
  v: 1,
  grantId,
  patientId: 'AAAAAAAAAAAAAAAAAAAAAA',
  granteeId: 'BBBBBBBBBBBBBBBBBBBBBB',
  scope: [{ type: 'allergy', access: 'read' }],
  start: '2030-01-01T00:00:00.000Z',
  expiresAt: '2030-01-02T00:00:00.000Z',
  purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
  issuedAt: '2030-01-01T00:00:00.000Z',
});
const stored = (grantId: string, marks: Partial<StoredGrant> = {}): StoredGrant => ({
  grant: grant(grantId),
  sig: `sig-${grantId}`,
  ...marks,
});
const G1 = '01J0000000000000000000000A';
const G2 = '01J0000000000000000000000B';
const REVOKED = '2030-01-01T12:00:00.000Z';

describe('mergeGrants', () => {
  it('never undoes a revocation with a copy read before it, and still adds what the copy brings', () => {
    const now = [stored(G1, { revokedAt: REVOKED })];
    const olderCopy = [stored(G1), stored(G2)];
    const merged = mergeGrants(now, olderCopy);
    expect(merged).toEqual([stored(G1, { revokedAt: REVOKED }), stored(G2)]);
  });

  it('takes a revocation or rotation mark a grant lacks, keeps the one it has', () => {
    const merged = mergeGrants(
      [stored(G1), stored(G2, { revokedAt: REVOKED, rotatedAt: REVOKED })],
      [
        stored(G1, { revokedAt: '2030-01-01T13:00:00.000Z' }),
        stored(G2, { revokedAt: '2030-01-01T14:00:00.000Z', rotatedAt: '2030-01-01T14:00:00.000Z' }),
      ],
    );
    expect(merged).toEqual([
      stored(G1, { revokedAt: '2030-01-01T13:00:00.000Z' }),
      stored(G2, { revokedAt: REVOKED, rotatedAt: REVOKED }),
    ]);
  });

  it('answers null when nothing is new, and never changes what it was given', () => {
    const now = [stored(G1, { revokedAt: REVOKED })];
    expect(mergeGrants(now, [stored(G1)])).toBeNull();
    const before = structuredClone(now);
    const found = [stored(G1, { rotatedAt: REVOKED })];
    expect(mergeGrants(now, found)).toEqual([stored(G1, { revokedAt: REVOKED, rotatedAt: REVOKED })]);
    expect(now).toEqual(before);
    expect(found).toEqual([stored(G1, { rotatedAt: REVOKED })]);
  });
});

describe('a grant a change replaced (supersededBy, endedFor)', () => {
  const G3 = '01J0000000000000000000000C';
  const NOW = Date.parse('2030-01-01T18:00:00.000Z');
  const replaced = stored(G1, {
    grant: {
      ...grant(G1),
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'condition', access: 'read' },
      ],
    },
    revokedAt: REVOKED,
    supersededBy: G2,
  });
  const successor = stored(G2, {
    grant: { ...grant(G2), supersedes: G1, scope: [{ type: 'allergy', access: 'write' }] },
  });

  it('merges the successor mark a held grant lacks, and never takes it away', () => {
    expect(mergeGrants([stored(G1)], [replaced])).toEqual([
      { ...stored(G1), revokedAt: REVOKED, supersededBy: G2 },
    ]);
    expect(mergeGrants([replaced], [stored(G1)])).toBeNull();
  });

  it('ends a replaced grant only for the kinds its successor leaves out', () => {
    const all = [replaced, successor];
    expect(endedFor(replaced, 'allergy', all, NOW)).toBe(false);
    expect(endedFor(replaced, 'condition', all, NOW)).toBe(true);
    expect(endedFor(successor, 'allergy', all, NOW)).toBe(false);
  });

  it('ends it for every kind when the successor is unknown, names another grant, or another grantee', () => {
    expect(endedFor(replaced, 'allergy', [replaced], NOW)).toBe(true);
    const other = stored(G2, { grant: { ...successor.grant, supersedes: G3 } });
    expect(endedFor(replaced, 'allergy', [replaced, other], NOW)).toBe(true);
    const elsewhere = stored(G2, { grant: { ...successor.grant, granteeId: 'CCCCCCCCCCCCCCCCCCCCCC' } });
    expect(endedFor(replaced, 'allergy', [replaced, elsewhere], NOW)).toBe(true);
  });

  it('a revoked or expired grant, replaced by nothing, is ended for its kinds', () => {
    expect(endedFor(stored(G1, { revokedAt: REVOKED }), 'allergy', [], NOW)).toBe(true);
    expect(endedFor(stored(G1), 'allergy', [], Date.parse('2030-01-03T00:00:00.000Z'))).toBe(true);
    expect(endedFor(stored(G1), 'allergy', [], NOW)).toBe(false);
  });
});
