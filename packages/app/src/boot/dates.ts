// Dates and times as the person's language writes them, through `Intl.DateTimeFormat`: "Jun 5, 2021",
// "2021年6月5日", "上午8:10". dayjs stays for arithmetic, parsing and relative times; nothing shown is
// formatted by it.
// - The language is the one dayjs is set to (root.tsx sets both on a language change).
// - A date without a time (`YYYY-MM-DD`, `YYYY-MM`) is the calendar day written, in no time zone.
// - An instant is shown in this device's zone unless a zone is given.
import { dayjs } from './dayjs';

const INTL_LOCALE: Readonly<Record<string, string>> = { 'zh-tw': 'zh-Hant-TW', 'zh-cn': 'zh-Hans-CN' };

/** The BCP 47 tag of the app's language, for `Intl`. */
export const intlLocale = (): string => INTL_LOCALE[dayjs.locale()] ?? 'en-US';

const cache = new Map<string, Intl.DateTimeFormat>();
const formatter = (options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat => {
  const key = `${intlLocale()}|${JSON.stringify(options)}`;
  let f = cache.get(key);
  if (f === undefined) {
    f = new Intl.DateTimeFormat(intlLocale(), options);
    cache.set(key, f);
  }
  return f;
};

const CALENDAR_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar day (`YYYY-MM-DD`) or an instant as the number Intl formats, and the zone to write it in. */
const pointOf = (value: string | number | Date, zone?: string): { at: number; timeZone?: string } | null => {
  if (typeof value === 'string') {
    const day = CALENDAR_DAY.exec(value);
    if (day !== null)
      return { at: Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])), timeZone: 'UTC' };
  }
  const at = typeof value === 'number' ? value : new Date(value).getTime();
  if (Number.isNaN(at)) return null;
  return zone === undefined ? { at } : { at, timeZone: zone };
};

export interface DayOptions {
  /** With the day of the week ("Monday, Mar 2, 2026"). */
  readonly weekday?: boolean;
  /** The month written out ("March 2, 2026"). */
  readonly long?: boolean;
  /** With the time of day. */
  readonly time?: boolean;
  /** The time zone an instant is written in (IANA); this device's by default. */
  readonly zone?: string;
}

/** A day, or a day and time, in the app's language; the input itself when it is not a date. */
export const formatDay = (value: string | number | Date, options: DayOptions = {}): string => {
  const point = pointOf(value, options.zone);
  if (point === null) return String(value);
  const time: Intl.DateTimeFormatOptions =
    options.time === true && point.timeZone !== 'UTC' ? { hour: 'numeric', minute: '2-digit' } : {};
  return formatter({
    year: 'numeric',
    month: options.long === true ? 'long' : 'short',
    day: 'numeric',
    ...(options.weekday === true ? { weekday: 'long' } : {}),
    ...time,
    ...(point.timeZone === undefined ? {} : { timeZone: point.timeZone }),
  }).format(point.at);
};

/** A month of a year (`YYYY-MM`) in the language's own order: "Jun 2021", "2021年6月". */
export const formatMonth = (year: number, month: number): string =>
  formatter({ year: 'numeric', month: 'short', timeZone: 'UTC' }).format(Date.UTC(year, month - 1, 1));

/** The time of day of an instant ("8:10 AM", "上午8:10"); the input itself when it is not one. */
export const formatClock = (value: string | number | Date, zone?: string): string => {
  const point = pointOf(value, zone);
  if (point === null) return String(value);
  return formatter({
    hour: 'numeric',
    minute: '2-digit',
    ...(point.timeZone === undefined ? {} : { timeZone: point.timeZone }),
  }).format(point.at);
};

/** The name of a day of the week, 1 (Monday) to 7 (Sunday): "Monday", "星期一". */
export const formatWeekday = (isoDay: number): string =>
  formatter({ weekday: 'long', timeZone: 'UTC' }).format(Date.UTC(2024, 0, isoDay));
