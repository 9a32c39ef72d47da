import { describe, expect, it } from 'vitest';
import { countByKind, groupListings, notKeptGroups } from './plan-groups';

describe('an import plan as a person reads it', () => {
  it('counts records by kind in the chart’s order', () => {
    const counts = countByKind([
      { kind: 'LabResult' },
      { kind: 'Condition' },
      { kind: 'Profile' },
      { kind: 'LabResult' },
      { kind: 'Allergy' },
    ]);
    expect(counts.map((c) => [c.kind, c.count])).toEqual([
      ['Profile', 1],
      ['Allergy', 1],
      ['Condition', 1],
      ['LabResult', 2],
    ]);
    expect(counts[2]?.slug).toBe('conditions');
  });

  it('groups listings by type and reason, the largest first, with a few paths', () => {
    const claims = Array.from({ length: 7 }, (_, i) => ({
      resourceType: 'Claim',
      reason: 'billing',
      path: `entry[${i}]`,
    }));
    const groups = groupListings([
      { resourceType: 'Observation', reason: 'no date', path: 'entry[99]' },
      ...claims,
      { resourceType: 'Claim', reason: 'other', path: 'entry[50]' },
    ]);
    expect(groups.map((g) => [g.resourceType, g.reason, g.count])).toEqual([
      ['Claim', 'billing', 7],
      ['Claim', 'other', 1],
      ['Observation', 'no date', 1],
    ]);
    expect(groups[0]?.paths).toHaveLength(5);
  });

  it('counts the elements not kept by resource type', () => {
    expect(
      notKeptGroups([
        { resourceType: 'Observation', notKept: ['interpretation', 'note'] },
        { resourceType: 'Observation', notKept: ['interpretation'] },
        { resourceType: 'Condition', notKept: [] },
      ]),
    ).toEqual([
      { element: 'Observation.interpretation', count: 2 },
      { element: 'Observation.note', count: 1 },
    ]);
  });
});
