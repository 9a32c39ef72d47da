import { describe, expect, it } from 'vitest';
import { formatDateIn } from './date-in';

describe('a date in a given language, as precise as recorded', () => {
  it('keeps a year a year and a month a month, in each language’s order', () => {
    expect(formatDateIn('2009', 'en')).toBe('2009');
    expect(formatDateIn('2009', 'zh-Hant-TW')).toBe('2009年');
    expect(formatDateIn('2015-03', 'en')).toBe('Mar 2015');
    expect(formatDateIn('2015-03', 'zh-Hant-TW')).toBe('2015年3月');
    expect(formatDateIn('2015-03', 'zh-Hans-CN')).toBe('2015年3月');
  });

  it('reads a day in UTC, so no zone moves it to the day before', () => {
    expect(formatDateIn('2015-03-02', 'en')).toBe('Mar 2, 2015');
    expect(formatDateIn('2015-01-01', 'zh-Hant-TW')).toBe('2015年1月1日');
  });

  it('gives an instant its time, or its day only when asked', () => {
    const noon = '2026-06-15T12:00:00Z';
    expect(formatDateIn(noon, 'en', { day: true })).toBe('Jun 15, 2026');
    expect(formatDateIn(noon, 'en')).toMatch(/^Jun 15, 2026, \d{1,2}:\d{2}\s?[AP]M$/);
  });

  it('shows what it cannot read as it is', () => {
    expect(formatDateIn('sometime in spring', 'en')).toBe('sometime in spring');
    expect(formatDateIn('2015-13-99T', 'en')).toBe('2015-13-99T');
    // No such month or day: not carried over into the next.
    expect(formatDateIn('2015-13', 'en')).toBe('2015-13');
    expect(formatDateIn('2015-02-30', 'en')).toBe('2015-02-30');
  });
});
