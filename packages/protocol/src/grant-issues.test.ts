// `grantIssues` is the one statement of a grant's rules beyond its schema: the codec applies it to every
// `grant` frame (server side), and devices call it before signing (client consent), so both refuse the
// same grants, with the same fields named.
import { describe, expect, it } from 'vitest';
import { GrantFrame } from './messages';
import { grantIssues, supersedesGrant, type Grant } from './consent';
import { validate } from './codec';

const grant = (change: Partial<Grant> = {}): Grant => ({
  v: 1,
  grantId: '01J0000000000000000000000A',
  patientId: 'AAAAAAAAAAAAAAAAAAAAAA',
  granteeId: 'BBBBBBBBBBBBBBBBBBBBBB',
  scope: [{ type: 'allergy', access: 'read' }],
  start: '2031-01-01T00:00:00.000Z',
  expiresAt: '2031-01-02T00:00:00.000Z',
  purpose: { ct: 'Y2FyZQ', patient: 'Y2FyZQ', grantee: 'Y2FyZQ' },
  issuedAt: '2031-01-01T00:00:00.000Z',
  ...change,
});

const frameIssues = (g: Grant): string[] => {
  const checked = validate(GrantFrame, { t: 'grant', rid: 1, grant: { grant: g, sig: 'A'.repeat(86) } });
  return checked.ok ? [] : checked.error.details.issues.map((i) => i.path);
};

describe('grantIssues', () => {
  const cases: Array<[string, Partial<Grant>, string[]]> = [
    ['a grant that keeps the rules', {}, []],
    [
      'a type named twice',
      {
        scope: [
          { type: 'allergy', access: 'read' },
          { type: 'allergy', access: 'write' },
        ],
      },
      ['/scope/1/type'],
    ],
    ['a grant to the patient itself', { granteeId: 'AAAAAAAAAAAAAAAAAAAAAA' }, ['/granteeId']],
    ['an expiry at the start', { expiresAt: '2031-01-01T00:00:00.000Z' }, ['/expiresAt']],
    ['an expiry before the start', { expiresAt: '2030-12-31T00:00:00.000Z' }, ['/expiresAt']],
    ['a grant that supersedes another', { supersedes: '01J0000000000000000000000B' }, []],
    ['a grant that supersedes itself', { supersedes: '01J0000000000000000000000A' }, ['/supersedes']],
  ];

  it.each(cases)('%s: the same fields alone and within a grant frame', (_, change, paths) => {
    const g = grant(change);
    expect(grantIssues(g).map((i) => i.path)).toEqual(paths);
    expect(frameIssues(g)).toEqual(paths.map((p) => `/grant/grant${p}`));
  });
});

describe('supersedesGrant', () => {
  const old = grant();
  const next = grant({ grantId: '01J0000000000000000000000B', supersedes: old.grantId });

  it('links a grant that names another of the same patient and grantee', () => {
    expect(supersedesGrant(next, old)).toBe(true);
    expect(supersedesGrant(old, next)).toBe(false);
  });

  const { supersedes: _, ...none } = next;
  it.each<[string, Grant]>([
    ['names no grant', none],
    ['names another grant', { ...next, supersedes: '01J0000000000000000000000C' }],
    ['is of another patient', { ...next, patientId: 'CCCCCCCCCCCCCCCCCCCCCC' }],
    ['is to another grantee', { ...next, granteeId: 'CCCCCCCCCCCCCCCCCCCCCC' }],
    ['is the grant itself', { ...next, grantId: old.grantId }],
  ])('not when the successor %s', (_why, successor) => {
    expect(supersedesGrant(successor, old)).toBe(false);
  });
});
