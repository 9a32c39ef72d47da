import { afterEach, describe, expect, it } from 'vitest';
import { dayjs } from '../boot/dayjs';
import { formatDate, formatTimeOfDay } from './format';

describe('formatDate', () => {
  afterEach(() => void dayjs.locale('en'));

  it('a year and month read in the language’s own order', () => {
    dayjs.locale('en');
    expect(formatDate('2021-06')).toBe('Jun 2021');
    dayjs.locale('zh-tw');
    expect(formatDate('2021-06')).toBe('2021年6月');
    dayjs.locale('zh-cn');
    expect(formatDate('2021-06')).toBe('2021年6月');
  });

  it('a year alone stays a year; a full date reads as a date', () => {
    dayjs.locale('en');
    expect(formatDate('2021')).toBe('2021');
    expect(formatDate('2021-06-03')).toBe('Jun 3, 2021');
  });
});

describe('formatTimeOfDay', () => {
  afterEach(() => void dayjs.locale('en'));

  it('a schedule’s time as the language writes times; anything else as it is', () => {
    dayjs.locale('en');
    expect(['08:00', '20:30', '00:05'].map(formatTimeOfDay)).toEqual(['8:00 AM', '8:30 PM', '12:05 AM']);
    dayjs.locale('zh-tw');
    expect(formatTimeOfDay('20:30')).toBe(dayjs('2000-01-01T20:30').format('LT'));
    expect(formatTimeOfDay('20:30')).not.toBe('8:30 PM');
    expect(['8pm', '25:00', ''].map(formatTimeOfDay)).toEqual(['8pm', '25:00', '']);
  });
});
