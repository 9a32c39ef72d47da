import { isIsoDateTime } from './formats';

// The model takes an instant with any offset and 1–9 fraction digits (isIsoDateTime), and another build
// or a provider's device may write one so: text order is not time order there (`…11:00:00+02:00` is
// before `…09:30:00Z`, `…:00Z` before `…:00.250Z`). Nor is `Date.parse` of the whole text: ECMA-262
// defines it only for three fraction digits (other counts are up to the engine, and devices run
// different ones), and V8 drops the digits past the millisecond. So the parts are read here: the date
// and time to the second through the defined form, the offset and the fraction (to the nanosecond, so
// two instants within one millisecond still order as time) by hand. Every device orders alike.
const INSTANT_PARTS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** `[seconds since the epoch, nanoseconds]` of an instant the model takes (`isIsoDateTime`), else null. */
const instantOf = (value: string): readonly [number, number] | null => {
  const match = isIsoDateTime(value) ? INSTANT_PARTS_RE.exec(value) : null;
  if (match === null) return null;
  const [, wallClock = '', fraction = '', sign, hours, minutes] = match;
  const offset =
    sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(hours) * 3600 + Number(minutes) * 60);
  return [Date.parse(`${wallClock}Z`) / 1000 - offset, Number(fraction.padEnd(9, '0'))];
};

/**
 * Orders two date-times as the instants they name, earliest first (negative when `a` is earlier); 0 for
 * one instant written two ways (`.5Z` and `.500Z`, `Z` and `+00:00`). A value that is no instant the
 * model takes comes before every instant and ties with any other such: a consistent order for sorting,
 * whose ties the caller breaks.
 */
export const compareInstantTimes = (a: string, b: string): number => {
  const [x, y] = [instantOf(a), instantOf(b)];
  if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
  return x[0] - y[0] || x[1] - y[1];
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
  return x !== null && y !== null && (x[0] - y[0] || x[1] - y[1]) < 0;
};
