import { describe, expect, it } from 'vitest';
import type { ReceivedGrant, ReceivedStream } from '@hale/client';
import { sharingChanged } from './sharing-changes';

const stream = (
  type: ReceivedStream['type'],
  access: 'read' | 'write',
  end = '2027-01-01T00:00:00.000Z',
) => ({
  type,
  access,
  grantId: 'g',
  expiresAt: end,
  readExpiresAt: null,
});
const chart = (patientId: string, streams: ReceivedStream[], state: ReceivedGrant['state'] = 'active') => ({
  patientId,
  state,
  streams,
  endsAt: null,
  ended: [],
});

describe('sharingChanged', () => {
  it('says nothing of a chart first seen, nor of one read again unchanged', () => {
    const before = new Map<string, string>();
    expect(sharingChanged(before, [chart('p1', [stream('allergy', 'read')])])).toEqual([]);
    expect(sharingChanged(before, [chart('p1', [stream('allergy', 'read')])])).toEqual([]);
  });

  it('names a chart whose kinds, access or end moved, once per new state', () => {
    const before = new Map<string, string>();
    sharingChanged(before, [chart('p1', [stream('allergy', 'read')]), chart('p2', [stream('note', 'read')])]);
    const added = sharingChanged(before, [
      chart('p1', [stream('allergy', 'read'), stream('lab-result', 'read')]),
      chart('p2', [stream('note', 'read')]),
    ]);
    expect(added.map((c) => c.patientId)).toEqual(['p1']);
    expect(
      sharingChanged(before, [chart('p1', [stream('allergy', 'write'), stream('lab-result', 'read')])]),
    ).toHaveLength(1);
    expect(
      sharingChanged(before, [
        chart('p1', [stream('allergy', 'write', '2028-01-01T00:00:00.000Z'), stream('lab-result', 'read')]),
      ]),
    ).toHaveLength(1);
    expect(
      sharingChanged(before, [
        chart('p1', [stream('allergy', 'write', '2028-01-01T00:00:00.000Z'), stream('lab-result', 'read')]),
      ]),
    ).toEqual([]);
  });

  it('leaves an ended chart to its own words, and a chart shared again after it ended counts as new', () => {
    const before = new Map<string, string>();
    sharingChanged(before, [chart('p1', [stream('allergy', 'read')])]);
    expect(sharingChanged(before, [chart('p1', [], 'ended')])).toEqual([]);
    expect(sharingChanged(before, [chart('p1', [stream('note', 'read')])])).toEqual([]);
  });
});
