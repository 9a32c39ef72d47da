import { afterEach, describe, expect, it } from 'vitest';
import { dayjs } from '../boot/dayjs';
import { formatDay, formatWeekday } from '../boot/dates';
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

  it('a year alone stays a year; a full date reads as a date, in each language’s own order', () => {
    dayjs.locale('en');
    expect(formatDate('2021')).toBe('2021');
    expect(formatDate('2021-06-03')).toBe('Jun 3, 2021');
    dayjs.locale('zh-tw');
    expect(formatDate('2021-06-03')).toBe('2021年6月3日');
    dayjs.locale('zh-cn');
    expect(formatDate('2021-06-03')).toBe('2021年6月3日');
  });

  it('an instant reads as its day and time in this device’s zone; a calendar day in no zone', () => {
    dayjs.locale('en');
    const at = new Date(2026, 2, 2, 20, 30).toISOString();
    expect(formatDate(at)).toBe('Mar 2, 2026, 8:30 PM');
    dayjs.locale('zh-tw');
    expect(formatDate(at)).toBe('2026年3月2日 下午8:30');
    dayjs.locale('en');
    expect(formatDay('2026-03-02', { weekday: true })).toBe('Monday, Mar 2, 2026');
    expect(formatDay(at, { weekday: true, long: true })).toBe('Monday, March 2, 2026');
    expect(formatWeekday(7)).toBe('Sunday');
    dayjs.locale('zh-cn');
    expect(formatWeekday(1)).toBe('星期一');
    expect(formatDate('not a date')).toBe('not a date');
  });
});

describe('formatTimeOfDay', () => {
  afterEach(() => void dayjs.locale('en'));

  it('a schedule’s time as the language writes times; anything else as it is', () => {
    dayjs.locale('en');
    expect(['08:00', '20:30', '00:05'].map(formatTimeOfDay)).toEqual(['8:00 AM', '8:30 PM', '12:05 AM']);
    dayjs.locale('zh-tw');
    expect(formatTimeOfDay('20:30')).toBe('下午8:30');
    expect(['8pm', '25:00', ''].map(formatTimeOfDay)).toEqual(['8pm', '25:00', '']);
  });
});
