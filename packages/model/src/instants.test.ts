import { describe, expect, it } from 'vitest';
import {
  compareInstantKeys,
  compareInstantTimes,
  compareInstants,
  endsBefore,
  instantKeyOf,
  isInstantBefore,
} from './instants';

const sign = (n: number): number => Math.sign(n) + 0;

// Earliest first; each pair of neighbours is at most a nanosecond or a few minutes apart and their text
// order is often the other way round.
const ASCENDING = [
  '0001-01-01T00:00:00Z',
  '0001-01-01T09:59:00.000000001+09:59', // 00:00:00.000000001Z
  '1969-12-31T23:59:59.999999999Z',
  '1970-01-01T01:00:00+01:00', // the epoch
  '2026-01-01T10:00:00.1Z',
  '2026-01-01T10:00:00.12Z',
  '2026-01-01T12:00:00.122999999+02:00',
  '2026-01-01T10:00:00.123Z',
  '2026-01-01T10:00:00.123000001Z',
  '2025-12-31T10:01:00.1231-23:59',
  '2026-01-02T09:59:00.12310001+23:59',
  '2026-01-01T10:00:01Z',
  '9999-12-31T23:59:59.999999999Z',
];

describe('compareInstantTimes', () => {
  it('orders every form the model takes as time, to the nanosecond', () => {
    for (const [i, a] of ASCENDING.entries()) {
      for (const [j, b] of ASCENDING.entries()) {
        expect(sign(compareInstantTimes(a, b)), `${a} vs ${b}`).toBe(sign(i - j));
      }
    }
    expect([...ASCENDING].reverse().sort(compareInstantTimes)).toEqual(ASCENDING);
  });

  it('answers 0 for one instant written two ways', () => {
    for (const [a, b] of [
      ['2026-01-01T10:00:00.5Z', '2026-01-01T10:00:00.500000000Z'],
      ['2026-01-01T10:00:00Z', '2026-01-01T10:00:00+00:00'],
      ['2026-01-01T10:00:00Z', '2026-01-01T10:00:00-00:00'],
      ['2026-01-01T10:00:00.123Z', '2026-01-02T09:59:00.123+23:59'],
    ]) {
      expect(compareInstantTimes(a!, b!)).toBe(0);
    }
  });

  it('puts values that are no instant first, tied with each other', () => {
    for (const none of ['', 'yesterday', '2026-01-01', '2026-02-30T10:00:00Z', '2026-01-01T10:00:00']) {
      expect(compareInstantTimes(none, ASCENDING[0]!)).toBeLessThan(0);
      expect(compareInstantTimes(ASCENDING[0]!, none)).toBeGreaterThan(0);
      expect(compareInstantTimes(none, 'another')).toBe(0);
    }
  });
});

describe('compareInstants', () => {
  it('is time order, then text: equal only for equal text', () => {
    expect(sign(compareInstants('2026-01-01T11:00:00+02:00', '2026-01-01T09:30:00Z'))).toBe(-1);
    expect(sign(compareInstants('2026-01-01T10:00:00.500Z', '2026-01-01T10:00:00.5Z'))).toBe(-1);
    expect(sign(compareInstants('2026-01-01T10:00:00.5Z', '2026-01-01T10:00:00.500Z'))).toBe(1);
    expect(sign(compareInstants('b', 'a'))).toBe(1);
    expect(sign(compareInstants('zzz', '0001-01-01T00:00:00Z'))).toBe(-1);
    expect(compareInstants('2026-01-01T10:00:00Z', '2026-01-01T10:00:00Z')).toBe(0);
  });
});

describe('isInstantBefore', () => {
  it('is strictly before, to the nanosecond, in every form', () => {
    for (const [i, a] of ASCENDING.entries()) {
      for (const [j, b] of ASCENDING.entries()) {
        expect(isInstantBefore(a, b), `${a} before ${b}`).toBe(i < j);
      }
    }
    expect(isInstantBefore('2026-01-01T12:00:00.123+02:00', '2026-01-01T10:00:00.123Z')).toBe(false);
  });

  it('is false when either names no instant the model takes, whatever Date.parse makes of it', () => {
    for (const none of ['', 'yesterday', '2026-01-01', '2026-02-30T10:00:00Z', '2026-01-01T24:00:00Z']) {
      expect(isInstantBefore(none, '2027-01-01T00:00:00Z'), none).toBe(false);
      expect(isInstantBefore('2020-01-01T00:00:00Z', none), none).toBe(false);
    }
  });
});

describe('endsBefore', () => {
  it('compares two instants as instants: any offset, to the nanosecond', () => {
    expect(endsBefore('2026-03-01T11:00:00+02:00', '2026-03-01T09:30:00Z')).toBe(true);
    expect(endsBefore('2026-03-01T09:30:00Z', '2026-03-01T11:00:00+02:00')).toBe(false);
    expect(endsBefore('2026-03-01T09:30:00.0001Z', '2026-03-01T09:30:00.0002Z')).toBe(true);
    expect(endsBefore('2026-03-01T09:30:00.0002Z', '2026-03-01T09:30:00.0001Z')).toBe(false);
    expect(endsBefore('2026-03-01T09:30:00.5Z', '2026-03-01T11:30:00.500+02:00')).toBe(false);
    for (const [i, a] of ASCENDING.entries()) {
      for (const [j, b] of ASCENDING.entries()) {
        expect(endsBefore(a, b), `${a} before ${b}`).toBe(i < j);
      }
    }
  });

  it('compares a day, month or year with anything on the part both state, as written', () => {
    expect(endsBefore('2026-03-01', '2026-03-01T08:00:00.0001+02:00')).toBe(false);
    expect(endsBefore('2026-02-28', '2026-03-01T00:30:00+14:00')).toBe(true);
    // 20:00-05:00 is 2 March in UTC; its writer's day is 1 March, before 2 March.
    expect(endsBefore('2026-03-01T20:00:00-05:00', '2026-03-02')).toBe(true);
    expect(endsBefore('2026-03', '2026-03-10')).toBe(false);
    expect(endsBefore('2026-03', '2026')).toBe(false);
    expect(endsBefore('2025', '2026-03-01T00:00:00Z')).toBe(true);
  });

  it('orders keys read once exactly as compareInstants orders their texts', () => {
    const values = [...ASCENDING, 'not an instant', '', '2026-01-01', '2026-01-01T10:00:00.123+00:00'];
    for (const a of values) {
      for (const b of values) {
        expect(sign(compareInstantKeys(instantKeyOf(a), instantKeyOf(b))), `${a} vs ${b}`).toBe(
          sign(compareInstants(a, b)),
        );
      }
    }
  });
});
