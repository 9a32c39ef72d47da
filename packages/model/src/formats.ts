import { FormatRegistry } from '@sinclair/typebox';

// Dates are stored as strings so records stay plain JSON (canonical JSON, encryption, FHIR export).
// Instants must carry a zone so two devices never read the same string as different moments; calendar
// dates (birth date, onset) stay zone-free because moving them across zones would change the day.

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

const daysInMonth = (year: number, month: number): number =>
  month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/** `YYYY-MM-DD` naming a real calendar day (rejects 2023-02-29, 2024-13-01, …). */
export const isIsoDate = (value: string): boolean => {
  const match = DATE_RE.exec(value);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
};

/**
 * RFC 3339 / ISO-8601 instant with an explicit zone: `2024-05-01T09:30:00Z`,
 * `2024-05-01T09:30:00.123+02:00`. Leap seconds (`:60`) are refused because JavaScript dates cannot hold them.
 */
export const isIsoDateTime = (value: string): boolean => {
  const match = DATE_TIME_RE.exec(value);
  if (!match) return false;
  const [, date = '', hour, minute, second, sign, offsetHour, offsetMinute] = match;
  if (!isIsoDate(date)) return false;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return false;
  if (sign !== undefined && (Number(offsetHour) > 23 || Number(offsetMinute) > 59)) return false;
  return true;
};

/**
 * Registers the `date` and `date-time` string formats with TypeBox. Idempotent; called when the record
 * schemas load. It replaces any laxer checker registered under the same names by another module.
 */
export const registerFormats = (): void => {
  FormatRegistry.Set('date', isIsoDate);
  FormatRegistry.Set('date-time', isIsoDateTime);
};
