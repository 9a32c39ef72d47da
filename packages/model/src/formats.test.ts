import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIsoDate, isIsoDateTime } from './formats';

describe('isIsoDate', () => {
  it.each(['2024-02-29', '2000-02-29', '1999-12-31', '0001-01-01'])('accepts %s', (value) => {
    expect(isIsoDate(value)).toBe(true);
  });

  it.each([
    '2023-02-29', // not a leap year
    '1900-02-29', // century, not a leap year
    '2024-04-31',
    '2024-13-01',
    '2024-00-10',
    '2024-01-00',
    '2024-5-1',
    '20240501',
    '2024-05-01T00:00:00Z',
    ' 2024-05-01',
    '',
  ])('rejects %j', (value) => {
    expect(isIsoDate(value)).toBe(false);
  });

  it('accepts the calendar day of any instant', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (date) => isIsoDate(date.toISOString().slice(0, 10)),
      ),
    );
  });
});

describe('isIsoDateTime', () => {
  it.each([
    '2024-05-01T09:30:00Z',
    '2024-05-01T09:30:00.123Z',
    '2024-05-01T09:30:00.123456789+02:00',
    '2024-05-01T23:59:59-11:30',
  ])('accepts %s', (value) => {
    expect(isIsoDateTime(value)).toBe(true);
  });

  it.each([
    '2024-05-01T09:30:00', // no zone: ambiguous between devices
    '2024-05-01 09:30:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T09:60:00Z',
    '2024-05-01T09:30:60Z',
    '2024-02-30T09:30:00Z',
    '2024-05-01T09:30:00+24:00',
    '2024-05-01T09:30:00+02:60',
    '2024-05-01T09:30Z',
    '2024-05-01',
    'yesterday',
    '2024-05-01T09:30:00.Z',
  ])('rejects %j', (value) => {
    expect(isIsoDateTime(value)).toBe(false);
  });

  it('accepts every Date#toISOString output', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (date) => isIsoDateTime(date.toISOString()),
      ),
    );
  });
});
