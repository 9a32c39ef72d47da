/**
 * A date in a given language, as precise as it was recorded, through `Intl` (the summary and the emergency
 * card say dates in a language that may not be the app's: the card's second column).
 *
 * | value | en | zh-Hant |
 * |---|---|---|
 * | `2009` | 2009 | 2009年 |
 * | `2015-03` | Mar 2015 | 2015年3月 |
 * | `2015-03-02` | Mar 2, 2015 | 2015年3月2日 |
 * | an instant | Mar 2, 2015, 9:30 AM (its day only with `day`) | 2015年3月2日 上午9:30 |
 *
 * Invariants: a year or a month is never widened to a day; a date without a time is read in UTC (no
 * zone moves it to the day before); anything unreadable is shown as it is.
 */

const YEAR = /^(\d{4})$/;
const MONTH = /^(\d{4})-(\d{2})$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The day in UTC, or undefined when there is no such day (month 13, February 30). */
const utcDay = (y: number, m: number, d: number): number | undefined => {
  const at = new Date(Date.UTC(y, m - 1, d));
  return at.getUTCMonth() === m - 1 && at.getUTCDate() === d ? at.getTime() : undefined;
};

const utc = (
  value: string,
  locale: string,
  options: Intl.DateTimeFormatOptions,
  y: number,
  m = 1,
  d = 1,
): string => {
  const at = utcDay(y, m, d);
  return at === undefined
    ? value
    : new Intl.DateTimeFormat(locale, { ...options, timeZone: 'UTC' }).format(at);
};

/** `value` (a FHIR date or dateTime) in `locale` (a BCP 47 tag); `day`: an instant's day only. */
export const formatDateIn = (value: string, locale: string, options: { day?: boolean } = {}): string => {
  const year = YEAR.exec(value);
  if (year) return utc(value, locale, { year: 'numeric' }, Number(year[1]));
  const month = MONTH.exec(value);
  if (month)
    return utc(value, locale, { year: 'numeric', month: 'short' }, Number(month[1]), Number(month[2]));
  const day = DAY.exec(value);
  if (day) return utc(value, locale, { dateStyle: 'medium' }, Number(day[1]), Number(day[2]), Number(day[3]));
  const at = new Date(value);
  if (!value.includes('T') || Number.isNaN(at.getTime())) return value;
  return new Intl.DateTimeFormat(
    locale,
    options.day === true ? { dateStyle: 'medium' } : { dateStyle: 'medium', timeStyle: 'short' },
  ).format(at);
};
