import { afterEach, describe, expect, it } from 'vitest';
import { dayjs } from '../boot/dayjs';
import { formatDate } from './format';

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
