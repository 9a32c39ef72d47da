import { compareParts, instantOf } from './instant-parts';

/**
 * Orders two date-times as the instants they name, earliest first (negative when `a` is earlier); 0 for
 * one instant written two ways (`.5Z` and `.500Z`, `Z` and `+00:00`). A value that is no instant the
 * model takes comes before every instant and ties with any other such: a consistent order for sorting,
 * whose ties the caller breaks.
 */
export const compareInstantTimes = (a: string, b: string): number => {
  const [x, y] = [instantOf(a), instantOf(b)];
  if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
  return compareParts(x, y);
};

/**
 * `compareInstantTimes`, then the text: a total order, equal only for equal text (one instant written two
 * ways, and values that are no instant, order by their text).
 */
export const compareInstants = (a: string, b: string): number =>
  compareInstantTimes(a, b) || (a < b ? -1 : a > b ? 1 : 0);

/**
 * Whether `a` names an instant strictly before the one `b` names. False when either is no instant the
 * model takes: a cutoff judged on a value that names no time must not let it through.
 */
export const isInstantBefore = (a: string, b: string): boolean => {
  const [x, y] = [instantOf(a), instantOf(b)];
  return x !== null && y !== null && compareParts(x, y) < 0;
};

/**
 * Whether date `end` lies wholly before date `start`, both as the schemas take them: an instant (with a
 * zone), a day, or a year or month. Two instants compare as instants (`isInstantBefore`: any offset, to the
 * nanosecond). Otherwise a calendar day has no zone and no time (read as midnight UTC it would put "until
 * 1 May" before "from 1 May, 08:00+02:00"), so the dates compare as written on the part both state: a day
 * against an instant takes the instant's own date, and `2024-05` is before neither `2024-05-10` nor `2024`.
 */
export const endsBefore = (end: string, start: string): boolean => {
  if (end.length > 10 && start.length > 10) return isInstantBefore(end, start);
  const n = Math.min(end.length, start.length, 10);
  return end.slice(0, n) < start.slice(0, n);
};

/** An instant read once for sorting: `compareInstantKeys` on two keys orders as `compareInstants` on their texts. */
export interface InstantKey {
  /** Seconds since the epoch; -Infinity for a value that is no instant the model takes. */
  readonly seconds: number;
  readonly nanos: number;
  readonly text: string;
}

export const instantKeyOf = (value: string): InstantKey => {
  const parts = instantOf(value);
  return parts === null
    ? { seconds: -Infinity, nanos: 0, text: value }
    : { seconds: parts[0], nanos: parts[1], text: value };
};

/** `compareInstants` over keys made by `instantKeyOf`, without reading the texts again. */
export const compareInstantKeys = (a: InstantKey, b: InstantKey): number =>
  a.seconds !== b.seconds
    ? a.seconds < b.seconds
      ? -1
      : 1
    : a.nanos - b.nanos || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0);
