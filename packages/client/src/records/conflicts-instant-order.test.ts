// This build stamps `updatedAt` in UTC with three fraction digits, but the model takes any offset and
// 1–9 fraction digits (another build, a provider's device), whose text order is not their time order.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import { compareInstants, resolveRecordConflict } from './conflicts';
import type { PlainRecord } from './plain-record';

const version = (author: string, updatedAt: string, dose: string): PlainRecord => ({
  id: 'med-1',
  stream: 'p/medications',
  kind: 'Medication',
  patientId: 'p',
  updatedAt,
  rv: 2,
  epoch: 0,
  author,
  by: 'p',
  conflict: false,
  data: { id: 'med-1', name: 'Metoprolol', dose, updatedAt },
  conflictData: null,
  _deleted: false,
});

/** The merge `a` against `b` and `b` against `a`, each as JSON without who merged it. */
const bothWays = (a: PlainRecord, b: PlainRecord): [PlainRecord, PlainRecord] => {
  const writer = { accountId: 'p', deviceId: 'dev-merging' };
  return [resolveRecordConflict(a, b, writer), resolveRecordConflict(b, a, writer)];
};

describe('resolveRecordConflict: the later edit by instant, not by the text of updatedAt', () => {
  // Each pair: [earlier instant, later instant], whose texts sort the other way round.
  const pairs: Array<[string, string, string]> = [
    ['an offset', '2026-01-01T11:00:00+02:00', '2026-01-01T09:30:00Z'],
    ['a negative offset', '2026-01-01T09:30:00.000Z', '2026-01-01T07:00:00-03:00'],
    ['no fraction against one', '2026-01-01T09:45:00Z', '2026-01-01T09:45:00.250Z'],
    ['more fraction digits', '2026-01-01T09:50:00.5Z', '2026-01-01T09:50:00.50001Z'],
  ];

  for (const [name, earlier, latest] of pairs) {
    it(`both edited (${name}): the later instant is the record, whichever side is local`, () => {
      expect(earlier > latest).toBe(true);
      const [old, recent] = [version('dev-a', earlier, '20 mg'), version('dev-b', latest, '5 mg')];
      const [one, other] = bothWays(old, recent);
      expect(one.data['dose']).toBe('5 mg');
      expect(one.updatedAt).toBe(latest);
      expect(one.conflictData).toMatchObject({ dose: '20 mg', _conflictFrom: { author: 'dev-a' } });
      expect(canonicalJson(other)).toBe(canonicalJson(one));
    });

    it(`the same content (${name}): the copy with the later instant is kept, whichever side is local`, () => {
      const [old, recent] = [version('dev-a', earlier, '5 mg'), version('dev-b', latest, '5 mg')];
      // Local `old` against the server's `recent` takes the server's as it is; the other way round the
      // local copy is sent on top of it: the same content and time either way.
      expect(resolveRecordConflict(recent, old)).toBe(recent);
      const sent = resolveRecordConflict(old, recent);
      expect(sent.updatedAt).toBe(latest);
      expect(sent.author).toBe('dev-b');
    });
  }

  it('one instant written two ways: either side local picks the same record', () => {
    for (const [x, y] of [
      ['2026-01-01T10:00:00.5Z', '2026-01-01T10:00:00.500Z'],
      ['2026-01-01T10:00:00Z', '2026-01-01T12:00:00+02:00'],
      ['2026-01-01T10:00:00Z', '2026-01-01T10:00:00+00:00'],
    ] as const) {
      const [one, other] = bothWays(version('dev-a', x, '20 mg'), version('dev-b', y, '5 mg'));
      expect(canonicalJson(other)).toBe(canonicalJson(one));
    }
  });
});

describe('compareInstants', () => {
  it('orders instants as time, then equal instants by their text', () => {
    const written = [
      '2026-01-01T11:00:00+02:00',
      '2026-01-01T09:50:00.5Z',
      '2026-01-01T09:50:00.50001Z',
      '2026-01-01T09:45:00Z',
      '2026-01-01T09:45:00.250Z',
      '2026-01-01T09:50:00.500Z',
      '2026-01-01T07:00:00-03:00',
      '2026-01-01T10:00:00Z',
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999999999Z',
    ];
    expect([...written].sort(compareInstants)).toEqual([
      '0001-01-01T00:00:00Z',
      '2026-01-01T11:00:00+02:00',
      '2026-01-01T09:45:00Z',
      '2026-01-01T09:45:00.250Z',
      // 09:50:00.5, twice: the text decides.
      '2026-01-01T09:50:00.500Z',
      '2026-01-01T09:50:00.5Z',
      '2026-01-01T09:50:00.50001Z',
      // 10:00Z, twice.
      '2026-01-01T07:00:00-03:00',
      '2026-01-01T10:00:00Z',
      '9999-12-31T23:59:59.999999999Z',
    ]);
  });

  it('puts what is no instant before every instant, in text order, and is a total order', () => {
    const values = ['2026-01-01T10:00:00Z', 'Jan 1 2027', '', '2026-13-01T10:00:00Z', '2026-01-01'];
    expect([...values].sort(compareInstants)).toEqual([
      '',
      '2026-01-01',
      '2026-13-01T10:00:00Z',
      'Jan 1 2027',
      '2026-01-01T10:00:00Z',
    ]);
    for (const a of values) {
      for (const b of values) {
        expect(Math.sign(compareInstants(a, b)) + Math.sign(compareInstants(b, a))).toBe(0);
        expect(compareInstants(a, b) === 0).toBe(a === b);
      }
    }
  });
});
