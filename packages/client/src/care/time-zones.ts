/**
 * Instants and wall times in IANA zones (luxon over the platform's Intl): what an appointment's stored UTC
 * instant is as a clinic's wall time and as the viewer's, and which instant a clinic's wall time names on a
 * date. Daylight-saving changes are the zone's rules, not a fixed offset: 09:00 in Berlin is 08:00Z in
 * winter and 07:00Z in summer.
 *
 * Invariants: instants are written as `toISOString` writes them (UTC, milliseconds, `Z`). A wall time that
 * does not exist on a date (in the hour skipped when clocks go forward) names no instant (null); one that
 * exists twice (the hour repeated when they go back) names the first.
 */
import { DateTime } from 'luxon';
import { CareError } from './errors';

/** Whether `zone` is an IANA zone this platform's calendar knows. */
export const isKnownZone = (zone: string): boolean => DateTime.now().setZone(zone).isValid;

export const requireZone = (zone: string, field = 'timeZone'): string => {
  if (typeof zone !== 'string' || !isKnownZone(zone)) {
    throw new CareError('INVALID_INPUT', `${String(zone)} is not a time zone this device knows`, { field });
  }
  return zone;
};

/** The instant a wall time `HH:MM` on `date` (YYYY-MM-DD) names in `zone`; null when it does not exist. */
export const wallToInstant = (date: string, time: string, zone: string): string | null => {
  const [hour, minute] = [Number(time.slice(0, 2)), Number(time.slice(3, 5))];
  const day = DateTime.fromISO(date, { zone });
  if (!day.isValid) return null;
  const at =
    hour === 24 ? day.plus({ days: 1 }).startOf('day') : day.set({ hour, minute, second: 0, millisecond: 0 });
  // luxon moves a time in a skipped hour forward: such a wall time names no instant.
  if (hour !== 24 && (at.hour !== hour || at.minute !== minute)) return null;
  return at.toUTC().toISO();
};

/** The UTC form of any instant with a zone or offset (`2026-03-02T09:00:00+01:00` → `…T08:00:00.000Z`). */
export const toUtc = (instant: string): string => {
  const at = DateTime.fromISO(instant, { setZone: true });
  if (!at.isValid) throw new CareError('INVALID_INPUT', `${instant} is not an instant`);
  return at.toUTC().toISO() ?? instant;
};

/** An instant as wall time in `zone`: its date, time and the zone's offset then. */
export interface ZonedTime {
  readonly zone: string;
  /** YYYY-MM-DD and HH:MM in the zone. */
  readonly date: string;
  readonly time: string;
  /** ISO weekday, 1 Monday … 7 Sunday. */
  readonly weekday: number;
  /** e.g. `+01:00`, `-04:00`. */
  readonly offset: string;
  /** Short zone name as the locale writes it (`CET`, `GMT+1`). */
  readonly abbreviation: string;
  /** The whole instant in the zone, ISO (`2026-03-02T09:00:00.000+01:00`). */
  readonly iso: string;
}

/**
 * An instant as wall time in an IANA zone.
 *
 * @throws `CareError` `INVALID_INPUT` when the instant or the zone is not one.
 */
export const inZone = (instant: string, zone: string, locale = 'en'): ZonedTime => {
  const at = DateTime.fromISO(instant, { setZone: true }).setZone(zone).setLocale(locale);
  if (!at.isValid) throw new CareError('INVALID_INPUT', `${instant} in ${zone} is no time`);
  return {
    zone,
    date: at.toFormat('yyyy-MM-dd'),
    time: at.toFormat('HH:mm'),
    weekday: at.weekday,
    offset: at.toFormat('ZZ'),
    abbreviation: at.offsetNameShort,
    iso: at.toISO() ?? instant,
  };
};

/** The dates from `from` to `until` (YYYY-MM-DD, both included), in order. */
export const datesBetween = (from: string, until: string): string[] => {
  const out: string[] = [];
  let day = DateTime.fromISO(from, { zone: 'UTC' });
  const last = DateTime.fromISO(until, { zone: 'UTC' });
  while (day.isValid && day <= last && out.length <= 400) {
    out.push(day.toFormat('yyyy-MM-dd'));
    day = day.plus({ days: 1 });
  }
  return out;
};

/** The ISO weekday (1 Monday … 7 Sunday) of a calendar date. */
export const weekdayOf = (date: string): number => DateTime.fromISO(date, { zone: 'UTC' }).weekday;

/** `ms` as an instant as `toISOString` writes it. */
export const iso = (ms: number): string => new Date(ms).toISOString();
