// An appointment's time as the care screens say it: the day and the hours in the viewer's zone (with the
// zone's short name), and the clinic's own wall time when its zone differs. Pure over the library's
// ZonedTimes (which follow each zone's daylight-saving rules).
import type { ZonedTime } from '@hale/client';
import { formatDay } from '../../boot/dates';

export interface Times {
  readonly viewer: { readonly start: ZonedTime; readonly end: ZonedTime };
  readonly place: { readonly start: ZonedTime; readonly end: ZonedTime } | null;
}

/** `Monday, Mar 2, 2026` in the app's language (the date as the zone has it). */
export const dayOf = (z: ZonedTime): string => formatDay(z.date, { weekday: true });

export const hoursOf = (start: ZonedTime, end: ZonedTime): string =>
  `${start.time}–${end.time}${end.date !== start.date ? ` (+1)` : ''}`;

export const whenText = (
  times: Times,
): { day: string; hours: string; zone: string; place: string | null } => {
  const { start, end } = times.viewer;
  const place =
    times.place !== null && times.place.start.offset !== start.offset
      ? `${dayOf(times.place.start)} ${hoursOf(times.place.start, times.place.end)} ${times.place.start.zone}`
      : null;
  return { day: dayOf(start), hours: hoursOf(start, end), zone: start.abbreviation || start.offset, place };
};

export const viewerZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;
